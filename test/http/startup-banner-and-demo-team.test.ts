/**
 * What a start creates and says: on a production PostgreSQL (DATABASE_URL) no open `demo` team appears unless
 * DEMO_TEAM=true, and the banner names the MCP endpoints of the teams that exist — never the demo endpoint of a
 * demo team that was deleted. Runs main.ts's real `startGateway` on a real PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
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
