/**
 * docs/architecture.md §Reliability and security, for 2026-07-28 clients: with the database down, a conversation whose
 * session this process holds keeps being served; a new conversation (its session row cannot be written) gets 503
 * with Retry-After, not a 500 and no half-made session; once the database is back it is served without a restart.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { useGatewayBehindDatabaseProxy } from '../helpers/database-proxy.js';
import { tokenFor } from '../helpers/gateway.js';

const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

describe.skipIf(!TEST_DATABASE_URL)('database outage, 2026-07-28 era (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  const t = useGatewayBehindDatabaseProxy();

  const echo = (token: string, chat: string, text: string) =>
    fetch(`${t.gw.url}/t/demo/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'demo__echo',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo__echo', arguments: { text }, _meta: { ...ENVELOPE, 'openai/session': chat } } }),
    });

  it('serves the conversations it holds, 503s a new one, and recovers without a restart', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'modern-outage@example.com' });
    const before = await echo(token, 'held', 'before');
    expect(before.status).toBe(200);
    expect((await before.json()).result.content).toEqual([{ type: 'text', text: 'before' }]);

    await t.proxy.stop();
    const held = await echo(token, 'held', 'during');
    expect(held.status).toBe(200);
    expect((await held.json()).result.content).toEqual([{ type: 'text', text: 'during' }]);
    const fresh = await echo(token, 'new-conversation', 'during');
    expect(fresh.status).toBe(503);
    expect(fresh.headers.get('retry-after')).toBeTruthy();
    expect(JSON.stringify(await fresh.json())).not.toMatch(/prisma|postgres|ECONNREFUSED/i);

    await t.proxy.start();
    await expect.poll(async () => (await fetch(`${t.gw.url}/ready`)).status).toBe(200);
    const after = await echo(token, 'new-conversation', 'after');
    expect(after.status).toBe(200);
    const rows = await t.tdb.db.prisma.session.findMany({ where: { userId }, include: { chat: true } });
    expect(rows.map((r) => [r.chat?.externalId, r.protocolVersion]).sort()).toEqual([
      ['held', '2026-07-28'],
      ['new-conversation', '2026-07-28'],
    ]);
  });
});
