/**
 * What a start creates and says: on a production PostgreSQL (DATABASE_URL) no open `demo` team appears unless
 * DEMO_TEAM=true, and the banner names the MCP endpoints of the teams that exist — never the demo endpoint of a
 * demo team that was deleted. While it starts it already holds its port and answers 503; a database that never
 * answers or is not PostgreSQL is one line naming DATABASE_URL. Runs main.ts's real `startGateway`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { StartupError } from '../../src/config/startup-error.js';
import { describeEndpoints, startGateway } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { LogCapture } from '../helpers/gateway.js';
import { freePort } from '../helpers/oauth-client.js';

const KEY = randomBytes(32).toString('base64');

describe.skipIf(!TEST_DATABASE_URL)('start on PostgreSQL: the demo team and the banner (needs TEST_DATABASE_URL)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  async function startOnce(env: Record<string, string> = {}) {
    const port = await freePort();
    const config = loadConfig({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, DATABASE_URL: tdb.url!, ENCRYPTION_KEY: KEY, ...env });
    const gw = await startGateway(config, { logger: createLogger({ level: 'warn', destination: new LogCapture() }) });
    const banner = describeEndpoints(config, gw);
    await gw.stop();
    return { banner, publicUrl: config.publicUrl };
  }

  it('creates no demo team unless DEMO_TEAM=true, and the banner says how to create the first team', async () => {
    const first = await startOnce();
    expect(await tdb.db.prisma.team.count()).toBe(0);
    expect(first.banner).toContain('No team yet: create one with `switchboard teams create <slug>`');
    expect(first.banner).not.toContain('/t/demo/mcp');

    const asked = await startOnce({ DEMO_TEAM: 'true' });
    expect(await tdb.db.prisma.team.findUnique({ where: { slug: 'demo' } })).toMatchObject({ joinPolicy: 'open' });
    expect(asked.banner).toContain(`MCP endpoint (team demo): ${asked.publicUrl}/t/demo/mcp (also ${asked.publicUrl}/mcp)`);
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT, says tracing is on and where spans go, never the export headers', async () => {
    const logs = new LogCapture();
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: tdb.url!,
      ENCRYPTION_KEY: KEY,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector-user:userinfo-secret@127.0.0.1:9/otlp?api_key=query-secret',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=header-secret',
    });
    const gw = await startGateway(config, { logger: createLogger({ level: 'info', destination: logs }) });
    const banner = describeEndpoints(config, gw);
    await gw.stop();
    expect(logs.text()).toContain('tracing on: spans exported to http://127.0.0.1:9/otlp/v1/traces (http/protobuf)');
    expect(banner).toContain('Tracing: OTLP http/protobuf to http://127.0.0.1:9/otlp/v1/traces (sampler parentbased_always_on)');
    for (const secret of ['userinfo-secret', 'query-secret', 'header-secret']) {
      expect(logs.text()).not.toContain(secret);
      expect(banner).not.toContain(secret);
    }
  });

  it('after the demo team was deleted, names the teams that exist instead', async () => {
    await tdb.db.prisma.team.deleteMany({ where: { slug: 'demo' } });
    for (const slug of ['acme', 'beta', 'gamma', 'delta']) await createTeam(tdb.db.prisma, { slug, name: slug });
    const { banner, publicUrl } = await startOnce({ DEMO_TEAM: 'true' }); // teams exist: nothing is created
    expect(await tdb.db.prisma.team.count()).toBe(4);
    expect(banner).not.toContain('demo');
    expect(banner).toContain(`MCP endpoint (team acme): ${publicUrl}/t/acme/mcp`);
    expect(banner).toContain('… and 1 more team(s)');
  });
});

describe('while it starts', () => {
  it('already holds the port and answers 503 "starting"; a PostgreSQL that never answers is one DATABASE_URL line', { timeout: 30_000 }, async () => {
    // Accepts connections and never says a word: the gateway is stuck opening the database until its timeout.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const dbPort = (silent.address() as { port: number }).port;
    const port = await freePort();
    const config = loadConfig({ PORT: String(port), DATABASE_URL: `postgresql://sb:pw@127.0.0.1:${dbPort}/sb`, ENCRYPTION_KEY: KEY });
    const starting = startGateway(config, { logger: createLogger({ level: 'silent' }) });
    const failed = starting.then(() => undefined, (err: unknown) => err);
    try {
      await expect.poll(() => fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.status, () => 0), { timeout: 4_000, interval: 50 }).toBe(503);
      const res = await fetch(`http://127.0.0.1:${port}/t/demo/mcp`, { method: 'POST' });
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({ status: 'starting' });
      const err = await failed;
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toBe(`Cannot start: DATABASE_URL: no answer from 127.0.0.1:${dbPort} within 5 s; check the host and port in DATABASE_URL and the network`);
      await expect(fetch(`http://127.0.0.1:${port}/ready`)).rejects.toThrow(); // the port is released again
    } finally {
      await failed;
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('something other than PostgreSQL that hangs up at once is one DATABASE_URL line', { timeout: 30_000 }, async () => {
    const rude = createServer((s) => s.destroy());
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', () => r()));
    const dbPort = (rude.address() as { port: number }).port;
    try {
      const config = loadConfig({ PORT: String(await freePort()), DATABASE_URL: `postgresql://sb:pw@127.0.0.1:${dbPort}/sb`, ENCRYPTION_KEY: KEY });
      await expect(startGateway(config, { logger: createLogger({ level: 'silent' }) })).rejects.toThrow(
        `Cannot start: DATABASE_URL: 127.0.0.1:${dbPort} closed the connection at once; check that DATABASE_URL points at PostgreSQL`,
      );
    } finally {
      await new Promise((r) => rude.close(r));
    }
  });
});
