/**
 * docs/architecture.md §Replicas "requests to the client are routed home": an upstream's elicitation or sampling
 * request during a call held by replica A is answered by the client through replica B, and the call on A completes;
 * a cancellation reaching B stops the call on A; a 2026-07-28 `input_required` retry reaching B resumes the flight
 * parked on A. Another session's client cannot answer in its place, and a forged `requestState` is refused.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { useTwoReplicasWithUpstream } from '../fixtures/upstream-server.js';
import { SseReader } from '../helpers/sse.js';

const LEGACY = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const MODERN = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };
const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: {}, sampling: {} } };

describe.skipIf(!TEST_DATABASE_URL)('requests to the client answered on another replica (needs TEST_DATABASE_URL)', () => {
  const t = useTwoReplicasWithUpstream({ slug: 'rq', name: 'Requests' });

  const post = (gw: TestGateway, token: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/t/rq/mcp`, { method: 'POST', headers: { ...LEGACY, authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify(body) });

  /** A legacy session started on `gw` by a client that declares elicitation and sampling. */
  async function session(gw: TestGateway, email: string): Promise<{ token: string; sid: string }> {
    const { token } = await tokenFor(gw, { email, team: 'rq' });
    const init = await post(gw, token, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {}, sampling: {} }, clientInfo: { name: 't', version: '1' } } });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    await (await post(gw, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid })).text();
    return { token, sid };
  }

  it('elicitation and sampling asked during a call on A are answered through B; the call on A completes', async () => {
    const { token, sid } = await session(t.a, 'legacy-asked@example.com');
    for (const [tool, args, answer, expected] of [
      ['up__ask', {}, { action: 'accept', content: { name: 'Bo' } }, 'elicited: accept {"name":"Bo"}'],
      ['up__sample', { prompt: 'Capital?' }, { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm', stopReason: 'endTurn' }, 'sampled: Paris'],
    ] as const) {
      const stream = new SseReader(await post(t.a, token, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } }, { 'mcp-session-id': sid }));
      const asked = (await stream.next((e) => typeof e.message?.method === 'string'))!.message!;
      expect(asked.id).toBe(`sb-relay:${t.a.app.bus.replica}:${String(asked.id).split(':')[2]}`);
      const res = await post(t.b, token, { jsonrpc: '2.0', id: asked.id, result: answer }, { 'mcp-session-id': sid });
      expect(res.status).toBe(202);
      const done = (await stream.next((e) => e.message?.id === 1))!.message!;
      expect(done.result).toMatchObject({ content: [{ type: 'text', text: expected }] });
    }
  });

  it("another session's client cannot answer in its place, on either replica", async () => {
    const alice = await session(t.a, 'alice-asked@example.com');
    const mallory = await session(t.b, 'mallory-asked@example.com');
    const stream = new SseReader(await post(t.a, alice.token, { jsonrpc: '2.0', id: 'c1', method: 'tools/call', params: { name: 'up__ask', arguments: {} } }, { 'mcp-session-id': alice.sid }));
    const asked = (await stream.next((e) => typeof e.message?.method === 'string'))!.message!;
    const forged = { jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: { name: 'Mallory' } } };
    await (await post(t.b, mallory.token, forged, { 'mcp-session-id': mallory.sid })).text();
    await (await post(t.a, mallory.token, forged, { 'mcp-session-id': mallory.sid })).text();
    // Alice's own session id with Mallory's token is not Mallory's session: 404.
    expect((await post(t.b, mallory.token, forged, { 'mcp-session-id': alice.sid })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 200));
    expect((await post(t.b, alice.token, { jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: { name: 'Alice' } } }, { 'mcp-session-id': alice.sid })).status).toBe(202);
    const done = (await stream.next((e) => e.message?.id === 'c1'))!.message!;
    expect(done.result).toMatchObject({ content: [{ type: 'text', text: 'elicited: accept {"name":"Alice"}' }] });
  });

  it('a cancellation reaching B stops the call running on A', async () => {
    const { token, sid } = await session(t.a, 'cancel-elsewhere@example.com');
    const calls = () => t.up.requests.filter((r) => r.rpcMethod === 'tools/call').length;
    const before = calls();
    const pending = post(t.a, token, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'up__wait', arguments: { id: 'w-elsewhere' } } }, { 'mcp-session-id': sid });
    await expect.poll(calls).toBe(before + 1);
    await expect.poll(() => t.up.waiting, { timeout: 5_000 }).toContain('w-elsewhere');
    const res = await post(t.b, token, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } }, { 'mcp-session-id': sid });
    expect(res.status).toBe(202);
    await expect.poll(() => t.up.cancelled, { timeout: 3_000 }).toContain('w-elsewhere');
    await (await pending).body?.cancel();
  });

  it('2026-07-28: input_required answered on A, retried on B, completes; forged and spent states are refused', async () => {
    const { token } = await tokenFor(t.a, { email: 'modern-asked@example.com', team: 'rq' });
    const call = (gw: TestGateway, id: number, extra: Record<string, unknown> = {}) =>
      fetch(`${gw.url}/t/rq/mcp`, {
        method: 'POST',
        headers: { ...MODERN, authorization: `Bearer ${token}`, 'mcp-method': 'tools/call', 'mcp-name': 'up__ask' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'up__ask', arguments: {}, _meta: ENVELOPE, ...extra } }),
      }).then(async (r) => {
        const text = await r.text();
        return JSON.parse(text.startsWith('{') ? text : text.trim().split('\n').filter((l) => l.startsWith('data: ')).at(-1)!.slice(6)) as { result?: Record<string, unknown>; error?: { code: number } };
      });
    const first = await call(t.a, 1);
    expect(first.result).toMatchObject({ resultType: 'input_required' });
    const state = first.result!.requestState as string;
    expect(state.startsWith(`${t.a.app.bus.replica}.`)).toBe(true);
    const key = Object.keys(first.result!.inputRequests as object)[0]!;
    const answers = { inputResponses: { [key]: { action: 'accept', content: { name: 'Cy' } } } };

    const forged = `${state.slice(0, -2)}${state.endsWith('AA') ? 'AB' : 'AA'}`;
    expect((await call(t.b, 2, { requestState: forged, ...answers })).error?.code).toBe(-32602);
    const done = await call(t.b, 3, { requestState: state, ...answers });
    expect(done.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'elicited: accept {"name":"Cy"}' }] });
    expect((await call(t.b, 4, { requestState: state, ...answers })).error?.code).toBe(-32602);

    // The replica holding a parked flight goes silent (no heartbeats): a retry elsewhere is refused at once, and
    // one forwarded before it fell silent gets an error as soon as it is known dead, instead of hanging.
    const c = await startTestGateway(await t.tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: t.a.url } });
    try {
      const parked = await call(c, 5);
      const silent = parked.result!.requestState as string;
      const again = Object.keys(parked.result!.inputRequests as object)[0]!;
      await c.app.bus.close();
      const started = Date.now();
      const late = await call(t.b, 6, { requestState: silent, inputResponses: { [again]: { action: 'decline' } } });
      expect(Date.now() - started).toBeLessThan(5_000);
      // Either it was still taken for alive (forwarded, then failed when found dead) or refused at once.
      expect(late.error?.code).toBe(-32603);
    } finally {
      await c.close();
    }
  });
});
