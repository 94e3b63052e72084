/**
 * A replica's LISTEN connection drops (a network blip between it and PostgreSQL) while another replica ends a
 * session: the NOTIFY is lost, so once the listener is back the replica must catch up from the database and drop the
 * session itself — including one with an open stream — instead of serving it until its next touch. Replica A reaches
 * PostgreSQL through a TCP proxy the test stops and starts; replica B connects directly.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { startDatabaseProxy, type DatabaseProxy } from '../helpers/database-proxy.js';

describe.skipIf(!TEST_DATABASE_URL)('a replica whose listener was cut catches up (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let proxy: DatabaseProxy;
  let viaProxy: Database;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    proxy = await startDatabaseProxy(tdb.url!);
    viaProxy = await openDatabase({ url: proxy.url, poolSize: 3 });
    a = await startTestGateway(viaProxy);
    b = await startTestGateway(await tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: a.url } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await viaProxy?.close();
    await proxy?.close();
    await tdb?.drop();
  });

  it('a session ended on B while A was cut off is dropped by A once its listener is back', async () => {
    const { token } = await tokenFor(a, { email: 'blip@example.com' });
    // A real client: it keeps a GET stream open on A, so the session is busy there (not merely idle in the cache).
    const { client, transport } = await connectClient(`${a.url}/t/demo/mcp`, token);
    const sid = transport.sessionId!;
    expect(a.app.sessions.size).toBe(1);

    await proxy.stop();
    const del = await fetch(`${b.url}/t/demo/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid } });
    expect(del.status).toBe(200); // B's NOTIFY reaches nobody on A's side of the cut
    expect(a.app.sessions.size).toBe(1);
    await proxy.start();

    await vi.waitFor(() => expect(a.app.sessions.size).toBe(0), { timeout: 20_000 });
    expect(a.logs.text()).toContain('LISTEN connection re-established');
    const call = await rawPost(
      `${a.url}/t/demo/mcp`,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'demo__whoami', arguments: {} } },
      { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
    );
    expect(call.status).toBe(404);
    await client.close();
  });

  it('after the listener is back, NOTIFYs from B reach A again', async () => {
    const { token } = await tokenFor(a, { email: 'after@example.com' });
    const { client, transport } = await connectClient(`${a.url}/t/demo/mcp`, token);
    const del = await fetch(`${b.url}/t/demo/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId! } });
    expect(del.status).toBe(200);
    await vi.waitFor(() => expect(a.app.sessions.size).toBe(0));
    await client.close();
  });
});
