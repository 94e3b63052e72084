/**
 * Graceful shutdown (`startGateway(...).stop()`, what SIGTERM runs) on the real HTTP server: a tool call in flight
 * finishes with its real result before sessions and the database are closed; new connections are refused at once
 * and a request arriving on an open connection is answered 503 with `Connection: close` (a balancer retries both
 * elsewhere); the session's standalone GET stream is ended at the start; and shutdown ends by SHUTDOWN_GRACE even
 * when a call never finishes.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { LogCapture, tokenFor, useTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSlowUpstream, SLOW_RESULT, type SlowUpstream } from '../helpers/slow-upstream.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';

const KEY = randomBytes(32);

/** A second session, opened by hand, whose standalone GET stream the test reads itself. */
async function openStandaloneStream(endpoint: string, token: string): Promise<Response> {
  const auth = { authorization: `Bearer ${token}` };
  const init = await rawPost(endpoint, INIT, auth);
  await init.text();
  const sid = init.headers.get('mcp-session-id')!;
  const headers = { ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  expect((await rawPost(endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
  const stream = await fetch(endpoint, { headers: { ...headers, accept: 'text/event-stream' } });
  expect(stream.status).toBe(200);
  return stream;
}

/** A keep-alive connection that has served one request and sits idle; `closed` resolves when the server ends it. */
async function idleKeepAliveSocket(url: string): Promise<{ closed: Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        expect(res.headers.connection).toBe('keep-alive');
        const socket = res.socket;
        res.resume().on('end', () => {
          resolve({ closed: new Promise<void>((r) => (socket.destroyed ? r() : socket.once('close', () => r()))) });
        });
      })
      .on('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!TEST_DATABASE_URL)('graceful shutdown of a running gateway (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let upstream: SlowUpstream | undefined;
  let running: RunningGateway | undefined;

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterEach(async () => {
    upstream?.release();
    await running?.stop();
    await upstream?.close();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  /** A gateway process's worth of wiring (main.ts), with team `slug` whose only tool server is a slow upstream. */
  async function start(slug: string, grace: string) {
    const up = await startSlowUpstream();
    upstream = up;
    const team = await createTeam(tdb.db.prisma, { slug, name: slug });
    await addToolServer(tdb.db.prisma, createSecretBox(KEY), team.id, { name: 'up', kind: 'remote', url: up.url });
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: tdb.url,
      ENCRYPTION_KEY: KEY.toString('base64'),
      SHUTDOWN_GRACE: grace,
      LOG_LEVEL: 'info',
    });
    const logs = new LogCapture();
    running = await startGateway(config, { logger: createLogger({ level: 'info', destination: logs }) });
    const asTest: TestGateway = { ...running, logs, close: async () => undefined };
    const { token } = await tokenFor(asTest, { email: `${slug}@example.com`, team: slug });
    const endpoint = `${running.url}/t/${slug}/mcp`;
    return { gw: running, logs, token, endpoint, upstream: up };
  }

  it('lets a tool call in flight finish with its result, refuses new connections and ends GET streams first', async () => {
    const { gw, logs, token, endpoint, upstream } = await start('drain', '20s');
    const { client, transport } = await connectClient(endpoint, token);
    const stream = await openStandaloneStream(endpoint, token);
    const idle = await idleKeepAliveSocket(`${gw.url}/health`);

    const call = client.callTool({ name: 'up__slow', arguments: {} });
    await upstream.whenStarted;
    let stopped = false;
    const stopping = gw.stop('test').then(() => (stopped = true));

    await expect(fetch(`${gw.url}/health`)).rejects.toThrow(); // the listener is closed: connection refused
    await idle.closed; // and idle keep-alive connections are closed, so nothing new arrives on them
    // The GET stream ended cleanly, without waiting for the drain: nothing on it but its priming event (its id, for resumption).
    expect((await stream.text()).replace(/^id: \S+\nretry: \d+\ndata:\n\n/, '')).toBe('');
    expect(stopped).toBe(false);

    upstream.release();
    const result = await call;
    expect(result.content).toEqual([{ type: 'text', text: SLOW_RESULT }]);
    await stopping;
    expect(logs.text()).toContain('stopped');
    expect(logs.text()).not.toContain('did not finish within SHUTDOWN_GRACE');
    // Sessions were released only after the drain, and the call's audit record was written before the database closed.
    const rows = await tdb.db.sql.query<{ outcome: string }>(`SELECT outcome FROM audit_records WHERE action = 'tool_call' AND target = 'up__slow'`);
    expect(rows).toEqual([{ outcome: 'ok' }]);
    const session = await tdb.db.prisma.session.findUnique({ where: { id: transport.sessionId! } });
    expect(session?.closedAt).toBeNull(); // clients resume on another replica
    running = undefined;
    await client.close().catch(() => undefined);
  });

  it('ends by SHUTDOWN_GRACE when a call in flight does not finish', async () => {
    const { gw, logs, token, endpoint, upstream } = await start('overdue', '1s');
    const { client } = await connectClient(endpoint, token);
    const call = client.callTool({ name: 'up__slow', arguments: {} }).then(
      () => 'answered',
      () => 'cut',
    );
    await upstream.whenStarted;
    const began = Date.now();
    await gw.stop('test');
    expect(Date.now() - began).toBeLessThan(1_000 + 1_000); // the grace period, plus slack for a busy machine
    await client.close().catch(() => undefined);
    expect(await call).toBe('cut');
    expect(logs.text()).toContain('did not finish within SHUTDOWN_GRACE');
    running = undefined;
  });
});

describe('a request that reaches a draining app', () => {
  const t = useTestGateway();

  it('is answered 503 with Retry-After and Connection: close, so a balancer retries it elsewhere', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const get = () =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get(`${t.gw.url}/ready`, { agent }, (res) => resolve(res.resume())).on('error', reject);
      });
    const before = await get();
    expect(before.statusCode).toBe(200);
    expect(before.headers.connection).toBe('keep-alive');

    t.gw.app.drain.begin();
    const after = await get();
    expect(after.statusCode).toBe(503);
    expect(after.headers.connection).toBe('close');
    expect(after.headers['retry-after']).toBe('1');
    agent.destroy();
  });
});

describe('SHUTDOWN_GRACE', () => {
  it('is a duration like the others, 10 s by default; a bad value stops the start naming it', () => {
    expect(loadConfig({}).shutdownGraceMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_GRACE: '30s' }).shutdownGraceMs).toBe(30_000);
    expect(() => loadConfig({ SHUTDOWN_GRACE: 'soon' })).toThrow(/SHUTDOWN_GRACE: "soon" is not a duration/);
  });
});
