/**
 * docs/architecture.md §Reliability and security: "no 500 for anything a client can cause": odd headers, odd JSON-RPC envelopes, odd content types,
 * broken percent-encoding, repeated query parameters and forged cursors, on every route — never a 5xx.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { INIT } from '../helpers/mcp-client.js';
import { startAdminFixture, type AdminFixture } from '../admin/admin-fixture.js';

let f: AdminFixture;
let mcpToken: string;
let sessionId: string;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

beforeAll(async () => {
  f = await startAdminFixture();
  mcpToken = (await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' })).token;
  const res = await fetch(`${f.gw.url}/t/acme/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${mcpToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(INIT),
  });
  sessionId = res.headers.get('mcp-session-id')!;
  expect(sessionId).toBeTruthy();
});
afterAll(async () => {
  await f?.close();
});

interface Probe {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** The status only: a body (an SSE stream may stay open) is not waited for. */
async function send(p: Probe): Promise<number> {
  const ac = new AbortController();
  const res = await fetch(`${f.gw.url}${p.path}`, { method: p.method, headers: p.headers ?? {}, signal: ac.signal, ...(p.body !== undefined ? { body: p.body } : {}) });
  ac.abort();
  await res.body?.cancel().catch(() => undefined);
  return res.status;
}

const mcpHeaders = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${mcpToken}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...extra,
});

function mcpProbes(): Probe[] {
  const path = '/t/acme/mcp';
  const withSession = (extra: Record<string, string> = {}) => mcpHeaders({ 'mcp-session-id': sessionId, ...extra });
  const odd = ['x', '../../etc/passwd', "'; DROP TABLE sessions; --", '%00', 'a'.repeat(8000), `${sessionId},${sessionId}`, '{"$ne":null}', ' '];
  const envelopes: unknown[] = [
    [],
    [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }],
    [INIT, INIT],
    { jsonrpc: '1.0', id: 1, method: 'ping' },
    { jsonrpc: '2.0', id: 1 },
    { jsonrpc: '2.0', id: { nested: true }, method: 'ping' },
    { jsonrpc: '2.0', id: 1, method: 42 },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'nope' },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo__echo', arguments: [1, 2] } },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'nope__nope' } },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo__echo\u0000', arguments: { text: 'x' } } },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo__echo', arguments: { text: 'nul \u0000 byte' } } },
    { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'switchboard://%E0%A4%A' } },
    { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'nope' } },
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: null },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'x' } },
    { jsonrpc: '2.0', id: 9, result: {} },
    null,
    42,
    'string',
  ];
  return [
    ...odd.map((v, i) => ({ name: `session id odd #${i}`, method: 'POST', path, headers: mcpHeaders({ 'mcp-session-id': v }), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })),
    ...odd.map((v, i) => ({ name: `GET session id odd #${i}`, method: 'GET', path, headers: { authorization: `Bearer ${mcpToken}`, accept: 'text/event-stream', 'mcp-session-id': v } })),
    ...odd.map((v, i) => ({ name: `DELETE session id odd #${i}`, method: 'DELETE', path, headers: { authorization: `Bearer ${mcpToken}`, 'mcp-session-id': v } })),
    ...envelopes.map((e, i) => ({ name: `envelope with session #${i}`, method: 'POST', path, headers: withSession(), body: JSON.stringify(e) })),
    ...envelopes.map((e, i) => ({ name: `envelope without session #${i}`, method: 'POST', path, headers: mcpHeaders(), body: JSON.stringify(e) })),
    { name: 'chat header odd', method: 'POST', path, headers: withSession({ 'x-chat-id': 'a'.repeat(5000) }), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) },
    { name: 'protocol version odd', method: 'POST', path, headers: withSession({ 'mcp-protocol-version': '9999-99-99' }), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) },
    { name: 'accept missing', method: 'POST', path, headers: withSession({ accept: '' }), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) },
    { name: 'text/plain body', method: 'POST', path, headers: withSession({ 'content-type': 'text/plain' }), body: 'hello' },
    { name: 'form body', method: 'POST', path, headers: withSession({ 'content-type': 'application/x-www-form-urlencoded' }), body: 'a=b&a=c' },
    { name: 'no content type', method: 'POST', path, headers: { authorization: `Bearer ${mcpToken}`, accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId }, body: '{}' },
    { name: 'json with bad charset', method: 'POST', path, headers: withSession({ 'content-type': 'application/json; charset=utf-7' }), body: '{}' },
    { name: 'gzip encoding lie', method: 'POST', path, headers: withSession({ 'content-encoding': 'gzip' }), body: '{}' },
    { name: 'unknown encoding', method: 'POST', path, headers: withSession({ 'content-encoding': 'br2' }), body: '{}' },
    { name: 'empty body', method: 'POST', path, headers: withSession(), body: '' },
    { name: 'deep JSON', method: 'POST', path, headers: withSession(), body: `${'['.repeat(5000)}${']'.repeat(5000)}` },
    { name: 'bad percent-encoding team', method: 'POST', path: '/t/%E0%A4%A/mcp', headers: mcpHeaders(), body: JSON.stringify(INIT) },
    { name: 'bad percent-encoding team GET', method: 'GET', path: '/t/%E0%A4%A/mcp', headers: mcpHeaders() },
    { name: 'bad percent-encoding sessions', method: 'GET', path: '/t/%E0%A4%A/sessions', headers: mcpHeaders() },
    { name: 'encoded slash team', method: 'POST', path: '/t/acme%2F..%2Fglobex/mcp', headers: mcpHeaders(), body: JSON.stringify(INIT) },
    { name: 'very long team', method: 'POST', path: `/t/${'a'.repeat(5000)}/mcp`, headers: mcpHeaders(), body: JSON.stringify(INIT) },
    { name: 'authorization odd', method: 'POST', path, headers: mcpHeaders({ authorization: 'Bearer ' + 'a.'.repeat(4000) }), body: '{}' },
    { name: 'authorization two schemes', method: 'POST', path, headers: mcpHeaders({ authorization: 'Basic Zm9vOmJhcg==' }), body: '{}' },
    { name: 'authorization jwt-shaped garbage', method: 'POST', path, headers: mcpHeaders({ authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' }), body: '{}' },
    { name: 'last-event-id odd', method: 'GET', path, headers: { authorization: `Bearer ${mcpToken}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'last-event-id': "'; select 1; --" } },
    { name: 'last-event-id huge number', method: 'GET', path, headers: { authorization: `Bearer ${mcpToken}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'last-event-id': '99999999999999999999999999' } },
    { name: 'PUT', method: 'PUT', path, headers: mcpHeaders(), body: '{}' },
  ];
}

function getRouteProbes(): Probe[] {
  const admin = { authorization: `Bearer ${f.tokens.apiKey}` };
  const user = { authorization: `Bearer ${mcpToken}` };
  const someUser = f.userIds.member;
  const paths: [string, Record<string, string>][] = [
    ['/t/acme/sessions', user],
    ['/admin/v1/teams', admin],
    ['/admin/v1/teams/acme', admin],
    ['/admin/v1/teams/acme/members', admin],
    ['/admin/v1/teams/acme/tool-servers', admin],
    ['/admin/v1/teams/acme/tool-servers/demo', admin],
    ['/admin/v1/teams/acme/sessions', admin],
    [`/admin/v1/users/${someUser}/sessions`, admin],
    [`/admin/v1/sessions/${sessionId}`, admin],
    ['/admin/v1/users', admin],
    ['/admin/v1/openapi.json', {}],
    ['/.well-known/oauth-protected-resource/t/acme/mcp', {}],
    ['/.well-known/oauth-protected-resource/mcp', {}],
    ['/.well-known/oauth-authorization-server', {}],
    ['/.well-known/openid-configuration', {}],
    ['/.well-known/jwks.json', {}],
    ['/authorize', {}],
    ['/health', {}],
    ['/ready', {}],
    ['/metrics', {}],
  ];
  const queries = [
    'limit=1&limit=2',
    'cursor=a&cursor=b',
    'status=active&status=closed',
    'chat=a&chat=b',
    'email=a@b.c&email=d@e.f',
    'limit[]=1',
    'limit[a]=1',
    'limit=-1',
    'limit=1e400',
    'limit=0x10',
    'since=0000-01-01T00:00:00Z',
    'since=9999-12-31T23:59:59Z',
    `cursor=${b64(['-271821-04-20T00:00:00.000Z', 'x'])}`,
    `cursor=${b64(['+275760-09-13T00:00:00.000Z', 'x'])}`,
    `cursor=${b64(['1970-01-01T00:00:00.000Z', "x' OR 1=1"])}`,
    `cursor=${b64(['teams', 'x'.repeat(400)])}`,
    `cursor=${b64(['members', '2020-01-01T00:00:00.000Z', 'not-a-uuid'])}`,
    `cursor=${b64(['members', '+275760-09-13T00:00:00.000Z', randomUUID()])}`,
    `cursor=${b64(['users', 'not-a-uuid'])}`,
    `cursor=${b64(['tool-servers', '\u0000'])}`,
    `cursor=${b64([null, null])}`,
    'cursor=%E0%A4%A',
    'email=%E0%A4%A@x.y',
    'email=a@b.c%00',
    'client=%00',
    'chat=%00',
    'resource=%E0%A4%A&client_id=%E0%A4%A&redirect_uri=%E0%A4%A',
    'client_id=x&client_id=y&redirect_uri=a&redirect_uri=b&response_type=code&response_type=token',
    'client_id=https%3A%2F%2F127.0.0.1%2Fcimd&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&response_type=code&code_challenge=x&code_challenge_method=S256&resource=x',
  ];
  return paths.flatMap(([path, headers]) => queries.map((q) => ({ name: `GET ${path}?${q}`, method: 'GET', path: `${path}?${q}`, headers })));
}

function adminPathProbes(): Probe[] {
  const admin = { authorization: `Bearer ${f.tokens.apiKey}`, 'content-type': 'application/json' };
  const segs = ['%E0%A4%A', '%00', '..%2F..', 'a'.repeat(5000), '%F0%9F%98%80', 'ACME', ' '];
  return segs.flatMap((s) => [
    { name: `team seg ${s.slice(0, 20)}`, method: 'GET', path: `/admin/v1/teams/${s}`, headers: admin },
    { name: `member seg ${s.slice(0, 20)}`, method: 'DELETE', path: `/admin/v1/teams/acme/members/${s}`, headers: admin },
    { name: `tool-server seg ${s.slice(0, 20)}`, method: 'PATCH', path: `/admin/v1/teams/acme/tool-servers/${s}`, headers: admin, body: '{}' },
    { name: `session seg ${s.slice(0, 20)}`, method: 'GET', path: `/admin/v1/sessions/${s}`, headers: admin },
    { name: `session delete seg ${s.slice(0, 20)}`, method: 'DELETE', path: `/admin/v1/sessions/${s}`, headers: admin },
    { name: `user seg ${s.slice(0, 20)}`, method: 'GET', path: `/admin/v1/users/${s}/sessions`, headers: admin },
  ]);
}

function adminBodyProbes(): Probe[] {
  const admin = { authorization: `Bearer ${f.tokens.apiKey}` };
  const json = { ...admin, 'content-type': 'application/json' };
  return [
    { name: 'POST teams array body', method: 'POST', path: '/admin/v1/teams', headers: json, body: '[]' },
    { name: 'POST teams null', method: 'POST', path: '/admin/v1/teams', headers: json, body: 'null' },
    { name: 'POST teams string', method: 'POST', path: '/admin/v1/teams', headers: json, body: '"x"' },
    { name: 'POST teams proto', method: 'POST', path: '/admin/v1/teams', headers: json, body: '{"__proto__":{"slug":"x"},"constructor":{"prototype":{}}}' },
    { name: 'POST teams text/plain', method: 'POST', path: '/admin/v1/teams', headers: { ...admin, 'content-type': 'text/plain' }, body: '{"slug":"zz","name":"zz"}' },
    { name: 'POST teams no content type', method: 'POST', path: '/admin/v1/teams', headers: admin, body: '{"slug":"zz","name":"zz"}' },
    { name: 'POST teams charset', method: 'POST', path: '/admin/v1/teams', headers: { ...admin, 'content-type': 'application/json; charset=latin1' }, body: '{}' },
    { name: 'POST teams bad gzip', method: 'POST', path: '/admin/v1/teams', headers: { ...json, 'content-encoding': 'gzip' }, body: '{}' },
    { name: 'POST teams NUL name', method: 'POST', path: '/admin/v1/teams', headers: json, body: JSON.stringify({ slug: 'nulname', name: 'a\u0000b' }) },
    { name: 'POST members NUL email', method: 'POST', path: '/admin/v1/teams/acme/members', headers: json, body: JSON.stringify({ email: 'a\u0000@b.cd' }) },
    { name: 'POST members both', method: 'POST', path: '/admin/v1/teams/acme/members', headers: json, body: JSON.stringify({ email: 'a@b.cd', userId: randomUUID() }) },
    { name: 'POST tool server NUL', method: 'POST', path: '/admin/v1/teams/acme/tool-servers', headers: json, body: JSON.stringify({ name: 'nul', kind: 'remote', url: 'https://x.example/\u0000', auth: { mode: 'static', secret: 'a\u0000b' } }) },
    { name: 'POST tool server url odd', method: 'POST', path: '/admin/v1/teams/acme/tool-servers', headers: json, body: JSON.stringify({ name: 'odd', kind: 'remote', url: 'https://[::1', auth: { mode: 'none' } }) },
    { name: 'PATCH tool server auth array', method: 'PATCH', path: '/admin/v1/teams/acme/tool-servers/demo', headers: json, body: JSON.stringify({ auth: [] }) },
    { name: 'PATCH tool server auth odd', method: 'PATCH', path: '/admin/v1/teams/acme/tool-servers/demo', headers: json, body: JSON.stringify({ auth: { mode: 'static', secret: 5 } }) },
    { name: 'PATCH team NUL', method: 'PATCH', path: '/admin/v1/teams/acme', headers: json, body: JSON.stringify({ name: '\u0000' }) },
    { name: 'token endpoint JSON', method: 'POST', path: '/token', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"x"}' },
    { name: 'token endpoint odd basic', method: 'POST', path: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic %%%' }, body: 'grant_type=refresh_token&refresh_token=x' },
    { name: 'token endpoint basic no colon', method: 'POST', path: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('abc').toString('base64')}` }, body: 'grant_type=refresh_token' },
    { name: 'token endpoint nested', method: 'POST', path: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type[a]=b&client_id[x]=y' },
    { name: 'token endpoint bad pct', method: 'POST', path: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=%E0%A4%A&client_id=%E0%A4%A' },
    { name: 'revoke bad pct', method: 'POST', path: '/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=%E0%A4%A&client_id=%E0%A4%A' },
    { name: 'register array', method: 'POST', path: '/register', headers: { 'content-type': 'application/json' }, body: '[]' },
    { name: 'register odd uris', method: 'POST', path: '/register', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://[::1', 'http://%E0%A4%A'] }) },
    { name: 'register huge name', method: 'POST', path: '/register', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], client_name: '\u0000'.repeat(10) }) },
    { name: 'consent without anything', method: 'POST', path: '/consent', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%E0%A4%A' },
    { name: 'login without anything', method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=%E0%A4%A' },
    { name: 'login odd cookie', method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'sb_tx=%E0%A4%A; __Host-sb_tx=%%' }, body: 'email=a@b.cd' },
  ];
}

describe('nothing a client sends gets a 5xx', () => {
  it('MCP endpoint: odd session ids, envelopes, content types, paths', async () => {
    const bad: string[] = [];
    for (const p of mcpProbes()) {
      const status = await send(p);
      if (status >= 500) bad.push(`${p.name} → ${status}`);
    }
    expect(bad).toEqual([]);
  });

  it('every GET route with repeated, nested and forged query parameters', async () => {
    const bad: string[] = [];
    for (const p of getRouteProbes()) {
      const status = await send(p);
      if (status >= 500) bad.push(`${p.name} → ${status}`);
    }
    expect(bad).toEqual([]);
  });

  it('admin path parameters with broken percent-encoding and odd values', async () => {
    const bad: string[] = [];
    for (const p of adminPathProbes()) {
      const status = await send(p);
      if (status >= 500) bad.push(`${p.name} → ${status}`);
    }
    expect(bad).toEqual([]);
  });

  it('odd bodies on the admin API and the authorization server', async () => {
    const bad: string[] = [];
    for (const p of adminBodyProbes()) {
      const status = await send(p);
      if (status >= 500) bad.push(`${p.name} → ${status}`);
    }
    expect(bad).toEqual([]);
  });

  it('the session used for probing is intact and nothing was logged as an unhandled error', async () => {
    const res = await fetch(`${f.gw.url}/t/acme/mcp`, { method: 'POST', headers: mcpHeaders({ 'mcp-session-id': sessionId }), body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'ping' }) });
    expect(res.status).toBe(200);
    expect(f.gw.logs.text()).not.toMatch(/"level":50/);
  });
});
