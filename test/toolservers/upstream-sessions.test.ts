/**
 * Upstream sessions live with the gateway session (docs/architecture.md §Tool servers): a session rebuilt after a restart or an
 * eviction reuses its stored upstream session (no second initialize upstream); an upstream that forgot the
 * session (404) is re-initialized transparently; ending the gateway session ends the upstream one.
 */
import { describe, expect, it } from 'vitest';
import { startTestGateway, tokenFor } from '../helpers/gateway.js';
import { startSweeper } from '../../src/sessions/sweeper.js';
import { connectClient } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';

const t = useGatewayWithUpstream({ slug: 'rh', name: 'Rehydration' });

const textOf = (r: unknown) => ((r as { content: { text?: string }[] }).content[0]?.text ?? '');
const endpoint = () => `${t.gw.url}/t/rh/mcp`;

async function storedUpstream(sessionId: string): Promise<{ id: string; capabilities?: unknown } | undefined> {
  const row = await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sessionId } });
  return (row.upstreamSessions as Record<string, { id: string; capabilities?: unknown }>).up;
}

describe('upstream sessions', () => {
  it('are stored with the gateway session and reused after a restart, without a second initialize', async () => {
    const { token } = await tokenFor(t.gw, { email: 'r@example.com', team: 'rh' });
    const { client, transport } = await connectClient(endpoint(), token);
    const sid = transport.sessionId!;
    const before = t.up.initializeCount;
    expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: 'one' } }))).toBe('up:one');
    expect(t.up.initializeCount).toBe(before + 1);
    const stored = await storedUpstream(sid);
    expect(stored?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored?.capabilities).toMatchObject({ tools: {} });

    await t.gw.close();
    t.gw = await startTestGateway(t.tdb.db);
    const { token: token2 } = await tokenFor(t.gw, { email: 'r@example.com', team: 'rh' });
    const again = await connectClient(endpoint(), token2, { sessionId: sid });
    t.up.requests.length = 0;
    expect(textOf(await again.client.callTool({ name: 'up__echo', arguments: { text: 'two' } }))).toBe('up:two');
    expect(t.up.initializeCount).toBe(before + 1);
    const call = t.up.requests.find((r) => r.rpcMethod === 'tools/call')!;
    expect(call.sessionId).toBe(stored!.id);
    // The resumed client still knows what the upstream offers (restored, not re-initialized).
    expect((await again.client.listPrompts()).prompts.map((p) => p.name)).toEqual(['up__greet']);

    // Once the client listens, the resumed upstream session's standalone stream is open again (the gateway opens it:
    // no initialize was sent), and what the upstream announces on it reaches the client's own stream.
    const stream = await fetch(endpoint(), { headers: { authorization: `Bearer ${token2}`, accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } });
    expect(stream.status).toBe(200);
    await expect.poll(() => t.up.requests.some((r) => r.httpMethod === 'GET' && r.sessionId === stored!.id)).toBe(true);
    const reader = stream.body!.getReader();
    let seen = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        seen += new TextDecoder().decode(value);
      }
    })().catch(() => undefined);
    // Announced until it arrives: the client's stream may not be registered yet when the first one goes out.
    await expect
      .poll(() => {
        t.up.announceToolsChanged();
        return seen;
      })
      .toContain('notifications/tools/list_changed');
    await reader.cancel();
    await reading;
    await again.client.close();
  });

  it('are reused when an idle session is evicted from memory and rebuilt', async () => {
    const { token } = await tokenFor(t.gw, { email: 'e@example.com', team: 'rh' });
    const { client, transport } = await connectClient(endpoint(), token);
    await client.callTool({ name: 'up__echo', arguments: { text: 'a' } });
    const count = t.up.initializeCount;
    t.gw.app.sessions.evict(transport.sessionId!);
    expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: 'b' } }))).toBe('up:b');
    expect(t.up.initializeCount).toBe(count);
    expect(t.up.deletedSessions).not.toContain((await storedUpstream(transport.sessionId!))!.id);
    await client.close();
  });

  it('an upstream that forgot the session (404) is re-initialized transparently and the new id stored', async () => {
    const { token } = await tokenFor(t.gw, { email: 'x@example.com', team: 'rh' });
    const { client, transport } = await connectClient(endpoint(), token);
    await client.callTool({ name: 'up__echo', arguments: { text: 'a' } });
    const old = (await storedUpstream(transport.sessionId!))!.id;
    const count = t.up.initializeCount;

    t.up.expireSessions();
    expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: 'after expiry' } }))).toBe('up:after expiry');
    expect(t.up.initializeCount).toBe(count + 1);
    const renewed = (await storedUpstream(transport.sessionId!))!.id;
    expect(renewed).not.toBe(old);
    await client.close();
  });

  it('ending the gateway session (DELETE) ends the upstream session too', async () => {
    const { token } = await tokenFor(t.gw, { email: 'd@example.com', team: 'rh' });
    const { client, transport } = await connectClient(endpoint(), token);
    await client.callTool({ name: 'up__echo', arguments: { text: 'a' } });
    const upstreamId = (await storedUpstream(transport.sessionId!))!.id;
    await transport.terminateSession();
    expect(t.up.deletedSessions).toContain(upstreamId);
    await client.close();
  });

  it('expiry closes like every other reason: the upstream session is ended and sessions_closed_total counts it', async () => {
    const { token } = await tokenFor(t.gw, { email: 'exp@example.com', team: 'rh' });
    const { client, transport } = await connectClient(endpoint(), token);
    await client.callTool({ name: 'up__echo', arguments: { text: 'a' } });
    const sid = transport.sessionId!;
    const upstreamId = (await storedUpstream(sid))!.id;
    await t.tdb.db.prisma.session.update({ where: { id: sid }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const sweeper = startSweeper({ db: t.tdb.db, store: t.gw.app.store, runtime: t.gw.app.sessions, logger: t.gw.app.logger, intervalMs: 3_600_000 });
    // A sweep skips a row another transaction holds at that instant (`FOR UPDATE SKIP LOCKED`: the session's use,
    // written in batches, may be landing); the next sweep closes it.
    const closed: string[] = [];
    await expect.poll(async () => (closed.push(...(await sweeper.sweep())), closed)).toContain(sid);
    sweeper.stop();
    expect(t.up.deletedSessions).toContain(upstreamId);
    expect(await t.gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_closed_total')).toMatch(/reason="expired"} 1/);
    await client.close();
  });
});
