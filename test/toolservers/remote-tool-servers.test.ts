/**
 * docs/interface.md §4 with real upstream MCP servers: aggregation of two upstreams with namespacing, what each auth mode
 * sends upstream (asserted on the raw headers the upstream received), an upstream that is down, and the audit
 * record of a remote tool call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { deadUrl, startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

let tdb: TestDatabase;
let gw: TestGateway;
let alpha: UpstreamFixture;
let beta: UpstreamFixture;

async function team(slug: string, servers: unknown[]): Promise<void> {
  const t = await createTeam(tdb.db.prisma, { slug, name: slug });
  for (const s of servers) await addToolServer(tdb.db.prisma, gw.app.box, t.id, s);
}

async function connect(slug: string, email = 'ada@example.com'): Promise<{ client: Client; token: string; userId: string; sessionId: string }> {
  const { token, userId } = await tokenFor(gw, { email, team: slug });
  const { client, transport } = await connectClient(`${gw.url}/t/${slug}/mcp`, token);
  return { client, token, userId, sessionId: transport.sessionId! };
}

const textOf = (r: unknown) => ((r as { content: { type: string; text?: string }[] }).content[0]?.text ?? '');
const headersSeenBy = (u: UpstreamFixture) => u.requests.map((r) => r.headers);

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  [alpha, beta] = await Promise.all([startUpstream('alpha'), startUpstream('beta')]);
  await team('acme', [
    { name: 'alpha', kind: 'remote', url: alpha.url },
    { name: 'beta', kind: 'remote', url: beta.url },
    { name: 'demo', kind: 'builtin', pack: 'demo' },
  ]);
  await team('pass', [{ name: 'alpha', kind: 'remote', url: alpha.url, auth: { mode: 'passthrough' } }]);
  await team('static', [{ name: 'alpha', kind: 'remote', url: alpha.url, auth: { mode: 'static', header: 'X-Api-Key', secret: 's3cret-value' } }]);
  await team('anon', [{ name: 'alpha', kind: 'remote', url: alpha.url, auth: { mode: 'none' } }]);
  await team('partly-down', [
    { name: 'alpha', kind: 'remote', url: alpha.url },
    { name: 'dead', kind: 'remote', url: await deadUrl() },
  ]);
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([alpha?.close(), beta?.close()]);
  await tdb?.drop();
});

describe('two upstreams behind one endpoint', () => {
  it('lists the tools of both (and the built-in pack) with prefixes, and routes each call to its upstream', async () => {
    const { client } = await connect('acme');
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const n of ['echo', 'headers', 'progress', 'sample', 'ask']) {
      expect(names).toContain(`alpha__${n}`);
      expect(names).toContain(`beta__${n}`);
    }
    expect(names).toContain('demo__echo');
    expect(textOf(await client.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } }))).toBe('alpha:hi');
    expect(textOf(await client.callTool({ name: 'beta__echo', arguments: { text: 'hi' } }))).toBe('beta:hi');
    expect(textOf(await client.callTool({ name: 'demo__echo', arguments: { text: 'hi' } }))).toBe('hi');
    await client.close();
  });

  it('exchange (default): the upstream gets a per-user JWT it can verify with the gateway JWKS — never the user token', async () => {
    alpha.requests.length = 0;
    const { client, token, userId } = await connect('acme', 'grace@example.com');
    await client.callTool({ name: 'alpha__echo', arguments: { text: 'x' } });
    const seen = headersSeenBy(alpha);
    expect(seen.length).toBeGreaterThan(0);
    const auths = new Set(seen.map((h) => h.authorization));
    expect(auths.size).toBe(1);
    const bearer = [...auths][0]!;
    expect(bearer).toMatch(/^Bearer /);
    expect(JSON.stringify(seen)).not.toContain(token);

    const jwks = createRemoteJWKSet(new URL(`${gw.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(bearer.slice('Bearer '.length), jwks, { issuer: gw.url, audience: alpha.url });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: userId, email: 'grace@example.com', team: 'acme', scope: 'mcp', act: { sub: 'test-client' } });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now());
    // Beta gets its own token: the audience is the tool server's URL.
    beta.requests.length = 0;
    await client.callTool({ name: 'beta__echo', arguments: { text: 'x' } });
    const betaToken = beta.requests[0]!.headers.authorization!.slice('Bearer '.length);
    await expect(jwtVerify(betaToken, jwks, { issuer: gw.url, audience: alpha.url })).rejects.toThrow();
    await jwtVerify(betaToken, jwks, { issuer: gw.url, audience: beta.url });
    await client.close();
  });

  it('passthrough: the upstream gets the user’s own access token', async () => {
    alpha.requests.length = 0;
    const { client, token } = await connect('pass');
    expect(textOf(await client.callTool({ name: 'alpha__echo', arguments: { text: 'p' } }))).toBe('alpha:p');
    for (const h of headersSeenBy(alpha)) expect(h.authorization).toBe(`Bearer ${token}`);
    await client.close();
  });

  it('static: the upstream gets the configured header and secret, and no Authorization at all', async () => {
    alpha.requests.length = 0;
    const { client, token } = await connect('static');
    await client.callTool({ name: 'alpha__echo', arguments: { text: 's' } });
    const seen = headersSeenBy(alpha);
    expect(seen.length).toBeGreaterThan(0);
    for (const h of seen) {
      expect(h['x-api-key']).toBe('s3cret-value');
      expect(h.authorization).toBeUndefined();
    }
    expect(JSON.stringify(seen)).not.toContain(token);
    expect(gw.logs.text()).not.toContain('s3cret-value');
    await client.close();
  });

  it('none: the upstream never sees the user’s token nor any Authorization header', async () => {
    alpha.requests.length = 0;
    const { client, token } = await connect('anon');
    await client.callTool({ name: 'alpha__echo', arguments: { text: 'n' } });
    const seen = headersSeenBy(alpha);
    expect(seen.length).toBeGreaterThan(0);
    for (const h of seen) expect(h.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(token);
    await client.close();
  });
});

describe('an upstream that is down', () => {
  it('drops out of the list, the others still work, and a call to it is a tool error naming it (audited, counted)', async () => {
    const { client, sessionId } = await connect('partly-down');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('alpha__echo');
    expect(names.some((n) => n.startsWith('dead__'))).toBe(false);
    expect(textOf(await client.callTool({ name: 'alpha__echo', arguments: { text: 'ok' } }))).toBe('alpha:ok');

    const r = await client.callTool({ name: 'dead__echo', arguments: { text: 'x' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('Tool server dead failed: unreachable (details are in the gateway log)');
    expect(textOf(r)).not.toMatch(/ECONNREFUSED|fetch failed|127\.0\.0\.1/);

    const metrics = await gw.app.metrics.registry.metrics();
    expect(metrics).toMatch(/switchboard_upstream_failures_total\{server="dead"\} [1-9]/);
    await gw.app.audit.flush();
    const audits = await tdb.db.prisma.auditRecord.findMany({ where: { sessionId, action: 'tool_call' }, orderBy: { id: 'asc' } });
    expect(audits.map((a) => [a.target, a.outcome])).toEqual([
      ['alpha__echo', 'ok'],
      ['dead__echo', 'upstream_error'],
    ]);
    expect(audits[0]).toMatchObject({ chat: null, detail: null });
    expect(audits[0]!.durationMs).toBeGreaterThanOrEqual(0);
    await client.close();
  });

  it('a tool error from upstream reaches the client as a tool error (not an upstream failure)', async () => {
    const { client, sessionId } = await connect('acme');
    const r = await client.callTool({ name: 'alpha__fail', arguments: {} });
    expect(r).toMatchObject({ isError: true, content: [{ type: 'text', text: 'it failed upstream' }] });
    await gw.app.audit.flush();
    const audit = await tdb.db.prisma.auditRecord.findFirstOrThrow({ where: { sessionId, target: 'alpha__fail' } });
    expect(audit.outcome).toBe('tool_error');
    await client.close();
  });
});

describe('prompts, resources and completions', () => {
  it('are namespaced per tool server and round-trip', async () => {
    const { client } = await connect('acme');
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
    expect(prompts).toEqual(['alpha__greet', 'beta__greet']);
    const got = await client.getPrompt({ name: 'beta__greet', arguments: { who: 'Ada' } });
    expect(JSON.stringify(got.messages)).toContain('Hello Ada from beta');

    const resources = (await client.listResources()).resources;
    const alphaReadme = resources.find((r) => r.uri.includes('alpha'))!;
    expect(alphaReadme.uri).toBe(`switchboard://alpha/${encodeURIComponent('file:///readme.txt')}`);
    const read = await client.readResource({ uri: alphaReadme.uri });
    expect(read.contents[0]).toMatchObject({ uri: alphaReadme.uri, text: 'readme of alpha' });

    const templates = (await client.listResourceTemplates()).resourceTemplates;
    const betaItem = templates.find((t) => t.uriTemplate.startsWith('switchboard://beta/'))!;
    expect(betaItem.uriTemplate).toBe(`switchboard://beta/${encodeURIComponent('items://')}{id}${encodeURIComponent('/detail')}`);
    const expanded = betaItem.uriTemplate.replace('{id}', 'pear');
    expect((await client.readResource({ uri: expanded })).contents[0]).toMatchObject({ uri: expanded, text: 'item pear of beta' });

    const completion = await client.complete({ ref: { type: 'ref/resource', uri: betaItem.uriTemplate }, argument: { name: 'id', value: 'ap' } });
    expect(completion.completion.values).toEqual(['apple', 'apricot']);
    await client.close();
  });
});
