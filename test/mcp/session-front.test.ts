/**
 * A session is answered by its own front end (`mcp/session-front.ts`) and relay (`session-relay.ts`) — there is no
 * SDK server behind it — with the answers an SDK server gives: initialize, notifications, ping, lists, calls, the
 * rarer methods, batches, unknown methods, and the transport's refusals.
 */
import { describe, expect, it } from 'vitest';
import { LATEST_PROTOCOL_VERSION, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';

const t = useGatewayWithUpstream({ slug: 'front', name: 'Front' });

async function session(sessionId: string) {
  const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'front' } });
  return t.gw.app.sessions.liveSessionsOfTeam(team.id).find((s) => s.id === sessionId);
}

/** The JSON-RPC message in an event-stream (or JSON) answer. */
async function messageOf(res: Response): Promise<{ id?: unknown; result?: Record<string, unknown>; error?: unknown }> {
  const text = await res.text();
  const data = text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1];
  return JSON.parse(data!) as { id?: unknown; result?: Record<string, unknown>; error?: unknown };
}

describe('the session front end', () => {
  it('serves a whole ordinary session (as ChatGPT’s connector sends it: POSTs only)', async () => {
    const { token } = await tokenFor(t.gw, { email: 'front@example.com', team: 'front' });
    const url = `${t.gw.url}/t/front/mcp`;
    const auth = { authorization: `Bearer ${token}` };
    const init = await rawPost(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'posts', version: '1' } } }, auth);
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(init.headers.get('content-type')).toBe('text/event-stream');
    expect((await messageOf(init)).result).toEqual({
      protocolVersion: '2025-11-25',
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true, listChanged: true }, completions: {}, logging: {} },
      serverInfo: { name: 'switchboard', title: 'Switchboard MCP gateway', version: '0.1.0' },
    });
    const inSession = { ...auth, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const initialized = await rawPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, inSession);
    expect(initialized.status).toBe(202);
    const list = await messageOf(await rawPost(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, inSession));
    expect((list.result?.tools as { name: string }[]).map((x) => x.name)).toContain('up__echo');
    expect(await messageOf(await rawPost(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, inSession))).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
    const call = await messageOf(await rawPost(url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'hi' } } }, inSession));
    expect(call).toEqual({ jsonrpc: '2.0', id: 4, result: { content: [{ type: 'text', text: 'up:hi' }] } });
    // A late cancellation of that call (it already ended) is taken and changes nothing.
    const late = await rawPost(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 4, reason: 'late' } }, inSession);
    expect(late.status).toBe(202);
  });

  it('negotiates the version as the SDK does: a supported one is kept, another becomes the latest', async () => {
    const { token } = await tokenFor(t.gw, { email: 'versions@example.com', team: 'front' });
    const init = (protocolVersion: string) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'v', version: '1' } } });
    const old = await messageOf(await rawPost(`${t.gw.url}/t/front/mcp`, init('2024-11-05'), { authorization: `Bearer ${token}` }));
    expect(old.result?.protocolVersion).toBe('2024-11-05');
    const unknown = await messageOf(await rawPost(`${t.gw.url}/t/front/mcp`, init('1999-01-01'), { authorization: `Bearer ${token}` }));
    expect(unknown.result?.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
  });

  it('answers the rarer methods too (log level, prompts, resources, completions), and batches, in the session’s state', async () => {
    const { token } = await tokenFor(t.gw, { email: 'builds@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    const sid = transport.sessionId!;
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    await client.setLoggingLevel('debug');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('up__greet');
    expect((await client.getPrompt({ name: 'up__greet', arguments: { who: 'Ada' } })).messages[0]!.content).toEqual({ type: 'text', text: 'Hello Ada from up' });
    expect((await client.readResource({ uri: `switchboard://up/${encodeURIComponent('file:///readme.txt')}` })).contents[0]).toMatchObject({ text: 'readme of up' });
    expect((await client.complete({ ref: { type: 'ref/resource', uri: `switchboard://up/${encodeURIComponent('items://')}{id}${encodeURIComponent('/detail')}` }, argument: { name: 'id', value: 'ap' } })).completion.values).toEqual(['apple', 'apricot']);
    await client.callTool({ name: 'up__progress', arguments: { steps: 2 } });
    expect(logs).toEqual(['step 1', 'step 2']);
    expect((await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } })).logLevel).toBe('debug');

    // A batch (2025-03-26 and before): its requests are answered on one event stream, each with what it sent on the
    // way (the log messages the session's level lets through), an unknown method with "Method not found"; its
    // notifications get nothing.
    const inSession = { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' };
    const batch = await rawPost(
      `${t.gw.url}/t/front/mcp`,
      [
        { jsonrpc: '2.0', id: 'b1', method: 'prompts/list' },
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
        { jsonrpc: '2.0', id: 'b2', method: 'tools/call', params: { name: 'up__progress', arguments: { steps: 2 } } },
        { jsonrpc: '2.0', id: 'b3', method: 'no/such/method' },
      ],
      inSession,
    );
    expect(batch.status).toBe(200);
    expect(batch.headers.get('content-type')).toBe('text/event-stream');
    const events = [...(await batch.text()).matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id?: unknown; method?: string; params?: { data?: unknown }; result?: unknown; error?: unknown });
    const byId = new Map(events.filter((e) => e.id !== undefined).map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual(['b1', 'b2', 'b3']);
    expect(JSON.stringify(byId.get('b1')?.result)).toContain('up__greet');
    expect(byId.get('b2')?.result).toMatchObject({ content: [{ type: 'text' }] });
    expect(byId.get('b3')?.error).toEqual({ code: -32601, message: 'Method not found' });
    expect(events.filter((e) => e.method === 'notifications/message').map((e) => e.params?.data)).toEqual(['step 1', 'step 2']);
    // A batch of notifications only: 202, no body.
    const quiet = await rawPost(`${t.gw.url}/t/front/mcp`, [{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'gone' } }], inSession);
    expect(quiet.status).toBe(202);
    expect(await quiet.text()).toBe('');
    await client.close();
  });

  it('a cancellation sent in a batch reaches a relayed call, as a single one does', async () => {
    const { token } = await tokenFor(t.gw, { email: 'batch-cancel@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    const inSession = { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
    const call = rawPost(`${t.gw.url}/t/front/mcp`, { jsonrpc: '2.0', id: 'long', method: 'tools/call', params: { name: 'up__wait', arguments: { id: 'batch-cancel' } } }, inSession);
    await expect.poll(() => t.up.waiting.includes('batch-cancel')).toBe(true);
    const cancel = await rawPost(`${t.gw.url}/t/front/mcp`, [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'long', reason: 'batched' } }], inSession);
    expect(cancel.status).toBe(202);
    await expect.poll(() => t.up.cancelled.includes('batch-cancel')).toBe(true);
    void call.then((r) => r.body?.cancel()).catch(() => undefined);
    await client.close();
  });

  it('refuses what the transport refuses, in its words: wrong Accept, an unknown version, an oversized batch', async () => {
    const { token } = await tokenFor(t.gw, { email: 'refusals@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    const url = `${t.gw.url}/t/front/mcp`;
    const base = { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const post = async (headers: Record<string, string>, body = ping) => {
      const res = await fetch(url, { method: 'POST', headers: { ...base, ...headers }, body });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const refusal = (message: string) => ({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
    expect(await post({ accept: 'application/json' })).toEqual({ status: 406, body: refusal('Not Acceptable: Client must accept both application/json and text/event-stream') });
    expect(await post({ 'mcp-protocol-version': '1999-01-01' })).toMatchObject({ status: 400, body: refusal(expect.stringMatching(/^Bad Request: Unsupported protocol version: 1999-01-01 \(supported versions: .*2025-11-25/) as unknown as string) });
    const many = JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));
    expect(await post({}, many)).toMatchObject({ status: 400, body: { error: { code: -32600, message: 'Invalid Request: Batch must not exceed 100 messages' } } });
    const get = await fetch(url, { headers: { ...base, accept: 'application/json' } });
    expect(get.status).toBe(406);
    expect(await get.json()).toEqual(refusal('Not Acceptable: Client must accept text/event-stream'));
    // Refused before any session is looked up or made: a request without a session id (which would be placed in a
    // new session of its own) leaves no row behind.
    const { userId } = await tokenFor(t.gw, { email: 'refusals@example.com', team: 'front' });
    const rows = () => t.tdb.db.prisma.session.count({ where: { userId } });
    const before = await rows();
    const { 'mcp-session-id': _sid, ...sessionless } = base;
    const implicit = await fetch(url, { method: 'POST', headers: { ...sessionless, accept: 'application/json', 'x-chat-id': 'refused-chat' }, body: ping });
    expect(implicit.status).toBe(406);
    expect(await rows()).toBe(before);
    // None of them hurt the session.
    await client.ping();
    await client.close();
  });

  it('refuses a request that does not fit its method with -32602, saying what was wrong', async () => {
    const { token } = await tokenFor(t.gw, { email: 'badparams@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    const res = await rawPost(`${t.gw.url}/t/front/mcp`, { jsonrpc: '2.0', id: 5, method: 'prompts/get', params: { name: 42 } }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': '2025-11-25',
    });
    const m = await messageOf(res);
    expect(m.error).toMatchObject({ code: -32602 });
    expect((m.error as { message: string }).message).toMatch(/^Invalid prompts\/get request: params\.name: /);
    // Names of the object machinery are methods nobody serves: method not found, never a fault.
    for (const method of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const odd = await rawPost(`${t.gw.url}/t/front/mcp`, { jsonrpc: '2.0', id: 6, method }, { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' });
      expect(odd.status, method).toBe(200);
      expect((await messageOf(odd)).error, method).toMatchObject({ code: -32601 });
    }
    await client.close();
  });

  it('the session’s own stream: list changes reach it, and a second one is refused (409)', async () => {
    const { token } = await tokenFor(t.gw, { email: 'stream@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await client.listTools();
    const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'front' } });
    // The SDK client's GET stream is open once the session is held with a stream in flight.
    await expect.poll(async () => (await session(transport.sessionId!))?.inFlight).toBe(1);
    await t.gw.app.sessions.toolsChanged(team.id);
    await expect.poll(() => changed).toBe(1);
    const second = await fetch(`${t.gw.url}/t/front/mcp`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
    });
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({ jsonrpc: '2.0', error: { code: -32000, message: 'Conflict: Only one SSE stream is allowed per session' }, id: null });
    await client.close();
  });

  it('refuses a second initialize on a session as the SDK does, and keeps the session', async () => {
    const { token } = await tokenFor(t.gw, { email: 'twice@example.com', team: 'front' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/front/mcp`, token);
    const again = await rawPost(
      `${t.gw.url}/t/front/mcp`,
      { jsonrpc: '2.0', id: 9, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
    );
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('Server already initialized');
    await client.ping();
    await client.close();
  });
});
