/**
 * Generated hostile input (fast-check) thrown at the MCP endpoint, the OAuth endpoints and the admin API. For every
 * request: no 5xx, no internal text (driver, SQL state, stack) in the body, and a refused request writes no row.
 * The hand-written probes in `client-caused-errors.test.ts` cover known shapes; this covers the ones nobody thought of.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { tokenFor } from '../helpers/gateway.js';
import { startAdminFixture, type AdminFixture } from '../admin/admin-fixture.js';

let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
});
afterAll(async () => {
  await f?.close();
});

/** Words only internals produce: a driver or ORM name, a SQL state, a stack frame, a constraint message. */
const INTERNAL = /Prisma|PrismaClient|postgres|invalid byte sequence|violates [a-z ]*constraint|\b(22P0[0-9]|23505|42P01)\b|\n\s+at |ECONNREFUSED|node:internal/i;
const RUNS = { numRuns: 120, seed: 20261201 };

interface Sent {
  status: number;
  text: string;
}

async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Sent> {
  const ac = new AbortController();
  const res = await fetch(`${f.gw.url}${path}`, { method: init.method ?? 'POST', headers: init.headers ?? {}, signal: ac.signal, ...(init.body !== undefined ? { body: init.body } : {}) });
  // An SSE answer may stay open: read what is there within a moment, then stop.
  const text = await Promise.race([res.text(), new Promise<string>((r) => setTimeout(() => r(''), 1500))]);
  ac.abort();
  return { status: res.status, text };
}

/** The response neither fails on the server nor shows internals (unless the input itself carried those words). */
function expectClean(sent: Sent, input: string) {
  expect(sent.status, `${input.slice(0, 300)} → ${sent.status} ${sent.text.slice(0, 300)}`).toBeLessThan(500);
  const leaked = sent.text.match(INTERNAL)?.[0];
  if (leaked && !input.toLowerCase().includes(leaked.toLowerCase())) throw new Error(`internal text "${leaked}" in: ${sent.text.slice(0, 300)}`);
}

/** Strings with the characters that break storage and parsing: NUL, lone surrogates, control characters, quotes. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '%00', "'; DROP TABLE sessions; --", '../../', '\r\nX-Injected: 1', '__proto__', 'a'.repeat(3000)),
);
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(nasty, fc.oneof(nasty, fc.integer(), fc.constant(null)), { maxKeys: 4 }));
const method = fc.oneof(
  fc.constantFrom('initialize', 'tools/call', 'tools/list', 'server/discover', 'ping', 'logging/setLevel', 'notifications/initialized', 'resources/read', 'prompts/get', 'completion/complete'),
  nasty,
);
const message = fc.record(
  { jsonrpc: fc.oneof(fc.constant('2.0'), nasty), id: fc.oneof(fc.integer(), nasty, fc.constant(null), jsonish), method, params: fc.oneof(jsonish, fc.record({ name: nasty, arguments: jsonish, _meta: jsonish }), fc.record({ protocolVersion: nasty, capabilities: jsonish, clientInfo: fc.record({ name: nasty, version: nasty }) })) },
  { requiredKeys: ['jsonrpc'] },
);
/** Well-formed envelopes with hostile contents: they get past JSON-RPC validation, so they reach the deep paths. */
const initialize = fc.record({
  jsonrpc: fc.constant('2.0'),
  id: fc.oneof(fc.integer(), nasty),
  method: fc.constant('initialize'),
  params: fc.record({
    protocolVersion: fc.oneof(fc.constantFrom('2025-11-25', '2025-06-18'), nasty),
    capabilities: fc.dictionary(nasty, jsonish, { maxKeys: 3 }),
    clientInfo: fc.record({ name: nasty, version: nasty }),
    _meta: fc.oneof(fc.constant(undefined), fc.record({ 'openai/session': nasty })),
  }),
});
const call = fc.record({
  jsonrpc: fc.constant('2.0'),
  id: fc.integer(),
  method: fc.constantFrom('tools/call', 'prompts/get', 'resources/read', 'logging/setLevel'),
  params: fc.record({ name: nasty, uri: nasty, level: nasty, arguments: fc.dictionary(nasty, nasty, { maxKeys: 3 }), _meta: fc.record({ 'openai/session': nasty }, { requiredKeys: [] }) }, { requiredKeys: [] }),
});
const mcpBody = fc.oneof(initialize, initialize, call, message, fc.array(message, { maxLength: 3 }), jsonish).map((v) => JSON.stringify(v));

describe('property: hostile input never breaks the gateway', () => {
  it('MCP endpoint: any body, session id, protocol version and chat header', async () => {
    const { token, userId } = await tokenFor(f.gw, { email: 'fuzz-mcp@example.com', team: 'globex', clientId: 'fuzzer' });
    const rows = () => Promise.all([f.tdb.db.prisma.session.count({ where: { userId } }), f.tdb.db.prisma.chat.count({ where: { userId } })]);
    await fc.assert(
      fc.asyncProperty(
        mcpBody,
        fc.option(nasty, { nil: undefined }),
        fc.option(fc.oneof(fc.constantFrom('2025-11-25', '2025-06-18', '2026-07-28'), nasty), { nil: undefined }),
        fc.option(nasty, { nil: undefined }),
        async (body, sessionId, version, chat) => {
          const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
          const header = (k: string, v: string | undefined) => {
            if (v !== undefined && /^[\t\x20-\x7e]*$/.test(v)) headers[k] = v; // fetch refuses other header bytes itself
          };
          header('mcp-session-id', sessionId);
          header('mcp-protocol-version', version);
          header('x-chat-id', chat);
          const before = await rows();
          const sent = await send('/t/globex/mcp', { headers, body });
          expectClean(sent, body + JSON.stringify(headers));
          if (sent.status >= 400) expect(await rows(), `refused ${body.slice(0, 200)} wrote rows`).toEqual(before);
        },
      ),
      RUNS,
    );
  });

  it('OAuth endpoints: any form or JSON body at /register, /token and /revoke', async () => {
    const prisma = f.tdb.db.prisma;
    const rows = () => Promise.all([prisma.oAuthClient.count(), prisma.refreshToken.count(), prisma.authorizationCode.count()]);
    const form = fc.dictionary(fc.constantFrom('grant_type', 'code', 'refresh_token', 'client_id', 'client_secret', 'redirect_uri', 'code_verifier', 'resource', 'token', 'scope', 'x'), nasty, { maxKeys: 6 });
    const register = fc.record({ redirect_uris: fc.oneof(fc.array(nasty, { maxLength: 3 }), nasty, jsonish), client_name: nasty, token_endpoint_auth_method: nasty, grant_types: jsonish, scope: nasty }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          form.map((p) => ({ path: '/token', ct: 'application/x-www-form-urlencoded', body: new URLSearchParams(p).toString() })),
          form.map((p) => ({ path: '/revoke', ct: 'application/x-www-form-urlencoded', body: new URLSearchParams(p).toString() })),
          register.map((r) => ({ path: '/register', ct: 'application/json', body: JSON.stringify(r) })),
          fc.record({ path: fc.constantFrom('/token', '/register', '/revoke'), ct: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), body: nasty }),
        ),
        async ({ path, ct, body }) => {
          const before = await rows();
          const sent = await send(path, { headers: { 'content-type': ct }, body });
          expectClean(sent, body);
          if (sent.status >= 400) expect(await rows(), `refused ${path} ${body.slice(0, 200)} wrote rows`).toEqual(before);
        },
      ),
      RUNS,
    );
  });

  it('admin API: any body for teams, members and tool servers, as a team admin and with the API key', async () => {
    const prisma = f.tdb.db.prisma;
    const rows = () => Promise.all([prisma.team.count(), prisma.membership.count(), prisma.toolServer.count(), prisma.user.count()]);
    const toolServer = fc.record(
      { name: nasty, kind: fc.oneof(fc.constantFrom('remote', 'builtin'), nasty), url: fc.oneof(fc.constantFrom('https://mcp.example.com/mcp', 'http://127.0.0.1:1/mcp', 'https://[::1'), nasty), pack: nasty, auth: fc.oneof(jsonish, fc.record({ mode: fc.constantFrom('static', 'none', 'exchange', 'passthrough'), header: nasty, secret: nasty })), prefix: jsonish, enabled: jsonish },
      { requiredKeys: [] },
    );
    const requests = fc.oneof(
      fc.record({ path: fc.constant('/admin/v1/teams'), body: fc.record({ slug: nasty, name: nasty, joinPolicy: nasty, packs: jsonish }, { requiredKeys: [] }) }),
      fc.record({ path: fc.constant('/admin/v1/teams/acme/members'), body: fc.record({ email: nasty, userId: nasty, role: nasty }, { requiredKeys: [] }) }),
      fc.record({ path: fc.constant('/admin/v1/teams/acme/tool-servers'), body: toolServer }),
      fc.record({ path: fc.constantFrom('/admin/v1/teams', '/admin/v1/teams/acme/members', '/admin/v1/teams/acme/tool-servers'), body: jsonish }),
    );
    await fc.assert(
      fc.asyncProperty(requests, fc.constantFrom('apiKey' as const, 'teamAdmin' as const), async ({ path, body }, as) => {
        const raw = JSON.stringify(body);
        const before = await rows();
        const sent = await send(path, { headers: { authorization: `Bearer ${f.tokens[as]}`, 'content-type': 'application/json' }, body: raw });
        expectClean(sent, raw);
        if (sent.status >= 400) expect(await rows(), `refused ${path} ${raw.slice(0, 200)} wrote rows`).toEqual(before);
      }),
      RUNS,
    );
  });
});
