/**
 * Security review of tool-server configuration:
 * - SSRF: through the admin API a team admin may not point a tool server at a private, loopback, link-local, CGNAT
 *   or unique-local address (literal or resolved), 422; platform admins and the API key may (local upstreams).
 * - Token harvesting: a team admin may not configure `passthrough` auth (nor re-point a passthrough tool server),
 *   403; platform admins may, and adds and changes with `passthrough` or `static` auth are audited (never the secret).
 * - Upstream error text: a failing upstream's response body or transport error never reaches the MCP client (a short
 *   reason naming the tool server does; the log has the rest), while JSON-RPC errors the upstream answers with pass
 *   through unchanged.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import { McpError as ClientMcpError } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '../../src/mcp/mcp-error.js';
import { LogCapture, tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createAggregator, upstreamFailureReason } from '../../src/toolservers/aggregator.js';
import type { CallContext, ToolServerConnection } from '../../src/toolservers/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { PASSTHROUGH_MESSAGE, PRIVATE_URL_MESSAGE } from '../../src/admin/tool-server-policy.js';
import { startAdminFixture, type AdminFixture, type Caller } from '../admin/admin-fixture.js';
import { listenOnLoopback } from '../helpers/loopback-server.js';

const MARKER = 'INTERNAL-STACKTRACE-db01.corp.internal-7f3a';
const SECRET = 'sk-live-HARDENING-never-in-audit-5e6f';
/** A public address given literally: no DNS needed, so the test runs offline. */
const PUBLIC_URL = 'https://93.184.215.14/mcp';

let f: AdminFixture;
let up: UpstreamFixture;
let failing: { url: string; close(): Promise<void> };
let counter = 0;
const unique = (p: string) => `${p}${++counter}`;

/** In front of a real upstream: every `tools/call` answers HTTP 500 with a body that must not reach the client. */
async function startFailingProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.toString('utf8').includes('"tools/call"')) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`upstream exploded: ${MARKER}`);
        return;
      }
      const upstream = http.request({ host: t.hostname, port: t.port, method: req.method, path: t.pathname, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  return listenOnLoopback(server, '/mcp');
}

beforeAll(async () => {
  f = await startAdminFixture();
  up = await startUpstream('up');
  failing = await startFailingProxy(up.url);
});
afterAll(async () => {
  await f?.close();
  await Promise.all([up?.close(), failing?.close()]);
});

const add = (as: Caller, body: Record<string, unknown>) => f.call('POST', '/teams/acme/tool-servers', { as, body: { kind: 'remote', ...body } });
const stored = (name: string) => f.tdb.db.prisma.toolServer.findUnique({ where: { teamId_name: { teamId: f.acme.id, name } } });
async function audits(name: string) {
  await f.gw.app.audit.flush();
  return f.tdb.db.prisma.auditRecord.findMany({ where: { teamId: f.acme.id, target: name }, orderBy: { id: 'asc' } });
}

describe('SSRF: a team admin may not point a tool server at a non-public address', () => {
  it.each([
    ['loopback IPv4', 'http://127.0.0.1:8080/mcp'],
    ['loopback IPv4, decimal form', 'https://2130706433/mcp'],
    ['private 10/8', 'https://10.1.2.3/mcp'],
    ['private 192.168/16', 'https://192.168.1.10/mcp'],
    ['cloud metadata (link-local)', 'https://169.254.169.254/latest/meta-data'],
    ['CGNAT 100.64/10', 'https://100.64.0.1/mcp'],
    ['loopback IPv6', 'http://[::1]:8080/mcp'],
    ['unique-local IPv6', 'https://[fd12:3456::1]/mcp'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/mcp'],
    ['a name resolving to 127.0.0.1 (localhost)', 'http://localhost:8080/mcp'],
  ])('POST with %s → 422, nothing stored', async (_what, url) => {
    const name = unique('ssrf');
    const res = await add('teamAdmin', { name, url });
    expect([res.status, res.body.error.code]).toEqual([422, 'unprocessable']);
    expect(res.body.error.message).toContain(PRIVATE_URL_MESSAGE);
    expect(res.body.error.details).toEqual([{ field: 'url', message: PRIVATE_URL_MESSAGE }]);
    expect(await stored(name)).toBeNull();
  });

  it('a host that cannot be resolved is refused too (it cannot be checked)', async () => {
    const res = await add('teamAdmin', { name: unique('nx'), url: 'https://tool-server.invalid/mcp' });
    expect([res.status, res.body.error.code]).toEqual([422, 'unprocessable']);
    expect(res.body.error.message).toMatch(/could not be resolved/);
  });

  it('a public address is fine for a team admin', async () => {
    const res = await add('teamAdmin', { name: unique('pub'), url: PUBLIC_URL });
    expect(res.status).toBe(201);
  });

  it.each(['platform', 'apiKey'] as const)('a %s caller may configure private and loopback upstreams', async (as) => {
    for (const url of ['http://127.0.0.1:8080/mcp', 'https://169.254.169.254/x', 'http://[::1]:8080/mcp', 'http://localhost:8080/mcp']) {
      const res = await add(as, { name: unique('op'), url });
      expect([url, res.status]).toEqual([url, 201]);
    }
  });

  it('PATCH: a team admin may not re-point a tool server at a private address, but may still toggle a platform-configured one', async () => {
    const name = unique('patch');
    expect((await add('teamAdmin', { name, url: PUBLIC_URL })).status).toBe(201);
    for (const url of ['https://10.0.0.1/mcp', 'http://localhost:9/mcp']) {
      const res = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { url } });
      expect([res.status, res.body.error.code]).toEqual([422, 'unprocessable']);
    }
    expect((await stored(name))!.url).toBe(PUBLIC_URL);
    const withCredentials = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { url: 'https://user:hunter2@10.0.0.1/mcp' } });
    expect(withCredentials.status).toBe(422);
    expect((await audits(name)).map((r) => JSON.stringify(r.detail)).join()).not.toContain('hunter2');

    const internal = unique('internal');
    expect((await add('platform', { name: internal, url: 'http://127.0.0.1:9/mcp' })).status).toBe(201);
    const toggled = await f.call('PATCH', `/teams/acme/tool-servers/${internal}`, { as: 'teamAdmin', body: { enabled: false, url: 'http://127.0.0.1:9/mcp' } });
    expect([toggled.status, toggled.body.enabled]).toEqual([200, false]);
    const moved = await f.call('PATCH', `/teams/acme/tool-servers/${internal}`, { as: 'teamAdmin', body: { url: 'http://127.0.0.1:10/mcp' } });
    expect(moved.status).toBe(422);
    const byPlatform = await f.call('PATCH', `/teams/acme/tool-servers/${internal}`, { as: 'platform', body: { url: 'http://127.0.0.1:10/mcp' } });
    expect(byPlatform.status).toBe(200);
  });

  it('refusals are audited', async () => {
    const name = unique('audited');
    expect((await add('teamAdmin', { name, url: 'https://169.254.169.254/x' })).status).toBe(422);
    expect(await audits(name)).toMatchObject([
      { action: 'admin.tool_server_add', actor: `user:${f.userIds.teamAdmin}`, outcome: 'unprocessable', detail: { url: 'https://169.254.169.254/x', authMode: 'exchange' } },
    ]);
  });
});

describe('token harvesting: only platform admins may configure passthrough', () => {
  it('a team admin adding a passthrough tool server → 403, nothing stored, the attempt audited', async () => {
    const name = unique('harvest');
    const res = await add('teamAdmin', { name, url: PUBLIC_URL, auth: { mode: 'passthrough' } });
    expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
    expect(res.body.error.message).toBe(PASSTHROUGH_MESSAGE);
    expect(await stored(name)).toBeNull();
    expect(await audits(name)).toMatchObject([{ action: 'admin.tool_server_add', actor: `user:${f.userIds.teamAdmin}`, outcome: 'forbidden', detail: { authMode: 'passthrough' } }]);
  });

  it('a team admin switching a tool server to passthrough → 403, unchanged', async () => {
    const name = unique('switch');
    expect((await add('teamAdmin', { name, url: PUBLIC_URL })).status).toBe(201);
    const res = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { auth: { mode: 'passthrough' } } });
    expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
    expect((await stored(name))!.authMode).toBe('exchange');
  });

  it('a platform admin may add passthrough (audited with who, team, tool server and mode); a team admin may toggle it but not re-point it', async () => {
    const name = unique('pass');
    const res = await add('platform', { name, url: PUBLIC_URL, auth: { mode: 'passthrough' } });
    expect([res.status, res.body.auth]).toEqual([201, { mode: 'passthrough' }]);
    expect(await audits(name)).toMatchObject([
      { teamId: f.acme.id, actor: `user:${f.userIds.platform}`, action: 'admin.tool_server_add', target: name, outcome: 'ok', detail: { authMode: 'passthrough', url: PUBLIC_URL } },
    ]);

    const toggled = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { enabled: false, auth: { mode: 'passthrough' } } });
    expect(toggled.status).toBe(200);
    const repointed = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { url: 'https://93.184.215.15/mcp' } });
    expect([repointed.status, repointed.body.error.code]).toEqual([403, 'forbidden']);
    expect((await stored(name))!.url).toBe(PUBLIC_URL);
    const downgraded = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { auth: { mode: 'exchange' } } });
    expect(downgraded.body.auth).toEqual({ mode: 'exchange' });

    const viaKey = await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'apiKey', body: { auth: { mode: 'passthrough' } } });
    expect(viaKey.status).toBe(200);
    const records = await audits(name);
    expect(records.map((r) => [r.actor, r.outcome, (r.detail as { authMode?: string } | null)?.authMode])).toEqual([
      [`user:${f.userIds.platform}`, 'ok', 'passthrough'],
      [`user:${f.userIds.teamAdmin}`, 'ok', 'passthrough'],
      [`user:${f.userIds.teamAdmin}`, 'forbidden', 'passthrough'],
      [`user:${f.userIds.teamAdmin}`, 'ok', undefined],
      ['api_key', 'ok', 'passthrough'],
    ]);
    expect(records[4]!.detail).toMatchObject({ previousAuthMode: 'exchange' });
  });

  it('static auth is audited with its mode and header, never the secret', async () => {
    const name = unique('static');
    expect((await add('teamAdmin', { name, url: PUBLIC_URL, auth: { mode: 'static', header: 'X-Api-Key', secret: SECRET } })).status).toBe(201);
    expect((await f.call('PATCH', `/teams/acme/tool-servers/${name}`, { as: 'teamAdmin', body: { prefix: false } })).status).toBe(200);
    const records = await audits(name);
    expect(records).toMatchObject([
      { action: 'admin.tool_server_add', actor: `user:${f.userIds.teamAdmin}`, detail: { authMode: 'static', header: 'X-Api-Key', secretSent: true, url: PUBLIC_URL } },
      { action: 'admin.tool_server_update', detail: { authMode: 'static', previousAuthMode: 'static', secretSent: false } },
    ]);
    const all = await f.tdb.db.prisma.auditRecord.findMany();
    expect(JSON.stringify(all, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(SECRET);
  });
});

describe('upstream error text stays in the log', () => {
  it('an upstream answering HTTP 500: the client learns which tool server failed and the status, not the body', async () => {
    const added = await add('platform', { name: 'flaky', url: failing.url, auth: { mode: 'none' } });
    expect(added.status).toBe(201);
    const { token } = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const { client } = await connectClient(`${f.gw.url}/t/acme/mcp`, token);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('flaky__echo');
    const r = await client.callTool({ name: 'flaky__echo', arguments: { text: 'x' } });
    const text = (r.content as { type: string; text: string }[])[0]!.text;
    expect(r.isError).toBe(true);
    expect(text).toBe('Tool server flaky failed: answered HTTP 500 (details are in the gateway log)');
    expect(JSON.stringify(r)).not.toContain(MARKER);
    expect(f.gw.logs.text()).toContain(MARKER);

    // A JSON-RPC error the upstream answers with is passed on unchanged.
    const err = await client.getPrompt({ name: 'flaky__nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientMcpError);
    expect((err as ClientMcpError).code).toBe(ErrorCode.InvalidParams);
    expect((err as ClientMcpError).message).toMatch(/nope/);
    await client.close();
  });

  const call: CallContext = { authInfo: undefined, signal: new AbortController().signal };
  const failingWith = (err: unknown): ToolServerConnection => ({
    name: 'svc',
    prefix: true,
    listTools: async () => [],
    callTool: async () => {
      throw err;
    },
    getPrompt: async () => {
      throw err;
    },
    close: async () => undefined,
  });

  it.each([
    // What the SDK v2 client throws (`SdkHttpError`, `SdkError`), and the gateway's own errors (`mcp-error.ts`).
    ['an HTTP error with a body', new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${MARKER}`, { status: 502 }), 'answered HTTP 502'],
    ['an unexpected content type', new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: text/${MARKER}`), 'protocol error'],
    ['a refused connection', new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ECONNREFUSED ${MARKER}`), { code: 'ECONNREFUSED' }) }), 'unreachable'],
    ['a request timeout', new SdkError(SdkErrorCode.RequestTimeout, `Request timed out ${MARKER}`), 'timed out'],
    ['a request timeout, as the gateway reports it', new McpError(ErrorCode.RequestTimeout, `Request timed out ${MARKER}`), 'timed out'],
    ['an invalid answer', z.object({ a: z.string() }).safeParse({ a: MARKER.length }).error, 'protocol error'],
    ['anything else', new Error(MARKER), 'unexpected error'],
  ])('%s → a generic reason; the details only in the log', async (_what, err, reason) => {
    expect(upstreamFailureReason(err)).toBe(reason);
    const logs = new LogCapture();
    const agg = createAggregator([failingWith(err)], { logger: createLogger({ level: 'warn', destination: logs }) });
    const r = await agg.callTool('svc__x', {}, call);
    expect(r).toMatchObject({ isError: true, content: [{ type: 'text', text: `Tool server svc failed: ${reason} (details are in the gateway log)` }] });
    expect(JSON.stringify(r)).not.toContain(MARKER);
    const thrown = (await agg.getPrompt('svc__p', undefined, call).catch((e: unknown) => e)) as McpError;
    expect(thrown.message).toBe(`MCP error ${ErrorCode.InternalError}: Tool server svc failed: ${reason} (details are in the gateway log)`);
    if (err instanceof Error && !(err instanceof z.ZodError)) expect(logs.text()).toContain(MARKER);
  });

  it('a JSON-RPC error answered by the upstream passes through unchanged', async () => {
    const err = new McpError(ErrorCode.InvalidParams, 'upstream says no', { why: 'because' });
    const agg = createAggregator([failingWith(err)], { logger: createLogger({ level: 'silent' }) });
    await expect(agg.callTool('svc__x', {}, call)).rejects.toBe(err);
    await expect(agg.getPrompt('svc__p', undefined, call)).rejects.toBe(err);
  });
});
