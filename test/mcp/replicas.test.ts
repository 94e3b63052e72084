/**
 * docs/interface.md §3: "a session keeps working when another replica receives the request". Two gateway processes' worth
 * of apps on one PostgreSQL: any of them serves any session, and a close on one is honoured by the other at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { TOOL_SERVERS_TTL_MS } from '../../src/mcp/session-runtime.js';

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

  it('session-less requests (Claude, ChatGPT) find the caller’s session on either replica; a re-initialize on B supersedes it on A', async () => {
    const { token, userId } = await tokenFor(a, { email: 'roaming@example.com', clientId: 'claude' });
    const headers = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' };
    const whoami = async (gw: TestGateway, id: number) => {
      const res = await rawPost(`${gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'demo__whoami', arguments: {} } }, headers);
      expect(res.status).toBe(200);
      const text = await res.text();
      const data = JSON.parse(text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
      return data.result.structuredContent as { userId: string; session: string };
    };
    const init = (gw: TestGateway) =>
      rawPost(`${gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'claude-ai', version: '1' } } }, headers);

    const first = await init(a);
    const s1 = first.headers.get('mcp-session-id')!;
    await first.text();
    for (const [i, gw] of [a, b, a, b].entries()) expect(await whoami(gw, i)).toEqual(expect.objectContaining({ userId, session: s1 }));

    const second = await init(b);
    const s2 = second.headers.get('mcp-session-id')!;
    await second.text();
    // B's initialize closed s1 in the database (its use by the client, written in batches, was seen) …
    const row = await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: s1 } });
    expect(row).toMatchObject({ closeReason: 'superseded', clientUse: 'implicit' });
    // … and A hears of it through NOTIFY and drops its copy; both replicas now place the user in s2. (A loaded
    // machine has delayed the notification by seconds.)
    await expect.poll(async () => (await whoami(a, 10)).session, { timeout: 10_000, interval: 100 }).toBe(s2);
    expect((await whoami(b, 11)).session).toBe(s2);
    expect((await call(a, token, s1, 12)).status).toBe(404);
  });
  it('a tool-server change made on A reaches the next new session on B at once (B had its configuration cached)', async () => {
    const { token } = await tokenFor(a, { email: 'config@example.com' });
    const tools = async () => {
      const { client } = await connectClient(`${b.url}/t/demo/mcp`, token);
      const names = (await client.listTools()).tools.map((t) => t.name);
      await client.close();
      return names;
    };
    const before = await tools(); // B now holds the demo team's tool servers
    expect(before.some((n) => n.startsWith('second__'))).toBe(false);
    const team = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    // What the admin API does on A: write the change, then announce it.
    await addToolServer(tdb.db.prisma, a.app.box, team.id, { name: 'second', kind: 'builtin', pack: 'demo' });
    await a.app.sessions.toolsChanged(team.id);
    // Well within the cache's TTL: only the announcement can make B read the configuration again this soon.
    const started = Date.now();
    await expect.poll(async () => (await tools()).some((n) => n.startsWith('second__')), { timeout: TOOL_SERVERS_TTL_MS / 2, interval: 100 }).toBe(true);
    expect(Date.now() - started).toBeLessThan(TOOL_SERVERS_TTL_MS);
  });
});
