/**
 * 2026-07-28 §Custom Headers from Tool Parameters, on both sides of the gateway: a modern-only upstream (SDK v2
 * server, which refuses a call whose `Mcp-Param-*` headers do not match its arguments) with an annotated tool and two
 * invalid ones; the gateway leaves the invalid ones out, sends the headers of the upstream's schema with every call
 * it relays (from legacy and modern clients alike), and checks the headers modern clients send it (400 -32020).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { tokenFor } from '../helpers/gateway.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';
import { startModernUpstream, type ModernUpstreamFixture } from '../fixtures/modern-upstream.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { mirroredHeaders, paramHeaderMismatch, paramHeadersOf, type ParamHeader } from '../../src/toolservers/param-headers.js';

const t = useGatewayWithUpstream({ slug: 'params', name: 'Params' });
const endpoint = () => `${t.gw.url}/t/params/mcp`;
let mod: ModernUpstreamFixture;

beforeAll(async () => {
  mod = await startModernUpstream({ paramTools: true });
  const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'params' } });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'mod', kind: 'remote', url: mod.url });
});
afterAll(async () => {
  await mod?.close();
});

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;
const lastCall = () => mod.requests.filter((r) => r.rpcMethod === 'tools/call').at(-1)!;

/** A raw 2026-07-28 `tools/call` of `name` with its standard headers and `extra` ones; the parsed answer. */
async function rawCall(token: string, name: string, args: Record<string, unknown>, extra: Record<string, string>) {
  const res = await fetch(endpoint(), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name, ...extra },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, _meta: ENVELOPE } }),
  });
  return { status: res.status, body: (await res.json()) as { result?: { content: { text: string }[] }; error?: { code: number; message: string } } };
}

describe('x-mcp-header annotations', () => {
  const one = (schema: unknown) => paramHeadersOf(schema);
  it('are read from properties reached through properties alone, with the spec’s constraints', () => {
    const nested = one({ type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'integer', 'x-mcp-header': 'Deep' } } }, c: { type: 'string' } } });
    expect(nested).toEqual([{ name: 'Deep', header: 'mcp-param-deep', path: ['a', 'b'], type: 'integer' }]);
    expect(one({ type: 'object', properties: { x: { type: 'string' } } })).toEqual([]);
    // A property *named* x-mcp-header, or the key inside a default value, annotates nothing.
    expect(one({ type: 'object', properties: { 'x-mcp-header': { type: 'string' } }, default: { 'x-mcp-header': 'X' } })).toEqual([]);
    const invalid: [string, unknown][] = [
      ['under items', { type: 'object', properties: { l: { type: 'array', items: { type: 'string', 'x-mcp-header': 'I' } } } }],
      ['under anyOf', { type: 'object', anyOf: [{ properties: { a: { type: 'string', 'x-mcp-header': 'A' } } }] }],
      ['under $defs', { type: 'object', $defs: { d: { type: 'string', 'x-mcp-header': 'D' } }, properties: { a: { $ref: '#/$defs/d' } } }],
      ['on the root', { type: 'object', 'x-mcp-header': 'Root' }],
      ['on a number', { type: 'object', properties: { n: { type: 'number', 'x-mcp-header': 'N' } } }],
      ['on an object', { type: 'object', properties: { o: { type: 'object', 'x-mcp-header': 'O' } } }],
      ['not a token', { type: 'object', properties: { s: { type: 'string', 'x-mcp-header': 'Has Space' } } }],
      ['empty', { type: 'object', properties: { s: { type: 'string', 'x-mcp-header': '' } } }],
      ['twice, ignoring case', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'Same' }, b: { type: 'string', 'x-mcp-header': 'SAME' } } }],
    ];
    for (const [why, schema] of invalid) expect(one(schema), why).toHaveProperty('invalid');
  });

  it('are mirrored with the spec’s encoding and checked against the body (integers as numbers)', () => {
    const params = paramHeadersOf({
      type: 'object',
      properties: { r: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer', 'x-mcp-header': 'N' }, b: { type: 'boolean', 'x-mcp-header': 'B' } },
    }) as readonly ParamHeader[];
    expect(mirroredHeaders(params, { r: 'Zürich', n: 42, b: false })).toEqual({ 'mcp-param-region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=`, 'mcp-param-n': '42', 'mcp-param-b': 'false' });
    expect(mirroredHeaders(params, { r: null })).toEqual({});
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    expect(paramHeaderMismatch(params, { r: 'eu', n: 42 }, headers({ 'mcp-param-region': 'eu', 'mcp-param-n': '42.0' }))).toBeUndefined();
    expect(paramHeaderMismatch(params, { r: 'eu' }, headers({}))).toMatch(/Mcp-Param-Region header is absent/);
    expect(paramHeaderMismatch(params, { r: 'eu' }, headers({ 'mcp-param-region': 'us' }))).toMatch(/arguments.r is "eu" but the Mcp-Param-Region header says "us"/);
    expect(paramHeaderMismatch(params, {}, headers({ 'mcp-param-n': '1' }))).toMatch(/present but arguments.n has no value/);
    expect(paramHeaderMismatch(params, { r: 'eu' }, headers({ 'mcp-param-region': '=?base64?%%%?=' }))).toMatch(/invalid Base64/);
  });
});

describe('through the gateway', () => {
  it('invalid tools are left out with a warning; calls from either kind of client reach the upstream with its headers', async () => {
    const { token } = await tokenFor(t.gw, { email: 'modern-params@example.com', team: 'params' });
    const modern = new ModernClient({ name: 'modern', version: '2' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new ModernTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const tools = (await modern.listTools()).tools;
    const where = tools.find((x) => x.name === 'mod__where');
    expect((where?.inputSchema.properties as Record<string, Record<string, unknown>>).region!['x-mcp-header']).toBe('Region');
    expect(tools.map((x) => x.name)).not.toContain('mod__in_items');
    expect(tools.map((x) => x.name)).not.toContain('mod__on_number');
    expect(t.gw.logs.text()).toMatch(/"tool":"in_items".*x-mcp-header annotations are invalid/);

    // The SDK v2 client mirrors the parameters to the gateway, which checks them and sends the upstream's own.
    expect(textOf(await modern.callTool({ name: 'mod__where', arguments: { region: 'Zürich', shard: 3, dry: true, query: 'q1' } }))).toBe('ran q1 in Zürich shard 3 (dry)');
    expect(lastCall().headers).toMatchObject({ 'mcp-param-region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=`, 'mcp-param-shard': '3', 'mcp-param-dry-run': 'true' });
    await modern.close();

    // A legacy client knows nothing of the headers; the upstream (which refuses a call without them) still gets them.
    const legacyToken = (await tokenFor(t.gw, { email: 'legacy-params@example.com', team: 'params' })).token;
    const legacy = new Client({ name: 'legacy', version: '1' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${legacyToken}` } } }));
    expect(textOf(await legacy.callTool({ name: 'mod__where', arguments: { region: 'eu-west', query: 'q2' } }))).toBe('ran q2 in eu-west');
    expect(lastCall().headers['mcp-param-region']).toBe('eu-west');
    expect(lastCall().headers['mcp-param-shard']).toBeUndefined();
    await legacy.close();
  });

  it('a modern client’s missing or disagreeing Mcp-Param header is 400 -32020 and reaches no upstream', async () => {
    const { token } = await tokenFor(t.gw, { email: 'raw-params@example.com', team: 'params' });
    const calls = () => mod.requests.filter((r) => r.rpcMethod === 'tools/call').length;
    const before = calls();
    const missing = await rawCall(token, 'mod__where', { region: 'eu', query: 'x' }, {});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: -32020, message: expect.stringMatching(/arguments.region is set but the required Mcp-Param-Region header is absent/) });
    const wrong = await rawCall(token, 'mod__where', { region: 'eu', query: 'x' }, { 'mcp-param-region': 'us' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error!.message).toMatch(/"eu" but the Mcp-Param-Region header says "us"/);
    const stray = await rawCall(token, 'mod__where', { region: 'eu', query: 'x' }, { 'mcp-param-region': 'eu', 'mcp-param-shard': '7' });
    expect(stray.status).toBe(400);
    expect(calls()).toBe(before);

    const sentinel = await rawCall(token, 'mod__where', { region: 'eu', shard: 7, query: 'x' }, { 'mcp-param-region': `=?base64?${Buffer.from('eu').toString('base64')}?=`, 'mcp-param-shard': '7.0' });
    expect(sentinel.status).toBe(200);
    expect(sentinel.body.result!.content[0]!.text).toBe('ran x in eu shard 7');
    // A tool without annotations ignores Mcp-Param headers it does not know (intermediaries may add their own).
    const plain = await rawCall(token, 'up__echo', { text: 'hi' }, { 'mcp-param-other': 'x' });
    expect(plain.status).toBe(200);
  });

  it('an upstream that renamed a header since the gateway listed it: -32020, the gateway lists again and sends the call again', async () => {
    const { token } = await tokenFor(t.gw, { email: 'renamed@example.com', team: 'params' });
    const client = new Client({ name: 'legacy', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    await client.listTools(); // the gateway's shared listing now says Region
    mod.regionHeader = 'Zone';
    try {
      const before = mod.requests.length;
      expect(textOf(await client.callTool({ name: 'mod__where', arguments: { region: 'ap', query: 'q3' } }))).toBe('ran q3 in ap');
      const seen = mod.requests.slice(before).map((r) => r.rpcMethod);
      expect(seen.filter((m) => m === 'tools/call')).toHaveLength(2);
      expect(seen).toContain('tools/list');
      expect(lastCall().headers['mcp-param-zone']).toBe('ap');
    } finally {
      mod.regionHeader = 'Region';
      await client.close();
    }
  });

  it('a browser preflight may ask for Mcp-Param headers', async () => {
    const preflight = await fetch(endpoint(), {
      method: 'OPTIONS',
      headers: { origin: 'https://chatgpt.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, mcp-method, mcp-name, mcp-param-region, x-not-ours' },
    });
    expect(preflight.status).toBe(204);
    const allowed = preflight.headers.get('access-control-allow-headers')!.toLowerCase().split(',');
    expect(allowed).toContain('mcp-param-region');
    expect(allowed).not.toContain('x-not-ours');
  });
});
