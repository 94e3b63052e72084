/**
 * Issue 9 item 11: "a load balancer retrying refused connections on another replica must see zero failed
 * requests". Two replicas on one PostgreSQL; a balancer in the test sends tool calls to replica A and, when A
 * refuses the connection, closes it, or answers 503, retries on B (as balancers do). A is shut down while calls
 * are flowing and a slow one is in flight on A: every call gets its result.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { LogCapture, tokenFor } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { startSlowUpstream, SLOW_RESULT, type SlowUpstream } from '../helpers/slow-upstream.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!TEST_DATABASE_URL)('shutting a replica down behind a retrying balancer (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let a: RunningGateway;
  let b: RunningGateway;
  let upstream: SlowUpstream;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const ports = [await freePort(), await freePort()];
    const keyBytes = randomBytes(32);
    const key = keyBytes.toString('base64');
    upstream = await startSlowUpstream();
    const team = await createTeam(tdb.db.prisma, { slug: 'lb', name: 'LB', packs: ['demo'] });
    await addToolServer(tdb.db.prisma, createSecretBox(keyBytes), team.id, { name: 'up', kind: 'remote', url: upstream.url });
    // Replicas share PUBLIC_URL (the balancer's address); here it is replica A's.
    const config = (port: number): Config =>
      loadConfig({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${ports[0]}`, DATABASE_URL: tdb.url, ENCRYPTION_KEY: key, LOG_LEVEL: 'warn' });
    const logger = createLogger({ level: 'warn', destination: new LogCapture() });
    a = await startGateway(config(ports[0]!), { logger });
    b = await startGateway(config(ports[1]!), { logger });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    upstream?.release();
    await upstream?.close();
    await tdb?.drop();
  });

  it('loses no tool call while replica A drains', async () => {
    const { token } = await tokenFor({ app: a.app, url: a.url, server: a.server, logs: new LogCapture(), close: async () => undefined }, { email: 'lb@example.com', team: 'lb' });
    const auth = { authorization: `Bearer ${token}` };
    const init = await rawPost(`${a.url}/t/lb/mcp`, INIT, auth);
    await init.text();
    const session = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    expect((await rawPost(`${a.url}/t/lb/mcp`, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);

    /** The balancer: A first; a refused or closed connection or a 503 is retried on B. */
    const balanced = async (body: unknown): Promise<string> => {
      for (const replica of [a, b]) {
        const res = await rawPost(`${replica.url}/t/lb/mcp`, body, session).catch(() => undefined);
        if (!res || res.status === 503) continue;
        return `${res.status} ${await res.text().catch((err: unknown) => `broken response: ${String(err)}`)}`;
      }
      return 'failed on both replicas';
    };

    const slow = balanced({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'up__slow', arguments: {} } });
    await upstream.whenStarted;

    let id = 100;
    const results: string[] = [];
    let stopping: Promise<void> | undefined;
    const worker = async () => {
      for (let i = 0; i < 25; i++) {
        const n = id++;
        if (n === 150) stopping = a.stop('test'); // halfway through, with calls in flight on A
        if (n === 170) upstream.release();
        results.push(await balanced({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'demo__echo', arguments: { text: `call ${n}` } } }));
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    await stopping;

    expect(await slow).toContain(SLOW_RESULT);
    expect(results).toHaveLength(100);
    const failed = results.filter((r) => !r.startsWith('200 ') || !r.includes('call '));
    expect(failed).toEqual([]);
  });
});
