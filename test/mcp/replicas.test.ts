/**
 * CONTRACT §3: "a session keeps working when another replica receives the request". Two gateway processes' worth
 * of apps on one PostgreSQL: any of them serves any session, and a close on one is honoured by the other at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';

describe.skipIf(!TEST_DATABASE_URL)('two replicas on one database (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    a = await startTestGateway(tdb.db);
    // Replica B: its own connection pool and listener, its own address, the same database, encryption key and
    // PUBLIC_URL (as replicas behind one load balancer have).
    b = await startTestGateway(await tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: a.url } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await tdb?.drop();
  });

  const call = (gw: TestGateway, token: string, sid: string, id: number) =>
    rawPost(`${gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'demo__whoami', arguments: {} } }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-11-25',
    });

  it('a session started on A is served by B, and a DELETE on B ends it on A too', async () => {
    // One issuer for both: the signing key lives in the shared database.
    const { token } = await tokenFor(a, { email: 'rep@example.com' });
    const { client, transport } = await connectClient(`${a.url}/t/demo/mcp`, token);
    const sid = transport.sessionId!;
    expect(b.app.sessions.size).toBe(0);

    const res = await call(b, token, sid, 1);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(sid);
    expect(b.app.sessions.size).toBe(1);

    const del = await fetch(`${b.url}/t/demo/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    // A learns of it by NOTIFY and drops its copy; its next request is 404.
    const deadline = Date.now() + 3000;
    while (a.app.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(a.app.sessions.size).toBe(0);
    expect((await call(a, token, sid, 2)).status).toBe(404);
    await client.close();
  });
});
