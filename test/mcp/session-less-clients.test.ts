/**
 * docs/interface.md §3: ChatGPT's and Claude's connectors as they really behave. Requests that carry no `Mcp-Session-Id`
 * are served in the caller's session for (team, user, OAuth client, chat); a new `initialize` per batch supersedes
 * the conversation's idle session instead of piling up; a bare 2026-07-28 probe (no envelope) gets 400 and leaves nothing.
 * Replayed with raw HTTP (the documented request patterns) and with an SDK client whose transport drops the id.
 */
import { describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { tokenFor, useTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';
import { USE_FLUSH_MS } from '../../src/mcp/session-runtime.js';

const t = useTestGateway();
const endpoint = () => `${t.gw.url}/t/demo/mcp`;

/** A POST as the connectors send it: bearer token, protocol header, never a session id. */
async function post(token: string, body: unknown, extra: Record<string, string> = {}, gw: TestGateway = t.gw) {
  const res = await rawPost(`${gw.url}/t/demo/mcp`, body, { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25', ...extra });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** The JSON-RPC message in a JSON or single-event SSE body. */
function message(text: string): { result?: Record<string, unknown>; error?: { code: number; message: string } } {
  const data = text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data: '))!.slice(6);
  return JSON.parse(data);
}

function whoami(text: string): Record<string, unknown> {
  const r = message(text).result as { structuredContent?: Record<string, unknown>; content: { text: string }[] };
  return r.structuredContent ?? JSON.parse(r.content[0]!.text);
}

const initialize = (token: string, opts: { chat?: string; capabilities?: object; id?: number } = {}) =>
  post(token, {
    ...INIT,
    id: opts.id ?? 1,
    params: {
      ...INIT.params,
      capabilities: opts.capabilities ?? {},
      clientInfo: { name: 'connector', version: '7' },
      ...(opts.chat ? { _meta: { 'openai/session': opts.chat } } : {}),
    },
  });

const whoamiCall = (id: number, chat?: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'demo__whoami', arguments: {}, ...(chat ? { _meta: { 'openai/session': chat } } : {}) },
});

const openSessions = (userId: string) =>
  t.tdb.db.prisma.session.findMany({ where: { userId, closedAt: null }, include: { chat: true }, orderBy: { createdAt: 'asc' } });

describe('Claude-shaped: initialize, then everything without the session id', () => {
  it('is served in the session initialize created, for the right user', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'claude@example.com', clientId: 'claude' });
    const init = await initialize(token);
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id')!;

    expect((await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const list = await post(token, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(list.status).toBe(200);
    expect((message(list.text).result!.tools as { name: string }[]).map((x) => x.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    const call = await post(token, whoamiCall(3));
    expect(call.status).toBe(200);
    expect(whoami(call.text)).toMatchObject({ userId, email: 'claude@example.com', session: sid, chat: null });

    const open = await openSessions(userId);
    expect(open.map((s) => s.id)).toEqual([sid]);
    // Uses are written in batches (`USE_FLUSH_MS`): the row says so shortly after.
    await vi.waitFor(async () => expect((await openSessions(userId))[0]!.clientUse).toBe('implicit'), { timeout: 5 * USE_FLUSH_MS, interval: 50 });
  });

  it('an SDK client whose transport drops the session id works end to end, in one session', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'dropper@example.com' });
    const sent: (string | null)[] = [];
    const dropping: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete('mcp-session-id');
      sent.push(headers.get('mcp-session-id'));
      return fetch(input, { ...init, headers });
    };
    const transport = new StreamableHTTPClientTransport(new URL(endpoint()), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      fetch: dropping,
    });
    const client = new Client({ name: 'forgetful', version: '1' });
    await client.connect(transport);
    expect((await client.listTools()).tools).toHaveLength(2);
    const r = await client.callTool({ name: 'demo__echo', arguments: { text: 'no id' } });
    expect(r.content).toEqual([{ type: 'text', text: 'no id' }]);
    const who = (await client.callTool({ name: 'demo__whoami', arguments: {} })).structuredContent as Record<string, unknown>;
    expect(who).toMatchObject({ userId, session: transport.sessionId });
    expect(sent.every((h) => h === null)).toBe(true);
    expect((await openSessions(userId)).map((s) => s.id)).toEqual([transport.sessionId]);
    await client.close();
  });

  it('a request without any initialize before it starts a session implicitly (protocol 2025-11-25, no capabilities)', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'cold@example.com', clientId: 'cold-client' });
    const call = await post(token, whoamiCall(1));
    expect(call.status).toBe(200);
    const [row] = await openSessions(userId);
    expect(whoami(call.text)).toMatchObject({ userId, session: row!.id });
    expect(row).toMatchObject({ protocolVersion: '2025-11-25', clientCapabilities: {}, clientId: 'cold-client' });
  });

  it('parallel session-less requests of one user share one implicit session', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'burst@example.com', clientId: 'burst' });
    const calls = await Promise.all(Array.from({ length: 6 }, (_, i) => post(token, whoamiCall(i + 1))));
    const sessions = new Set(calls.map((c) => whoami(c.text).session));
    expect(sessions.size).toBe(1);
    expect(await openSessions(userId)).toHaveLength(1);
  });
});

describe('ChatGPT-shaped', () => {
  it('tool plane: initialize, then tools/call without the id but with openai/session → that chat, the client’s capabilities', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'gpt-tools@example.com', clientId: 'chatgpt' });
    const caps = { elicitation: {}, sampling: {} };
    expect((await initialize(token, { capabilities: caps })).status).toBe(200);
    const call = await post(token, whoamiCall(7, 'v1/conv-a'));
    expect(call.status).toBe(200);
    const who = whoami(call.text);
    expect(who).toMatchObject({ userId, chat: 'v1/conv-a' });
    const row = await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: who.session as string }, include: { chat: true } });
    expect(row.chat?.externalId).toBe('v1/conv-a');
    expect(row.clientCapabilities).toEqual(caps);
    expect(row).toMatchObject({ protocolVersion: '2025-11-25', clientName: 'connector', clientVersion: '7', userId, clientId: 'chatgpt' });

    // The audit record names the user and the chat.
    await t.gw.app.audit.flush();
    const audit = await t.tdb.db.prisma.auditRecord.findFirstOrThrow({ where: { sessionId: row.id } });
    expect(audit).toMatchObject({ userId, chat: 'v1/conv-a', target: 'demo__whoami', outcome: 'ok' });

    // A second conversation is a second chat, with its own session; the first keeps its own.
    const other = whoami((await post(token, whoamiCall(8, 'v1/conv-b'))).text);
    expect(other.chat).toBe('v1/conv-b');
    expect(other.session).not.toBe(who.session);
    expect(whoami((await post(token, whoamiCall(9, 'v1/conv-a'))).text).session).toBe(who.session);
  });

  it('batches: 20 × initialize + tools/call in one conversation leave one live session; the others are superseded', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'gpt-batch@example.com', clientId: 'chatgpt' });
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const init = await initialize(token, { chat: 'v1/busy-conv', id: 1 });
      const sid = init.headers.get('mcp-session-id')!;
      // Half the batches send the id back, half do not: the bound holds either way.
      const call = await post(token, whoamiCall(2, 'v1/busy-conv'), i % 2 ? { 'mcp-session-id': sid } : {});
      expect(call.status).toBe(200);
      expect(whoami(call.text).session).toBe(sid);
      seen.push(sid);
    }
    const open = await openSessions(userId);
    expect(open.length).toBeLessThanOrEqual(2);
    expect(open.map((s) => s.id)).toContain(seen.at(-1));
    const superseded = await t.tdb.db.prisma.session.count({ where: { userId, closeReason: 'superseded' } });
    expect(superseded).toBe(20 - open.length);
    // A superseded session's id is now 404, like any closed session.
    const old = await post(token, whoamiCall(3), { 'mcp-session-id': seen[0]! });
    expect(old.status).toBe(404);
    expect(await t.gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_closed_total')).toMatch(/reason="superseded"} (1[89]|20)/);
  });
  it('a session that was given a chat later no longer takes requests without one', async () => {
    const { token } = await tokenFor(t.gw, { email: 'late-chat@example.com', clientId: 'late' });
    const sid = (await initialize(token)).headers.get('mcp-session-id')!;
    expect(whoami((await post(token, whoamiCall(1))).text)).toMatchObject({ session: sid, chat: null });
    expect(whoami((await post(token, whoamiCall(2), { 'mcp-session-id': sid, 'x-chat-id': 'later' })).text)).toMatchObject({ session: sid, chat: 'later' });
    const chatless = whoami((await post(token, whoamiCall(3))).text);
    expect(chatless.chat).toBeNull();
    expect(chatless.session).not.toBe(sid);
    expect(whoami((await post(token, whoamiCall(4), { 'x-chat-id': 'later' })).text).session).toBe(sid);
  });
});

describe('the user as of now', () => {
  it('an e-mail the provider stopped vouching for disappears from live sessions and new ones at once', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'fading@example.com', clientId: 'fade' });
    const sid = (await initialize(token)).headers.get('mcp-session-id')!;
    expect(whoami((await post(token, whoamiCall(1), { 'mcp-session-id': sid })).text)).toMatchObject({ userId, email: 'fading@example.com' });
    // A later sign-in at which the provider no longer vouches for the address clears it (issuer and subject unchanged).
    await t.gw.app.users.upsert(LOCAL_ISSUER, 'fading@example.com', undefined);
    expect(whoami((await post(token, whoamiCall(2), { 'mcp-session-id': sid })).text)).toMatchObject({ userId, email: null });
    expect(whoami((await post(token, whoamiCall(3))).text)).toMatchObject({ userId, email: null });
  });
});

describe('never crossed', () => {
  it('two users interleaved without ids each stay in their own session', async () => {
    const a = await tokenFor(t.gw, { email: 'inter-a@example.com', clientId: 'shared-app' });
    const b = await tokenFor(t.gw, { email: 'inter-b@example.com', clientId: 'shared-app' });
    const sa = (await initialize(a.token)).headers.get('mcp-session-id');
    const sb = (await initialize(b.token)).headers.get('mcp-session-id');
    for (let i = 0; i < 4; i++) {
      const [wa, wb] = await Promise.all([post(a.token, whoamiCall(i)), post(b.token, whoamiCall(i))]);
      expect(whoami(wa.text)).toMatchObject({ userId: a.userId, session: sa });
      expect(whoami(wb.text)).toMatchObject({ userId: b.userId, session: sb });
    }
  });

  it('the same user through another OAuth client or another team gets a session of its own', async () => {
    await t.tdb.db.prisma.team.upsert({ where: { slug: 'second' }, create: { slug: 'second', name: 'Second', joinPolicy: 'open' }, update: {} });
    await t.tdb.db.prisma.toolServer.upsert({
      where: { teamId_name: { teamId: (await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'second' } })).id, name: 'demo' } },
      create: { team: { connect: { slug: 'second' } }, name: 'demo', kind: 'builtin', pack: 'demo' },
      update: {},
    });
    const one = await tokenFor(t.gw, { email: 'multi@example.com', clientId: 'app-one' });
    const two = await tokenFor(t.gw, { email: 'multi@example.com', clientId: 'app-two' });
    const elsewhere = await tokenFor(t.gw, { email: 'multi@example.com', clientId: 'app-one', team: 'second' });
    const s1 = (await initialize(one.token)).headers.get('mcp-session-id');
    const w2 = whoami((await post(two.token, whoamiCall(1))).text);
    expect(w2.session).not.toBe(s1);
    const res = await rawPost(`${t.gw.url}/t/second/mcp`, whoamiCall(1), { authorization: `Bearer ${elsewhere.token}`, 'mcp-protocol-version': '2025-11-25' });
    const w3 = whoami(await res.text());
    expect(w3).toMatchObject({ team: 'second' });
    expect([s1, w2.session]).not.toContain(w3.session);
    expect(whoami((await post(one.token, whoamiCall(2))).text).session).toBe(s1);
  });
});

describe('what stays strict', () => {
  it('a client that sends its id back keeps its session when the same app initializes again (two windows)', async () => {
    const { token } = await tokenFor(t.gw, { email: 'windows@example.com', clientId: 'desktop' });
    const first = await initialize(token);
    const s1 = first.headers.get('mcp-session-id')!;
    const withId = (sid: string) => ({ 'mcp-session-id': sid });
    expect((await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, withId(s1))).status).toBe(202);
    const s2 = (await initialize(token)).headers.get('mcp-session-id')!;
    expect((await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, withId(s2))).status).toBe(202);
    expect(whoami((await post(token, whoamiCall(1), withId(s1))).text).session).toBe(s1);
    expect(whoami((await post(token, whoamiCall(2), withId(s2))).text).session).toBe(s2);
  });

  it('the bare server/discover probe and requests claiming 2026-07-28 without a valid envelope get 400 and create nothing', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'modern@example.com', clientId: 'probe' });
    const probe = await post(token, { jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} }, { 'mcp-protocol-version': '2026-07-28' });
    expect(probe.status).toBe(400);
    // Invalid params (the envelope is missing), not one of the modern codes: the client falls back to initialize.
    expect(message(probe.text).error!.code).toBe(-32602);
    const headerOnly = await post(token, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-protocol-version': '2026-07-28' });
    expect(headerOnly.status).toBe(400);
    const envelope = await post(token, {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    });
    expect(envelope.status).toBe(400);
    expect(await t.tdb.db.prisma.session.count({ where: { userId } })).toBe(0);
  });

  it('an unknown or someone else’s session id is 404, never a fallback to the caller’s own session', async () => {
    const owner = await tokenFor(t.gw, { email: 'strict-owner@example.com' });
    const other = await tokenFor(t.gw, { email: 'strict-other@example.com' });
    const sid = (await initialize(owner.token)).headers.get('mcp-session-id')!;
    await initialize(other.token);
    expect((await post(other.token, whoamiCall(1), { 'mcp-session-id': sid })).status).toBe(404);
    expect((await post(other.token, whoamiCall(1), { 'mcp-session-id': 'no-such-session' })).status).toBe(404);
  });
});
