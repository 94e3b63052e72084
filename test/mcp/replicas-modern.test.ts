/**
 * docs/interface.md §3 for 2026-07-28 clients on two replicas of one gateway (one PostgreSQL): the requests of one
 * conversation land in one session row whichever replica serves them; a session ended on one replica is dropped by
 * the other, whose next request of that conversation starts a fresh row; a `subscriptions/listen` stream on one
 * replica hears a tool-server change made through the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { streamText } from '../helpers/mcp-client.js';

const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };

describe.skipIf(!TEST_DATABASE_URL)('2026-07-28 clients on two replicas (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    a = await startTestGateway(tdb.db);
    b = await startTestGateway(await tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: a.url } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await tdb?.drop();
  });

  /** `demo__whoami` in conversation `chat`, on `gw`: the session it was served in. */
  async function whoami(gw: TestGateway, token: string, chat: string): Promise<string> {
    const res = await fetch(`${gw.url}/t/demo/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, authorization: `Bearer ${token}`, 'mcp-method': 'tools/call', 'mcp-name': 'demo__whoami' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo__whoami', arguments: {}, _meta: { ...ENVELOPE, 'openai/session': chat } } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { content: { text: string }[] } };
    return (JSON.parse(body.result.content[0]!.text) as { session: string }).session;
  }

  it('one conversation is one row on either replica; ended on one, the other starts a fresh row for it', async () => {
    const { token, userId } = await tokenFor(a, { email: 'modern-roaming@example.com', clientId: 'chatgpt' });
    const first = await whoami(a, token, 'conv');
    expect(await whoami(b, token, 'conv')).toBe(first);
    expect(await whoami(a, token, 'conv')).toBe(first);
    expect(await tdb.db.prisma.session.count({ where: { userId } })).toBe(1);

    expect(await a.app.sessions.close(first, 'admin')).toBe(true);
    const demo = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    // B learns of the close by NOTIFY and drops its copy.
    await expect.poll(() => b.app.sessions.liveSessionsOfTeam(demo.id).some((s) => s.id === first)).toBe(false);
    const next = await whoami(b, token, 'conv');
    expect(next).not.toBe(first);
    expect(await whoami(a, token, 'conv')).toBe(next);
    const rows = await tdb.db.prisma.session.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.id, r.closeReason, r.protocolVersion])).toEqual([
      [first, 'admin', '2026-07-28'],
      [next, null, '2026-07-28'],
    ]);
  });

  it('a listen stream on B hears a tool-server change made through A', async () => {
    const { token } = await tokenFor(a, { email: 'modern-listener@example.com' });
    const controller = new AbortController();
    const res = await fetch(`${b.url}/t/demo/mcp`, {
      method: 'POST',
      signal: controller.signal,
      headers: { ...HEADERS, authorization: `Bearer ${token}`, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'subscriptions/listen', params: { _meta: ENVELOPE, notifications: { toolsListChanged: true } } }),
    });
    const stream = streamText(res);
    await stream.until('acknowledged');
    const demo = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    await a.app.sessions.toolsChanged(demo.id);
    await stream.until('list_changed');
    expect(stream.text()).toContain('"method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}');
    controller.abort();
  });
});
