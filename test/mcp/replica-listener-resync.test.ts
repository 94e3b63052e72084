/**
 * A replica's LISTEN connection drops (a network blip between it and PostgreSQL) while another replica ends a
 * session: the NOTIFY is lost, so once the listener is back the replica must catch up from the database and drop the
 * session itself — including one with an open stream — instead of serving it until its next touch. Replica A reaches
 * PostgreSQL through a TCP proxy the test stops and starts; replica B connects directly.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { openDatabase, type Database } from '../../src/db/database.js';

/** A TCP relay to PostgreSQL that can be cut (every connection destroyed, new ones refused) and restored on the same port. */
function relay(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  return {
    get port() {
      return port;
    },
    async up() {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
      port = (server.address() as net.AddressInfo).port;
    },
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server?.close(r));
    },
  };
}

describe.skipIf(!TEST_DATABASE_URL)('a replica whose listener was cut catches up (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let proxy: ReturnType<typeof relay>;
  let viaProxy: Database;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    proxy = relay(new URL(tdb.url!));
    await proxy.up();
    const url = new URL(tdb.url!);
    url.host = `127.0.0.1:${proxy.port}`;
    viaProxy = await openDatabase({ url: url.toString(), poolSize: 3 });
    a = await startTestGateway(viaProxy);
    b = await startTestGateway(await tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: a.url } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await viaProxy?.close();
    await proxy?.down();
    await tdb?.drop();
  });

  it('a session ended on B while A was cut off is dropped by A once its listener is back', async () => {
    const { token } = await tokenFor(a, { email: 'blip@example.com' });
    // A real client: it keeps a GET stream open on A, so the session is busy there (not merely idle in the cache).
    const { client, transport } = await connectClient(`${a.url}/t/demo/mcp`, token);
    const sid = transport.sessionId!;
    expect(a.app.sessions.size).toBe(1);

    await proxy.down();
    const del = await fetch(`${b.url}/t/demo/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid } });
    expect(del.status).toBe(200); // B's NOTIFY reaches nobody on A's side of the cut
    expect(a.app.sessions.size).toBe(1);
    await proxy.up();

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
