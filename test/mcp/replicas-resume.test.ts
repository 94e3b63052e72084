/**
 * docs/architecture.md §Replicas "resumable response streams" (2025-11-25 basic/transports §Resumability): a relayed
 * call's stream opens with a priming event (id, empty data, `retry`); a client that loses it mid-call resumes it
 * with `GET` + `Last-Event-ID` on another replica and gets every event after its last one — no gap, no duplicate, a
 * 50 KB message intact — then the answer. If the replica serving the call is dead, the resumed stream answers the
 * request with an error within the promised 5 s. A notification or a request to the client produced on one replica
 * reaches the session's GET stream held by another.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { useTwoReplicasWithUpstream } from '../fixtures/upstream-server.js';
import { SseReader, type SseEvent } from '../helpers/sse.js';

const LEGACY = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };

describe.skipIf(!TEST_DATABASE_URL)('response streams resumed on another replica (needs TEST_DATABASE_URL)', () => {
  const t = useTwoReplicasWithUpstream({ slug: 'rs', name: 'Resume' });

  const post = (gw: TestGateway, token: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/t/rs/mcp`, { method: 'POST', headers: { ...LEGACY, authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify(body) });
  const resume = (gw: TestGateway, token: string, sid: string, last: string) =>
    fetch(`${gw.url}/t/rs/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', 'last-event-id': last } });

  async function session(gw: TestGateway, email: string): Promise<{ token: string; sid: string }> {
    const { token } = await tokenFor(gw, { email, team: 'rs' });
    const init = await post(gw, token, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    return { token, sid };
  }
  const drops = (events: SseEvent[]) => events.filter((e) => e.message?.method === 'notifications/message').map((e) => String((e.message!.params as { data: string }).data).split(' ').slice(0, 2).join(' '));

  it('a stream cut mid-call on A resumes on B: every event after the last one, once, in order, then the answer', async () => {
    const { token, sid } = await session(t.a, 'cut@example.com');
    const first = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 'long', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 8, gapMs: 120 } } }, { 'mcp-session-id': sid }));
    const priming = (await first.next())!;
    expect(priming).toMatchObject({ data: '', retry: 1_000 });
    expect(priming.id).toMatch(new RegExp(`^${t.a.app.bus.replica}\\.[\\w-]+\\.[\\w-]*:0$`));
    await first.next((e) => e.message?.method === 'notifications/message');
    const second = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.cancel();

    const replay = new SseReader(await resume(t.b, token, sid, second.id!));
    const answer = (await replay.next((e) => e.message?.id === 'long'))!;
    expect(answer.message!.result).toMatchObject({ content: [{ type: 'text', text: 'dripped 8' }] });
    expect([...drops(first.events), ...drops(replay.events)]).toEqual(Array.from({ length: 8 }, (_, i) => `drop ${i + 1}`));
    const seqs = [...first.events, ...replay.events].filter((e) => e.message).map((e) => Number(e.id!.split(':').at(-1)));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(await replay.rest()).toHaveLength(replay.events.length); // the stream ends after the answer
  });

  it('resumed on B while A still holds the old stream open (its close not seen yet): A stops writing there and stores the rest', async () => {
    const { token, sid } = await session(t.a, 'late-close@example.com');
    const first = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 'late', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 6, gapMs: 150 } } }, { 'mcp-session-id': sid }));
    const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    // No cancel: as when a balancer still holds A's connection after the client dropped its own.
    const replay = new SseReader(await resume(t.b, token, sid, one.id!));
    const answer = (await replay.next((e) => e.message?.id === 'late'))!;
    expect(answer.message!.result).toMatchObject({ content: [{ type: 'text', text: 'dripped 6' }] });
    const old = await first.rest(2_000); // A ended the old stream once B's client came back
    const seqOf = (e: SseEvent) => Number(e.id!.split(':').at(-1));
    const onOld = old.filter((e) => e.message).map(seqOf);
    const onNew = replay.events.filter((e) => e.message).map(seqOf);
    // Between them every event once: what A still wrote to the old stream before it knew is replayed from the store.
    expect(onNew[0]).toBe(seqOf(one) + 1);
    expect(onNew).toEqual(onNew.map((_, i) => seqOf(one) + 1 + i));
    expect(onNew.at(-1)).toBe(7);
    expect(Math.max(0, ...onOld)).toBeLessThan(7); // the answer never went to the old stream
  });

  it('a call answered on A to a stream its client had already lost: the client resuming on B is given the answer', async () => {
    const { token, sid } = await session(t.a, 'lost-answer@example.com');
    const first = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 'lost', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 2, gapMs: 100 } } }, { 'mcp-session-id': sid }));
    const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.next((e) => e.message?.id === 'lost'); // A answered; this client pretends it never got it
    const replay = new SseReader(await resume(t.b, token, sid, one.id!));
    const events = await replay.rest();
    expect(drops(events)).toEqual(['drop 2']);
    expect(events.at(-1)!.message).toMatchObject({ id: 'lost', result: { content: [{ type: 'text', text: 'dripped 2' }] } });
  });

  it('a 50 KB message arrives intact through the store and another replica', async () => {
    const { token, sid } = await session(t.a, 'big@example.com');
    const first = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'up__drip', arguments: { count: 3, gapMs: 300, bytes: 50_000 } } }, { 'mcp-session-id': sid }));
    const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.cancel();
    const replay = new SseReader(await resume(t.b, token, sid, one.id!));
    await replay.next((e) => e.message?.id === 2);
    const big = replay.events.filter((e) => e.message?.method === 'notifications/message').map((e) => (e.message!.params as { data: string }).data);
    expect(big).toEqual([`drop 2 ${'x'.repeat(50_000)}`, `drop 3 ${'x'.repeat(50_000)}`]);
  });

  it('another session cannot resume the stream; a Last-Event-ID that is not a response stream opens the GET stream', async () => {
    const alice = await session(t.a, 'alice-rs@example.com');
    const mallory = await session(t.b, 'mallory-rs@example.com');
    const first = new SseReader(await post(t.a, alice.token, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'up__drip', arguments: { count: 4, gapMs: 150 } } }, { 'mcp-session-id': alice.sid }));
    const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.cancel();
    const stolen = new SseReader(await resume(t.b, mallory.token, mallory.sid, one.id!));
    expect(await stolen.rest(5_000)).toEqual([]);
    const own = new SseReader(await resume(t.b, alice.token, alice.sid, one.id!));
    expect((await own.next((e) => e.message?.id === 3))!.message!.result).toBeDefined();
    const plain = await resume(t.b, alice.token, alice.sid, 'not-a-stream-id');
    expect(plain.status).toBe(200);
    await plain.body!.cancel();
  });

  it('a resumed stream whose call is then cancelled (through yet another replica) ends instead of waiting', async () => {
    const { token, sid } = await session(t.a, 'cancel-followed@example.com');
    const first = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 40, gapMs: 200 } } }, { 'mcp-session-id': sid }));
    const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.cancel();
    const replay = new SseReader(await resume(t.b, token, sid, one.id!));
    await replay.next((e) => e.message?.method === 'notifications/message');
    expect((await post(t.b, token, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'c' } }, { 'mcp-session-id': sid })).status).toBe(202);
    const events = await replay.rest(3_000);
    expect(events.some((e) => e.message?.id === 'c')).toBe(false); // a cancelled request is owed no answer
  });

  it('the replica serving the call falls silent: the resumed stream answers with an error within 5 s', async () => {
    const c = await startTestGateway(await t.tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: t.a.url } });
    try {
      const { token, sid } = await session(c, 'silent@example.com');
      const first = new SseReader(await post(c, token, { jsonrpc: '2.0', id: 'orphan', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 40, gapMs: 200 } } }, { 'mcp-session-id': sid }));
      const one = (await first.next((e) => e.message?.method === 'notifications/message'))!;
      await c.app.bus.close(); // no more heartbeats: to the others, C is dead
      await first.cancel();
      const started = Date.now();
      const replay = new SseReader(await resume(t.b, token, sid, one.id!));
      const end = (await replay.next((e) => e.message?.id === 'orphan', 6_000))!;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(end.message!.error).toMatchObject({ code: -32603 });
    } finally {
      await c.close();
    }
  });

  it('a GET stream cut on A resumes on B: what was sent meanwhile is replayed, then what follows, each once', async () => {
    const { token, sid } = await session(t.a, 'get-resume@example.com');
    const openGet = (gw: TestGateway, last?: string) =>
      fetch(`${gw.url}/t/rs/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', ...(last ? { 'last-event-id': last } : {}) } });
    const team = (await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'rs' } })).id;
    const onA = () => t.a.app.sessions.liveSessionsOfTeam(team).find((s) => s.id === sid)!;
    const updated = (e: SseEvent) => e.message?.method === 'notifications/resources/updated';
    const uris = (events: SseEvent[]) => events.filter(updated).map((e) => (e.message!.params as { uri: string }).uri);

    const first = new SseReader(await openGet(t.a));
    expect((await first.next())!).toMatchObject({ data: '', retry: 1_000 });
    onA().hub.resourceUpdated('file:///1');
    onA().hub.resourceUpdated('file:///2');
    const second = (await first.next((e) => updated(e) && (e.message!.params as { uri: string }).uri === 'file:///2'))!;
    expect(second.id).toMatch(/\.G[0-9a-z]+\.:2$/);
    await first.cancel();
    await expect.poll(() => onA().inFlight).toBe(0); // A has seen the stream go
    onA().hub.resourceUpdated('file:///3'); // sent while no stream is open: stored for the client's return
    onA().hub.resourceUpdated('file:///4');

    const again = new SseReader(await openGet(t.b, second.id));
    await again.next((e) => updated(e) && (e.message!.params as { uri: string }).uri === 'file:///4');
    // A replayed message that reaches B again (the old holder broadcast it too, having no stream) is not sent twice —
    // though the store gives it back as jsonb text, keys in another order than the message's own.
    const onB = t.b.app.sessions.liveSessionsOfTeam(team).find((s) => s.id === sid)!;
    expect(await onB.stream.deliver({ method: 'notifications/resources/updated', params: { uri: 'file:///4' } })).toBe(true);
    onA().hub.resourceUpdated('file:///5'); // A no longer holds the stream: broadcast, and B sends it
    await again.next((e) => updated(e) && (e.message!.params as { uri: string }).uri === 'file:///5');
    expect([...uris(first.events), ...uris(again.events)]).toEqual(['file:///1', 'file:///2', 'file:///3', 'file:///4', 'file:///5']);
    const ids = again.events.filter(updated).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    await again.cancel();
  });

  it('a notification produced on B reaches the GET stream held on A; so does a request to the client, answered back to B', async () => {
    const { token, sid } = await session(t.a, 'listener@example.com');
    const get = new SseReader(await fetch(`${t.a.url}/t/rs/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } }));
    // B holds the session too (a request reached it), without the GET stream.
    await (await post(t.b, token, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': sid })).text();
    const started = Date.now();
    const onB = t.b.app.sessions.liveSessionsOfTeam((await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'rs' } })).id).find((s) => s.id === sid)!;
    onB.hub.resourceUpdated('file:///changed.txt');
    const got = (await get.next((e) => e.message?.method === 'notifications/resources/updated', 2_000))!;
    expect(got.message!.params).toEqual({ uri: 'file:///changed.txt' });
    expect(Date.now() - started).toBeLessThan(1_000);

    // A request to the client made on B (as an upstream's standalone stream would): it goes out on A's stream, and
    // the client's answer, posted to A, reaches B.
    const asking = onB.hub.request({ method: 'roots/list' }, { timeoutMs: 5_000 });
    const asked = (await get.next((e) => e.message?.method === 'roots/list', 2_000))!.message!;
    expect(asked.id).toMatch(new RegExp(`^sb-ask:${t.b.app.bus.replica}:\\d+$`));
    expect((await post(t.a, token, { jsonrpc: '2.0', id: asked.id, result: { roots: [{ uri: 'file:///r', name: 'r' }] } }, { 'mcp-session-id': sid })).status).toBe(202);
    expect(await asking).toEqual({ roots: [{ uri: 'file:///r', name: 'r' }] });
    await get.cancel();

    // With no stream open anywhere, the request fails within a second, as it always did on one replica.
    await expect.poll(() => t.a.app.sessions.liveSessionsOfTeam(onB.teamId).find((s) => s.id === sid)?.inFlight ?? 0).toBe(0);
    const refused = Date.now();
    await expect(onB.hub.request({ method: 'roots/list' }, { timeoutMs: 5_000 })).rejects.toThrow(/no stream open/);
    expect(Date.now() - refused).toBeLessThan(2_000);
  });
});
