/**
 * Tool listings shared by sessions that have no upstream session yet: a handshake (initialize + tools/list) of a new
 * session opens no upstream session when another session of this process already listed that tool server; the
 * first tool call opens one; a session that has one lists through it; the upstream's tools/list_changed drops the
 * shared listing; and with per-user credentials (exchange) two users never share one.
 */
import { describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';

const t = useGatewayWithUpstream({ slug: 'lc', name: 'Listing cache' });
const endpoint = () => `${t.gw.url}/t/lc/mcp`;
const upstreamCalls = (method: string) => t.up.requests.filter((r) => r.rpcMethod === method).length;

async function session(email: string) {
  const { token } = await tokenFor(t.gw, { email, team: 'lc' });
  return connectClient(endpoint(), token);
}

describe('shared tool listings', () => {
  it('a second user’s handshake opens no upstream session (exchange: per user), a second session of one user does not either', async () => {
    const a1 = await session('lc-a@example.com');
    const before = { init: t.up.initializeCount, lists: upstreamCalls('tools/list') };
    expect((await a1.client.listTools()).tools.map((x) => x.name)).toContain('up__echo');
    expect(t.up.initializeCount).toBe(before.init + 1);
    expect(upstreamCalls('tools/list')).toBe(before.lists + 1);

    // The same user in a new session: served from the shared listing, no upstream session opened.
    const a2 = await session('lc-a@example.com');
    expect((await a2.client.listTools()).tools.map((x) => x.name)).toContain('up__echo');
    expect(t.up.initializeCount).toBe(before.init + 1);
    expect(upstreamCalls('tools/list')).toBe(before.lists + 1);

    // Another user: the exchange token carries the user, so the upstream is asked again.
    const b = await session('lc-b@example.com');
    await b.client.listTools();
    expect(t.up.initializeCount).toBe(before.init + 2);
    expect(upstreamCalls('tools/list')).toBe(before.lists + 2);

    // The cached session's first call opens its own upstream session and works.
    const r = await a2.client.callTool({ name: 'up__echo', arguments: { text: 'lazy' } });
    expect(r.content).toEqual([{ type: 'text', text: 'up:lazy' }]);
    expect(t.up.initializeCount).toBe(before.init + 3);
    // Now it has an upstream session, it lists through it.
    await a2.client.listTools();
    expect(upstreamCalls('tools/list')).toBe(before.lists + 3);
    for (const s of [a1, a2, b]) await s.client.close();
  });

  it('the upstream’s tools/list_changed drops the shared listing', async () => {
    const first = await session('lc-c@example.com');
    await first.client.listTools(); // fills the listing; `first` keeps its upstream session and standalone stream
    const lists = upstreamCalls('tools/list');
    const cached = await session('lc-c@example.com');
    await cached.client.listTools();
    expect(upstreamCalls('tools/list')).toBe(lists); // from the shared listing

    t.up.announceToolsChanged();
    await expect.poll(async () => {
      const fresh = await session('lc-c@example.com');
      await fresh.client.listTools();
      await fresh.client.close();
      return upstreamCalls('tools/list');
    }, { timeout: 3000 }).toBeGreaterThan(lists);
    await first.client.close();
    await cached.client.close();
  });

  it('a session that listed from the shared listing is told when the upstream announces a change', async () => {
    const first = await session('lc-d@example.com');
    await first.client.listTools();
    const second = await session('lc-d@example.com');
    const told = new Promise<void>((resolve) => second.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    const lists = upstreamCalls('tools/list');
    await second.client.listTools();
    expect(upstreamCalls('tools/list')).toBe(lists); // shared: `second` has no upstream session of its own
    t.up.announceToolsChanged();
    await told;
    await first.client.close();
    await second.client.close();
  });
});
