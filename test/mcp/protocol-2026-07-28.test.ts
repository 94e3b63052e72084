/**
 * docs/interface.md §3, the 2026-07-28 era on the same URL as the legacy one: an SDK v2 client in `auto` mode stays
 * modern (never sends `initialize`); ChatGPT's flow (probe, then requests carrying `_meta["openai/session"]`) gets one
 * session row per conversation, listed with `protocolVersion` 2026-07-28; `server/discover` writes nothing; the spec's
 * errors for headers and versions; tenancy; request-scoped progress and logs on the request's own event stream; the
 * client's `openai/*` metadata reaches the tool server, the envelope's keys do not.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ElicitResultSchema, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient, streamText } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

const t = useGatewayWithUpstream({ slug: 'modern', name: 'Modern' });
const endpoint = () => `${t.gw.url}/t/modern/mcp`;
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'chatgpt-shaped', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * A tool server that answers with the `_meta` each call arrived with (a legacy, 2025-11-25 server), with a resource
 * clients can subscribe to (`updated()` announces a change to its subscribers).
 */
let metaUpstream: { url: string; updated(): Promise<void>; close(): Promise<void> };
async function startMetaUpstream() {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const subscribers = new Set<McpServer>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      const sid = req.headers['mcp-session-id'] as string | undefined;
      let transport = sid ? transports.get(sid) : undefined;
      if (!transport) {
        const mcp = new McpServer({ name: 'meta', version: '1' }, { capabilities: { resources: { subscribe: true } } });
        mcp.registerTool('show', { description: 'Shows the _meta of the call', inputSchema: { x: z.string().optional() } }, async (_a, extra) => ({
          content: [{ type: 'text' as const, text: JSON.stringify(extra._meta ?? {}) }],
        }));
        mcp.registerResource('config', 'config://app', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'theme=dark' }] }));
        mcp.registerPrompt('confirm', { description: 'Asks the user before it answers' }, async (extra) => {
          const r = await extra.sendRequest({ method: 'elicitation/create', params: { mode: 'form', message: 'Proceed?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } } }, ElicitResultSchema);
          return { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `confirmed: ${JSON.stringify(r.content ?? {})}` } }] };
        });
        mcp.server.setRequestHandler(SubscribeRequestSchema, async () => (subscribers.add(mcp), {}));
        mcp.server.setRequestHandler(UnsubscribeRequestSchema, async () => (subscribers.delete(mcp), {}));
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, created) });
        await mcp.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, body);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    async updated() {
      for (const mcp of subscribers) await mcp.server.sendResourceUpdated({ uri: 'config://app' });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

beforeAll(async () => {
  metaUpstream = await startMetaUpstream();
  const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'modern' } });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'meta', kind: 'remote', url: metaUpstream.url });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'demo', kind: 'builtin', pack: 'demo' });
  await createTeam(t.tdb.db.prisma, { slug: 'other', name: 'Other' });
});
afterAll(async () => {
  await metaUpstream?.close();
});

/** A POST with the 2026-07-28 headers derived from the body (as a conforming client sends them), plus `extra`. */
async function post(token: string, body: { id?: number | string; method: string; params?: Record<string, unknown> }, extra: Record<string, string> = {}, url = endpoint()) {
  const name = body.params?.name ?? body.params?.uri;
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': body.method,
    ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    ...extra,
  };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', sessionHeader: res.headers.get('mcp-session-id'), text };
}

/** The JSON-RPC messages of a JSON or SSE body, in order. */
function messages(text: string): { method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } }[] {
  if (text.startsWith('{')) return [JSON.parse(text)];
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
}
const last = (text: string) => messages(text).at(-1)!;

const call = (id: number, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) => ({
  id,
  method: 'tools/call',
  params: { name, arguments: args, _meta: { ...ENVELOPE, ...meta } },
});

const sessionsOf = (userId: string) => t.tdb.db.prisma.session.findMany({ where: { userId, closedAt: null }, include: { chat: true }, orderBy: { createdAt: 'asc' } });

describe('an SDK v2 client in auto mode', () => {
  it('discovers, stays modern, never sends initialize, and lists and calls tools of every kind', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'v2@example.com', team: 'modern', clientId: 'v2-client' });
    const sent: { method: string | undefined; sessionId: string | null; version: string | null }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : undefined;
      const headers = new Headers(init?.headers);
      sent.push({ method: body?.method, sessionId: headers.get('mcp-session-id'), version: headers.get('mcp-protocol-version') });
      return fetch(input, init);
    };
    const client = new ModernClient({ name: 'v2-auto', version: '2.4.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new ModernTransport(new URL(endpoint()), { fetch: recording, requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, resources: {} });

    const tools = (await client.listTools()).tools.map((x) => x.name);
    expect(tools).toEqual(expect.arrayContaining(['up__echo', 'meta__show', 'demo__whoami']));
    const relayed = await client.callTool({ name: 'up__echo', arguments: { text: 'hi' } });
    expect(relayed.content).toEqual([{ type: 'text', text: 'up:hi' }]);
    const builtin = await client.callTool({ name: 'demo__whoami', arguments: {} });
    const who = (builtin.structuredContent ?? JSON.parse((builtin.content as { text: string }[])[0]!.text)) as Record<string, unknown>;
    expect(who).toMatchObject({ userId, email: 'v2@example.com', team: 'modern' });
    const prompt = await client.getPrompt({ name: 'up__greet', arguments: { who: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello Ada from up');
    await client.close();

    expect(sent.map((s) => s.method)).not.toContain('initialize');
    expect(sent[0]!.method).toBe('server/discover');
    expect(sent.every((s) => s.sessionId === null && s.version === '2026-07-28')).toBe(true);
    const rows = await sessionsOf(userId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ protocolVersion: '2026-07-28', clientName: 'v2-auto', clientVersion: '2.4.0', chatId: null });
    expect(who.session).toBe(rows[0]!.id);
  });
});

describe('ChatGPT-shaped: probe, then requests carrying _meta["openai/session"]', () => {
  it('discover answers 200 with both eras and the team capabilities, writing nothing', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'probe@example.com', team: 'modern', clientId: 'chatgpt' });
    const probe = await post(token, { id: 'discover-1', method: 'server/discover', params: { _meta: ENVELOPE } });
    expect(probe.status).toBe(200);
    expect(probe.sessionHeader).toBeNull();
    const result = last(probe.text).result!;
    expect(result).toMatchObject({ resultType: 'complete', capabilities: { tools: {}, prompts: {}, resources: {}, completions: {} } });
    expect(result.supportedVersions).toEqual(expect.arrayContaining(['2026-07-28', '2025-11-25', '2025-06-18']));
    expect((result._meta as Record<string, { name: string }>)['io.modelcontextprotocol/serverInfo']!.name).toBe('switchboard');
    expect(await t.tdb.db.prisma.session.count({ where: { userId } })).toBe(0);
  });

  it('one conversation is one session row, two conversations two, listed with their protocol version', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'chatgpt@example.com', team: 'modern', clientId: 'chatgpt' });
    expect((await post(token, { id: 1, method: 'server/discover', params: { _meta: ENVELOPE } })).status).toBe(200);
    const conv = (chat: string) => ({ 'openai/session': chat });
    const list = await post(token, { id: 2, method: 'tools/list', params: { _meta: { ...ENVELOPE, ...conv('conv-a') } } });
    expect(list.status).toBe(200);
    expect(last(list.text).result).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });
    const a1 = await post(token, call(3, 'demo__whoami', {}, conv('conv-a')));
    const a2 = await post(token, call(4, 'up__echo', { text: 'x' }, conv('conv-a')));
    const b1 = await post(token, call(5, 'demo__whoami', {}, conv('conv-b')));
    for (const r of [a1, a2, b1]) expect(r.status).toBe(200);
    expect(last(a2.text).result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'up:x' }] });
    const whoA = JSON.parse((last(a1.text).result!.content as { text: string }[])[0]!.text) as { session: string; chat: string };
    const whoB = JSON.parse((last(b1.text).result!.content as { text: string }[])[0]!.text) as { session: string; chat: string };
    expect(whoA.chat).toBe('conv-a');
    expect(whoB.chat).toBe('conv-b');
    expect(whoA.session).not.toBe(whoB.session);

    const rows = await sessionsOf(userId);
    expect(rows.map((r) => [r.id, r.chat?.externalId, r.protocolVersion])).toEqual([
      [whoA.session, 'conv-a', '2026-07-28'],
      [whoB.session, 'conv-b', '2026-07-28'],
    ]);
    const listed = await fetch(`${t.gw.url}/t/modern/sessions`, { headers: { authorization: `Bearer ${token}` } });
    const items = ((await listed.json()) as { items: { id: string; chatId: string; protocolVersion: string; clientName: string }[] }).items;
    expect(items.map((i) => [i.chatId, i.protocolVersion, i.clientName]).sort()).toEqual([
      ['conv-a', '2026-07-28', 'chatgpt-shaped'],
      ['conv-b', '2026-07-28', 'chatgpt-shaped'],
    ]);
    await t.gw.app.audit.flush();
    const audit = await t.tdb.db.prisma.auditRecord.findMany({ where: { userId, action: 'tool_call' } });
    expect(audit.map((r) => [r.target, r.sessionId]).sort()).toEqual(
      [
        ['demo__whoami', whoA.session],
        ['demo__whoami', whoB.session],
        ['up__echo', whoA.session],
      ].sort(),
    );
  });

  it('the chat header groups requests as openai/session does', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'header-chat@example.com', team: 'modern', clientId: 'claude' });
    for (let i = 0; i < 3; i++) expect((await post(token, call(i, 'demo__echo', { text: 'x' }), { 'x-chat-id': 'chat-h' })).status).toBe(200);
    const rows = await sessionsOf(userId);
    expect(rows.map((r) => r.chat?.externalId)).toEqual(['chat-h']);
  });
});

describe('errors of the 2026-07-28 transport, none of which writes a row', () => {
  it('answers header mismatches, missing headers, bad envelopes, versions and unknown methods as the spec says', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'errors@example.com', team: 'modern', clientId: 'err' });
    const list = { id: 7, method: 'tools/list', params: { _meta: ENVELOPE } };
    const expectError = async (r: Awaited<ReturnType<typeof post>>, status: number, code: number) => {
      expect(r.status, r.text).toBe(status);
      const m = last(r.text);
      expect(m.error!.code, r.text).toBe(code);
      return m;
    };
    await expectError(await post(token, list, { 'mcp-method': 'tools/call' }), 400, -32020);
    await expectError(await post(token, list, { 'mcp-method': '' }), 400, -32020);
    await expectError(await post(token, list, { 'mcp-protocol-version': '' }), 400, -32020);
    await expectError(await post(token, list, { 'mcp-protocol-version': '2025-11-25' }), 400, -32020);
    await expectError(await post(token, call(8, 'demo__echo', { text: 'x' }), { 'mcp-name': 'demo__whoami' }), 400, -32020);
    await expectError(await post(token, call(8, 'demo__echo', { text: 'x' }), { 'mcp-name': '' }), 400, -32020);
    const future = { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
    const unsupported = await expectError(await post(token, { id: 10, method: 'tools/list', params: { _meta: future } }, { 'mcp-protocol-version': '2099-01-01' }), 400, -32022);
    expect(unsupported.error!.data).toMatchObject({ requested: '2099-01-01', supported: expect.arrayContaining(['2026-07-28', '2025-11-25']) });
    const noCapabilities = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
    await expectError(await post(token, { id: 11, method: 'tools/list', params: { _meta: noCapabilities } }), 400, -32602);
    // ChatGPT's bare probe: the modern header without the envelope (400 without a modern error code: clients fall back).
    await expectError(await post(token, { id: 12, method: 'server/discover', params: {} }), 400, -32602);
    await expectError(await post(token, { id: 13, method: 'initialize', params: { _meta: ENVELOPE } }), 404, -32601);
    await expectError(await post(token, { id: 14, method: 'resources/subscribe', params: { uri: 'x', _meta: ENVELOPE } }), 404, -32601);
    await expectError(await post(token, call(15, 'demo__echo', {}, { 'openai/session': 'x'.repeat(201) })), 400, -32602);
    await expectError(await post(token, { id: 16, method: 'tools/list', params: { _meta: { ...ENVELOPE, 'io.modelcontextprotocol/logLevel': 'loud' } } }), 400, -32602);
    const badParams = await post(token, { id: 17, method: 'tools/call', params: { _meta: ENVELOPE, arguments: {} } }, { 'mcp-name': '' });
    expect(badParams.status).toBe(200);
    expect(last(badParams.text).error!.code).toBe(-32602);
    expect(await t.tdb.db.prisma.session.count({ where: { userId } })).toBe(0);
  });

  it('Mcp-Name in its Base64 sentinel form is decoded before it is compared', async () => {
    const { token } = await tokenFor(t.gw, { email: 'sentinel@example.com', team: 'modern' });
    const encoded = await post(token, call(1, 'demo__echo', { text: 'x' }), { 'mcp-name': `=?base64?${Buffer.from('demo__echo').toString('base64')}?=` });
    expect(encoded.status).toBe(200);
    expect(last(encoded.text).result!.content).toEqual([{ type: 'text', text: 'x' }]);
    const broken = await post(token, call(2, 'demo__echo', { text: 'x' }), { 'mcp-name': '=?base64?not base64?=' });
    expect(broken.status).toBe(400);
  });

  it('a modern notification is accepted and dropped; no Mcp-Session-Id is ever sent', async () => {
    const { token } = await tokenFor(t.gw, { email: 'notify@example.com', team: 'modern' });
    const res = await fetch(endpoint(), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }),
    });
    expect(res.status).toBe(202);
    const listed = await post(token, { id: 1, method: 'tools/list', params: { _meta: ENVELOPE } });
    expect(listed.sessionHeader).toBeNull();
  });
});

describe('the same front door as legacy requests', () => {
  it('no token is 401 with the resource metadata, a foreign Origin 403, and a preflight allows the 2026-07-28 headers', async () => {
    const probe = { id: 1, method: 'server/discover', params: { _meta: ENVELOPE } };
    const anonymous = await post('', probe, { authorization: '' });
    expect(anonymous.status).toBe(401);
    const { token } = await tokenFor(t.gw, { email: 'door@example.com', team: 'modern' });
    expect((await post(token, probe, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(token, probe, { origin: 'https://chatgpt.com' })).status).toBe(200);
    const preflight = await fetch(endpoint(), {
      method: 'OPTIONS',
      headers: { origin: 'https://chatgpt.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Mcp-Method.*Mcp-Name/i);
  });
});

describe('tenancy', () => {
  it('a token for one team is refused at another team’s URL, on the modern path too', async () => {
    const { token } = await tokenFor(t.gw, { email: 'tenant@example.com', team: 'modern' });
    const r = await post(token, { id: 1, method: 'server/discover', params: { _meta: ENVELOPE } }, {}, `${t.gw.url}/t/other/mcp`);
    expect(r.status).toBe(401);
    const r2 = await post(token, call(2, 'demo__whoami', {}, { 'openai/session': 'shared' }), {}, `${t.gw.url}/t/other/mcp`);
    expect(r2.status).toBe(401);
  });

  it('two users (or two clients) with the same openai/session never share a session', async () => {
    const alice = await tokenFor(t.gw, { email: 'alice-modern@example.com', team: 'modern', clientId: 'chatgpt' });
    const bob = await tokenFor(t.gw, { email: 'bob-modern@example.com', team: 'modern', clientId: 'chatgpt' });
    const aliceOther = await tokenFor(t.gw, { email: 'alice-modern@example.com', team: 'modern', clientId: 'another-client' });
    const who = async (token: string) => JSON.parse((last((await post(token, call(1, 'demo__whoami', {}, { 'openai/session': 'same-chat' }))).text).result!.content as { text: string }[])[0]!.text) as { userId: string; session: string };
    const a = await who(alice.token);
    const b = await who(bob.token);
    const c = await who(aliceOther.token);
    expect(a.userId).toBe(alice.userId);
    expect(b.userId).toBe(bob.userId);
    expect(new Set([a.session, b.session, c.session]).size).toBe(3);
    expect(await who(alice.token)).toEqual(a);
    // A session id sent along (someone else's, or any) selects nothing on this era: it is ignored.
    const ignored = await post(bob.token, call(2, 'demo__whoami', {}, { 'openai/session': 'same-chat' }), { 'mcp-session-id': a.session });
    expect(JSON.parse((last(ignored.text).result!.content as { text: string }[])[0]!.text)).toMatchObject({ userId: bob.userId, session: b.session });
  });

  it('a modern request never lands in a legacy session of the same conversation', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'both-eras@example.com', team: 'modern', clientId: 'both' });
    const { client } = await connectClient(endpoint(), token, { headers: { 'x-chat-id': 'c1' } });
    await client.callTool({ name: 'demo__echo', arguments: { text: 'y' } });
    const r = await post(token, call(2, 'demo__whoami', {}, { 'openai/session': 'c1' }));
    const session = (JSON.parse((last(r.text).result!.content as { text: string }[])[0]!.text) as { session: string }).session;
    await client.close();
    const rows = await t.tdb.db.prisma.session.findMany({ where: { userId, closedAt: null }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((row) => [row.protocolVersion, row.id === session])).toEqual([
      ['2025-11-25', false],
      ['2026-07-28', true],
    ]);
  });

  it('a legacy request without a session id never lands in a modern session of the same conversation', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'modern-first@example.com', team: 'modern', clientId: 'both-ways' });
    const modern = await post(token, call(1, 'demo__whoami', {}, { 'openai/session': 'c2' }));
    const modernSession = (JSON.parse((last(modern.text).result!.content as { text: string }[])[0]!.text) as { session: string }).session;
    // A legacy POST of the same client and chat, without Mcp-Session-Id: its own (implicit) session, not the modern one.
    const legacy = await fetch(endpoint(), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', 'x-chat-id': 'c2' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'demo__whoami', arguments: {} } }),
    });
    const text = await legacy.text();
    const data = text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data: '))!.slice(6);
    const legacySession = (JSON.parse((JSON.parse(data).result.content as { text: string }[])[0]!.text) as { session: string }).session;
    expect(legacySession).not.toBe(modernSession);
    const rows = await t.tdb.db.prisma.session.findMany({ where: { userId, closedAt: null }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((row) => [row.protocolVersion, row.id])).toEqual([
      ['2026-07-28', modernSession],
      ['2025-11-25', legacySession],
    ]);
  });
});

describe('subscriptions/listen', () => {
  it('delivers tool-list changes of the team and updates of subscribed resources, stamped with the subscription id', async () => {
    const { token } = await tokenFor(t.gw, { email: 'listener@example.com', team: 'modern' });
    const client = new ModernClient({ name: 'v2-listener', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new ModernTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } });
    const config = 'switchboard://meta/config%3A%2F%2Fapp';
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain(config);
    const heard: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', async () => void heard.push('tools'));
    client.setNotificationHandler('notifications/resources/updated', async (n) => void heard.push(`updated ${n.params.uri}`));
    const sub = await client.listen({ toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: [config, 'switchboard://up/nothing'] });
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: [config] });

    const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'modern' } });
    await t.gw.app.sessions.toolsChanged(team.id);
    await expect.poll(() => heard).toContain('tools');
    // The tool-server change moved the upstream session's stream to the session's new connections; announced until
    // it arrives (the upstream stream opens asynchronously, as the client's listen did at first).
    await expect
      .poll(async () => {
        await metaUpstream.updated();
        return heard;
      }, { timeout: 5_000 })
      .toContain(`updated ${config}`);
    await sub.close();
    expect(await sub.closed).toBe('local');
    await client.close();
  });

  it('refuses a listen without a filter, in-band', async () => {
    const { token } = await tokenFor(t.gw, { email: 'listener2@example.com', team: 'modern' });
    const r = await post(token, { id: 1, method: 'subscriptions/listen', params: { _meta: ENVELOPE } });
    expect(r.status).toBe(200);
    expect(last(r.text).error!.code).toBe(-32602);
  });

  it('a listen stream ends gracefully, with its final result, when its session is ended', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'listener3@example.com', team: 'modern' });
    const controller = new AbortController();
    const res = await fetch(endpoint(), {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { _meta: ENVELOPE, notifications: { toolsListChanged: true } } }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const stream = streamText(res);
    await stream.until('acknowledged');
    // A long-lived stream, not work in flight: a graceful shutdown does not wait for it (it ends it at once).
    expect(t.gw.app.drain.inFlight).toBe(0);
    expect(messages(stream.text())[0]).toMatchObject({ method: 'notifications/subscriptions/acknowledged', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-1' } } });
    const [row] = await sessionsOf(userId);
    expect(await t.gw.app.sessions.close(row!.id, 'admin')).toBe(true);
    await stream.until('"result"');
    expect(messages(stream.text()).at(-1)).toMatchObject({ id: 'sub-1', result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-1' } } });
    controller.abort();
  });
});

describe('requests of tool servers to the client (input_required)', () => {
  it('an SDK v2 client answers elicitation, sampling and roots through input_required rounds and gets the tool results', async () => {
    const { token } = await tokenFor(t.gw, { email: 'inputs@example.com', team: 'modern' });
    const client = new ModernClient({ name: 'v2-inputs', version: '1' }, { versionNegotiation: { mode: 'auto' }, capabilities: { elicitation: {}, sampling: {}, roots: {} } });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (r) => (asked.push(r.method), { action: 'accept', content: { name: 'Ada' } }));
    client.setRequestHandler('sampling/createMessage', async (r) => (asked.push(r.method), { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test', stopReason: 'endTurn' }));
    client.setRequestHandler('roots/list', async (r) => (asked.push(r.method), { roots: [{ uri: 'file:///work', name: 'work' }] }));
    await client.connect(new ModernTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect((await client.callTool({ name: 'up__ask', arguments: {} })).content).toEqual([{ type: 'text', text: 'elicited: accept {"name":"Ada"}' }]);
    expect((await client.callTool({ name: 'up__sample', arguments: { prompt: 'Capital of France?' } })).content).toEqual([{ type: 'text', text: 'sampled: Paris' }]);
    expect((await client.callTool({ name: 'up__roots', arguments: {} })).content).toEqual([{ type: 'text', text: JSON.stringify([{ uri: 'file:///work', name: 'work' }]) }]);
    // Not only relayed tool calls: a prompt served through the tool server's SDK client asks the same way.
    const prompt = await client.getPrompt({ name: 'meta__confirm' });
    expect(prompt.messages[0]!.content).toEqual({ type: 'text', text: 'confirmed: {"name":"Ada"}' });
    expect(asked).toEqual(['elicitation/create', 'sampling/createMessage', 'roots/list', 'elicitation/create']);
    await client.close();
  });

  it('raw: the first answer lists the input request; only the same caller’s retry of the same call resumes it', async () => {
    const caps = { ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    const alice = await tokenFor(t.gw, { email: 'alice-inputs@example.com', team: 'modern', clientId: 'c' });
    const mallory = await tokenFor(t.gw, { email: 'mallory-inputs@example.com', team: 'modern', clientId: 'c' });
    const first = await post(alice.token, { id: 1, method: 'tools/call', params: { name: 'up__ask', arguments: {}, _meta: caps } });
    const round = last(first.text).result as { resultType: string; inputRequests: Record<string, { method: string; params: { message: string } }>; requestState: string };
    expect(round.resultType).toBe('input_required');
    const [key, ask] = Object.entries(round.inputRequests)[0]!;
    expect(ask).toMatchObject({ method: 'elicitation/create', params: { message: 'Your name?' } });
    const retry = (token: string, name: string, id: number) =>
      post(token, { id, method: 'tools/call', params: { name, arguments: {}, _meta: caps, requestState: round.requestState, inputResponses: { [key]: { action: 'accept', content: { name: 'Bob' } } } } });
    expect(last((await retry(mallory.token, 'up__ask', 2)).text).error!.code).toBe(-32602);
    expect(last((await retry(alice.token, 'up__echo', 3)).text).error!.code).toBe(-32602);
    const done = await retry(alice.token, 'up__ask', 4);
    expect(last(done.text).result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'elicited: accept {"name":"Bob"}' }] });
    expect(last((await retry(alice.token, 'up__ask', 5)).text).error!.code).toBe(-32602);
  });

  it('a client that did not declare the capability is never asked: the tool server gets an error at once', async () => {
    const { token } = await tokenFor(t.gw, { email: 'no-caps@example.com', team: 'modern' });
    const r = await post(token, call(1, 'up__ask', {}));
    expect(last(r.text).result).toMatchObject({ resultType: 'complete', isError: true });
    expect(JSON.stringify(last(r.text).result)).toContain('elicitation failed');
  });
});

describe('request-scoped notifications and metadata', () => {
  it('progress and log messages at the envelope’s level ride the request’s event stream, then the result', async () => {
    const { token } = await tokenFor(t.gw, { email: 'progress@example.com', team: 'modern' });
    const r = await post(token, call(1, 'up__progress', { steps: 3 }, { progressToken: 'p1', 'io.modelcontextprotocol/logLevel': 'info' }));
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/event-stream');
    const ms = messages(r.text);
    expect(ms.filter((m) => m.method === 'notifications/progress').map((m) => m.params!.progress)).toEqual([1, 2, 3]);
    expect(ms.filter((m) => m.method === 'notifications/message').map((m) => m.params!.data)).toEqual(['step 1', 'step 2', 'step 3']);
    expect(ms.at(-1)!.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'done 3' }] });

    const quiet = messages((await post(token, call(2, 'up__progress', { steps: 2 }, { progressToken: 'p2' }))).text);
    expect(quiet.filter((m) => m.method === 'notifications/message')).toEqual([]);
    expect(quiet.filter((m) => m.method === 'notifications/progress')).toHaveLength(2);
    const above = messages((await post(token, call(3, 'up__progress', { steps: 2 }, { 'io.modelcontextprotocol/logLevel': 'error' }))).text);
    expect(above.filter((m) => m.method === 'notifications/message')).toEqual([]);

    const json = await post(token, call(4, 'up__progress', { steps: 2 }, { progressToken: 'p3', 'io.modelcontextprotocol/logLevel': 'debug' }), { accept: 'application/json' });
    expect(json.type).toContain('application/json');
    expect(JSON.parse(json.text).result.content).toEqual([{ type: 'text', text: 'done 2' }]);
  });

  it('openai/* keys, the progress token and trace context reach the tool server; the envelope does not', async () => {
    const { token } = await tokenFor(t.gw, { email: 'meta@example.com', team: 'modern' });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    const r = await post(token, call(1, 'meta__show', {}, { 'openai/session': 'm1', 'openai/userLocation': { city: 'Oslo' }, traceparent, progressToken: 7 }));
    const seen = JSON.parse((last(r.text).result!.content as { text: string }[])[0]!.text) as Record<string, unknown>;
    expect(seen).toMatchObject({ 'openai/session': 'm1', 'openai/userLocation': { city: 'Oslo' }, traceparent, progressToken: 7 });
    expect(Object.keys(seen).filter((k) => k.startsWith('io.modelcontextprotocol/'))).toEqual([]);
  });
});
