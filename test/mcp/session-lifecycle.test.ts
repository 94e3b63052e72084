/**
 * docs/interface.md §3 "MCP": sessions bound to user, team and client; chat from the header; rehydration after a restart;
 * DELETE; expiry; the `server/discover` probe; Origin and unknown-team checks — with real SDK clients.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';

let tdb: TestDatabase;
let gw: TestGateway;
let endpoint: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  endpoint = `${gw.url}/t/demo/mcp`;
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

function whoamiOf(result: unknown): Record<string, unknown> {
  const r = result as { structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };
  return r.structuredContent ?? JSON.parse(r.content[0]!.text);
}

describe('a session end to end', () => {
  it('initialize → tools/list → demo__whoami shows the token user and the chat from the header', async () => {
    const { token, userId } = await tokenFor(gw, { email: 'ada@example.com' });
    const { client, transport } = await connectClient(endpoint, token, { headers: { 'x-chat-id': 'chat-42' } });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    const who = whoamiOf(await client.callTool({ name: 'demo__whoami', arguments: {} }));
    expect(who).toMatchObject({ userId, email: 'ada@example.com', team: 'demo', chat: 'chat-42', session: transport.sessionId });
    const echo = await client.callTool({ name: 'demo__echo', arguments: { text: 'hello' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'hello' }]);

    const row = await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: transport.sessionId! }, include: { chat: true } });
    expect(row).toMatchObject({ userId, clientId: 'test-client', clientName: 'switchboard-test', protocolVersion: '2025-11-25', closedAt: null });
    expect(row.chat?.externalId).toBe('chat-42');
    await client.close();
  });

  it('takes the chat from ChatGPT-style params._meta["openai/session"] when there is no header', async () => {
    const { token } = await tokenFor(gw, { email: 'gpt@example.com' });
    const res = await rawPost(endpoint, { ...INIT, params: { ...INIT.params, _meta: { 'openai/session': 'v1/abc' } } }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const sid = res.headers.get('mcp-session-id')!;
    await res.text();
    const row = await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid }, include: { chat: true } });
    expect(row.chat?.externalId).toBe('v1/abc');
  });

  it('invalid tool arguments come back as a tool error naming the field', async () => {
    const { token } = await tokenFor(gw, { email: 'ada@example.com' });
    const { client } = await connectClient(endpoint, token);
    const res = await client.callTool({ name: 'demo__echo', arguments: { text: 5 } });
    expect(res.isError).toBe(true);
    expect(JSON.stringify(res.content)).toContain('text');
    await client.close();
  });
});

describe('who may use a session', () => {
  it('another user gets 404 for an existing session; so does the same user with another OAuth client', async () => {
    const owner = await tokenFor(gw, { email: 'owner@example.com' });
    const { client, transport } = await connectClient(endpoint, owner.token);
    const sid = transport.sessionId!;
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };

    const intruder = await tokenFor(gw, { email: 'mallory@example.com' });
    const r1 = await rawPost(endpoint, list, { ...headers, authorization: `Bearer ${intruder.token}` });
    expect(r1.status).toBe(404);

    const otherClient = await tokenFor(gw, { email: 'owner@example.com', clientId: 'some-other-client' });
    const r2 = await rawPost(endpoint, list, { ...headers, authorization: `Bearer ${otherClient.token}` });
    expect(r2.status).toBe(404);

    // Neither could close it either, and the owner still can use it.
    const r3 = await fetch(endpoint, { method: 'DELETE', headers: { ...headers, authorization: `Bearer ${intruder.token}` } });
    expect(r3.status).toBe(404);
    expect((await client.listTools()).tools.length).toBe(2);
    await client.close();
  });

  it('a session of team demo is not reachable through another team endpoint', async () => {
    await tdb.db.prisma.team.upsert({ where: { slug: 'other' }, create: { slug: 'other', name: 'Other' }, update: {} });
    const demo = await tokenFor(gw, { email: 'ada@example.com' });
    const { client, transport } = await connectClient(endpoint, demo.token);
    const other = await tokenFor(gw, { email: 'ada@example.com', team: 'other' });
    const res = await rawPost(`${gw.url}/t/other/mcp`, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, {
      authorization: `Bearer ${other.token}`,
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': '2025-11-25',
    });
    expect(res.status).toBe(404);
    await client.close();
  });
});

describe('session state lives in the database', () => {
  it('survives a restart: a new app on the same database continues the session without initialize', async () => {
    const { token, userId } = await tokenFor(gw, { email: 'restart@example.com' });
    const { client, transport } = await connectClient(endpoint, token, { headers: { 'x-chat-id': 'chat-r' } });
    const sid = transport.sessionId!;
    await client.setLoggingLevel('warning');
    await gw.close(); // the process that held the session is gone

    gw = await startTestGateway(tdb.db);
    endpoint = `${gw.url}/t/demo/mcp`;
    const { token: token2 } = await tokenFor(gw, { email: 'restart@example.com' });
    expect(gw.app.sessions.size).toBe(0);
    const again = await connectClient(endpoint, token2, { sessionId: sid });
    const who = whoamiOf(await again.client.callTool({ name: 'demo__whoami', arguments: {} }));
    expect(who).toMatchObject({ userId, chat: 'chat-r', session: sid });
    expect(gw.app.sessions.size).toBe(1);
    const row = await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } });
    expect(row.logLevel).toBe('warning');
    expect(await gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_rehydrated_total')).toMatch(/ 1$/m);
  });

  it('an idle in-memory session is evicted and rebuilt on its next request', async () => {
    const { token } = await tokenFor(gw, { email: 'idle@example.com' });
    const { client, transport } = await connectClient(endpoint, token);
    gw.app.sessions.evict(transport.sessionId!);
    expect((await client.callTool({ name: 'demo__echo', arguments: { text: 'still here' } })).content).toEqual([{ type: 'text', text: 'still here' }]);
    await client.close();
  });

  it('DELETE closes the session: later requests get 404 and the row records why', async () => {
    const { token } = await tokenFor(gw, { email: 'bye@example.com' });
    const { client, transport } = await connectClient(endpoint, token);
    const sid = transport.sessionId!;
    await transport.terminateSession();
    const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-11-25',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
    const row = await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } });
    expect(row.closeReason).toBe('client_delete');
    expect(row.closedAt).not.toBeNull();
    await client.close();
  });

  it('an expired session gets 404, even on the process that holds it', async () => {
    const { token } = await tokenFor(gw, { email: 'old@example.com' });
    const { client, transport } = await connectClient(endpoint, token);
    const sid = transport.sessionId!;
    await tdb.db.prisma.session.update({ where: { id: sid }, data: { expiresAt: new Date(Date.now() - 1000) } });
    gw.app.sessions.evict(sid);
    const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-11-25',
    });
    expect(res.status).toBe(404);
    await client.close();
  });
});

describe('requests that never become sessions', () => {
  it('a server/discover probe without a session gets 400 and leaves no row', async () => {
    const { token } = await tokenFor(gw, { email: 'probe@example.com' });
    const before = await tdb.db.prisma.session.count();
    const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    expect(res.headers.get('mcp-session-id')).toBeNull();
    expect(await tdb.db.prisma.session.count()).toBe(before);
  });

  it('an unknown session id gets 404', async () => {
    const { token } = await tokenFor(gw, { email: 'probe@example.com' });
    const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': 'no-such-session',
    });
    expect(res.status).toBe(404);
  });

  it('a foreign Origin gets 403 before anything else', async () => {
    const { token } = await tokenFor(gw, { email: 'probe@example.com' });
    const res = await rawPost(endpoint, INIT, { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatchObject({ code: -32000, data: { reason: 'forbidden' } });
    const ok = await rawPost(endpoint, INIT, { authorization: `Bearer ${token}`, origin: 'https://chatgpt.com' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://chatgpt.com');
  });

  it('a foreign Host gets 403 (DNS rebinding); health probes are exempt', async () => {
    const status = (method: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(gw.url);
        http
          .request({ host: u.hostname, port: u.port, path, method, headers: { host: 'attacker.example', 'content-type': 'application/json' } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
          .on('error', reject)
          .end(JSON.stringify(INIT));
      });
    expect(await status('POST', '/t/demo/mcp')).toBe(403);
    expect(await status('GET', '/health')).toBe(200);
  });

  it('an unknown team gets 404', async () => {
    const res = await rawPost(`${gw.url}/t/nope/mcp`, INIT);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000, message: 'No team "nope" exists on this gateway', data: { reason: 'team_not_found' } }, id: null });
  });

  it('invalid JSON gets a JSON-RPC parse error', async () => {
    const { token } = await tokenFor(gw, { email: 'probe@example.com' });
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":',
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(-32700);
  });
});
