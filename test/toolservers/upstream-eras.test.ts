/**
 * docs/architecture.md §Tool servers, upstreams of either protocol era behind one team: a modern-only upstream
 * (SDK v2 server refusing legacy requests) and a legacy one (SDK v1, sessions), reached by a legacy SDK v1 client
 * and an SDK v2 client in `auto` mode alike — lists, calls, prompts, resources; progress from the modern upstream
 * to both clients; both clients' cancellation reaching it; its `input_required` (elicitation) answered by each kind
 * of client; one `server/discover` probe per tool-server URL; the probe of a private address a platform admin did
 * not approve refused like any other connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';
import { startModernUpstream, type ModernUpstreamFixture } from '../fixtures/modern-upstream.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { streamText } from '../helpers/mcp-client.js';

const t = useGatewayWithUpstream({ slug: 'eras', name: 'Eras' });
const endpoint = (team = 'eras') => `${t.gw.url}/t/${team}/mcp`;
let mod: ModernUpstreamFixture;
/** Another modern upstream, saved by a team admin under a name that resolves to loopback (never approved). */
let unapproved: ModernUpstreamFixture;

beforeAll(async () => {
  [mod, unapproved] = await Promise.all([startModernUpstream(), startModernUpstream()]);
  const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'eras' } });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'mod', kind: 'remote', url: mod.url });
  const ssrf = await createTeam(t.tdb.db.prisma, { slug: 'eras-ssrf', name: 'Eras SSRF' });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, ssrf.id, { name: 'mod', kind: 'remote', url: unapproved.url.replace('127.0.0.1', 'localhost'), auth: { mode: 'none' } }, { approvesPrivateAddresses: false });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, ssrf.id, { name: 'demo', kind: 'builtin', pack: 'demo' });
});
afterAll(async () => {
  await Promise.all([mod?.close(), unapproved?.close()]);
});

type Elicit = (message: string) => { action: 'accept'; content: Record<string, string | number | boolean> };

/** A legacy (2025-11-25) SDK v1 client, declaring elicitation when `elicit` is given. */
async function legacyClient(email: string, elicit?: Elicit): Promise<Client> {
  const { token } = await tokenFor(t.gw, { email, team: 'eras', clientId: 'legacy-client' });
  const client = new Client({ name: 'legacy', version: '1' }, { capabilities: elicit ? { elicitation: { form: {} } } : {} });
  if (elicit) client.setRequestHandler(ElicitRequestSchema, async (r) => elicit(r.params.message));
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** A 2026-07-28 SDK v2 client in `auto` mode, declaring elicitation when `elicit` is given. */
async function modernClient(email: string, elicit?: Elicit, team = 'eras'): Promise<ModernClient> {
  const { token } = await tokenFor(t.gw, { email, team, clientId: 'modern-client' });
  const client = new ModernClient({ name: 'modern', version: '2' }, { versionNegotiation: { mode: 'auto' }, capabilities: elicit ? { elicitation: { form: {} } } : {} });
  if (elicit) client.setRequestHandler('elicitation/create', async (r) => elicit((r.params as { message: string }).message));
  await client.connect(new ModernTransport(new URL(endpoint(team)), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  expect(client.getProtocolEra()).toBe('modern');
  return client;
}

const MOD_CONFIG = `switchboard://mod/${encodeURIComponent('config://modern')}`;
const textOf = (r: unknown) => ((r as { content: { type: string; text: string }[] }).content[0]!).text;

describe('a modern-only and a legacy upstream behind one team', () => {
  it('both kinds of client list and call the tools of both, read prompts and resources — and the modern upstream is probed once', async () => {
    // Both clients' first uses at once: one probe between them.
    const [legacy, modern] = await Promise.all([legacyClient('both-legacy@example.com'), modernClient('both-modern@example.com')]);
    const [legacyTools, modernTools] = await Promise.all([legacy.listTools(), modern.listTools()]);
    for (const tools of [legacyTools.tools, modernTools.tools]) {
      expect(tools.map((x) => x.name)).toEqual(expect.arrayContaining(['up__echo', 'mod__echo', 'mod__confirm']));
    }
    expect(textOf(await legacy.callTool({ name: 'mod__echo', arguments: { text: 'a' } }))).toBe('modern:a');
    expect(textOf(await legacy.callTool({ name: 'up__echo', arguments: { text: 'b' } }))).toBe('up:b');
    expect(textOf(await modern.callTool({ name: 'mod__echo', arguments: { text: 'c' } }))).toBe('modern:c');
    expect(textOf(await modern.callTool({ name: 'up__echo', arguments: { text: 'd' } }))).toBe('up:d');

    for (const c of [legacy, modern] as const) {
      const prompt = await (c as Client).getPrompt({ name: 'mod__greet', arguments: { who: 'Ada' } });
      expect(JSON.stringify(prompt.messages)).toContain('Hello Ada from modern');
      const resources = (await (c as Client).listResources()).resources.map((r) => r.uri);
      expect(resources).toContain(MOD_CONFIG);
      const read = await (c as Client).readResource({ uri: MOD_CONFIG });
      expect(read.contents[0]).toMatchObject({ uri: MOD_CONFIG, text: 'era=modern' });
    }
    await Promise.all([legacy.close(), modern.close()]);

    // One probe for the modern upstream, one for the legacy one, whatever the number of sessions and requests.
    expect(mod.discoverCount).toBe(1);
    expect(t.up.requests.filter((r) => r.rpcMethod === 'server/discover')).toHaveLength(1);
    // Spoken to statelessly: never initialize, no session id, every request with its 2026-07-28 headers and envelope.
    expect(mod.requests.map((r) => r.rpcMethod)).not.toContain('initialize');
    for (const r of mod.requests) {
      expect(r.headers['mcp-session-id']).toBeUndefined();
      expect(r.headers['mcp-protocol-version']).toBe('2026-07-28');
      expect(r.headers['mcp-method']).toBe(r.rpcMethod);
      expect(r.meta?.['io.modelcontextprotocol/protocolVersion']).toBe('2026-07-28');
    }
    const call = mod.requests.find((r) => r.rpcMethod === 'tools/call')!;
    expect(call.headers['mcp-name']).toBe('echo');
    expect(call.meta?.['io.modelcontextprotocol/clientInfo']).toEqual({ name: 'switchboard', version: '0.1.0' });
  });

  it('the envelope carries what the client can answer; the client’s own _meta keys pass through', async () => {
    const client = await modernClient('meta-modern@example.com', () => ({ action: 'accept', content: {} }));
    const r = await client.callTool({ name: 'mod__meta', arguments: {}, _meta: { 'openai/session': 'conv-1' } });
    const seen = JSON.parse(textOf(r)) as { meta: Record<string, unknown>; envelope: Record<string, unknown> };
    expect(seen.meta['openai/session']).toBe('conv-1');
    expect(seen.envelope['io.modelcontextprotocol/clientCapabilities']).toMatchObject({ elicitation: {} });
    await client.close();
  });
});

describe('progress, cancellation and input_required across eras', () => {
  it('progress from the modern upstream reaches a legacy and a modern client', async () => {
    const legacy = await legacyClient('progress-legacy@example.com');
    const modern = await modernClient('progress-modern@example.com');
    const legacyProgress: number[] = [];
    const r1 = await legacy.callTool({ name: 'mod__progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => void legacyProgress.push(p.progress) });
    expect(textOf(r1)).toBe('modern done 3');
    expect(legacyProgress).toEqual([1, 2, 3]);
    const modernProgress: number[] = [];
    const r2 = await modern.callTool({ name: 'mod__progress', arguments: { steps: 2 } }, { onprogress: (p) => void modernProgress.push(p.progress) });
    expect(textOf(r2)).toBe('modern done 2');
    expect(modernProgress).toEqual([1, 2]);
    await Promise.all([legacy.close(), modern.close()]);
  });

  it('a legacy and a modern client cancelling a call cancel it at the modern upstream', async () => {
    const legacy = await legacyClient('cancel-legacy@example.com');
    const modern = await modernClient('cancel-modern@example.com');
    const cases = [
      ['legacy-cancel', (signal: AbortSignal) => legacy.callTool({ name: 'mod__wait', arguments: { id: 'legacy-cancel' } }, undefined, { signal })],
      ['modern-cancel', (signal: AbortSignal) => modern.callTool({ name: 'mod__wait', arguments: { id: 'modern-cancel' } }, { signal })],
    ] as const;
    for (const [id, start] of cases) {
      const ac = new AbortController();
      const pending = start(ac.signal);
      // Cancelled once the upstream's handler runs and listens for it (the request arriving is not enough).
      await expect.poll(() => mod.waiting, { timeout: 5_000 }).toContain(id);
      ac.abort();
      await expect(pending).rejects.toThrow();
      await expect.poll(() => mod.cancelled, { timeout: 5_000 }).toContain(id);
    }
    await Promise.all([legacy.close(), modern.close()]);
  });

  it('an elicitation of the modern upstream (input_required) answered by each kind of client completes the call', async () => {
    const asked: string[] = [];
    const elicit: Elicit = (message) => (asked.push(message), { action: 'accept', content: { ok: true } });
    const legacy = await legacyClient('elicit-legacy@example.com', elicit);
    const modern = await modernClient('elicit-modern@example.com', elicit);
    expect(textOf(await legacy.callTool({ name: 'mod__confirm', arguments: { what: 'deploy' } }))).toBe('confirmed deploy: {"ok":true} (state asked:deploy)');
    expect(textOf(await modern.callTool({ name: 'mod__confirm', arguments: { what: 'ship' } }))).toBe('confirmed ship: {"ok":true} (state asked:ship)');
    expect(asked).toEqual(['Really deploy?', 'Really ship?']);
    // Each call was retried upstream as a new request carrying the answer and the upstream's state.
    const retries = mod.requests.filter((r) => r.rpcMethod === 'tools/call' && r.params?.requestState !== undefined);
    expect(retries.map((r) => [r.params!.requestState, r.params!.inputResponses])).toEqual([
      ['asked:deploy', { confirm: { action: 'accept', content: { ok: true } } }],
      ['asked:ship', { confirm: { action: 'accept', content: { ok: true } } }],
    ]);
    await Promise.all([legacy.close(), modern.close()]);
  });

  it('an elicitation of the modern upstream during prompts/get (not relayed: through the session) is answered by each kind of client', async () => {
    const asked: string[] = [];
    const elicit: Elicit = (message) => (asked.push(message), { action: 'accept', content: { ok: true } });
    const legacy = await legacyClient('approve-legacy@example.com', elicit);
    const modern = await modernClient('approve-modern@example.com', elicit);
    const a = await legacy.getPrompt({ name: 'mod__approve', arguments: { what: 'a' } });
    const b = await modern.getPrompt({ name: 'mod__approve', arguments: { what: 'b' } });
    expect(JSON.stringify(a.messages)).toContain('approved a: {\\"ok\\":true}');
    expect(JSON.stringify(b.messages)).toContain('approved b: {\\"ok\\":true}');
    expect(asked).toEqual(['Approve a?', 'Approve b?']);
    await Promise.all([legacy.close(), modern.close()]);
  });

  it('a client that cannot answer is not asked: the modern upstream is told it has no elicitation', async () => {
    const legacy = await legacyClient('no-elicit@example.com');
    const calls = mod.requests.length;
    const r = await legacy.callTool({ name: 'mod__echo', arguments: { text: 'x' } });
    expect(textOf(r)).toBe('modern:x');
    expect(mod.requests.slice(calls).at(-1)!.meta?.['io.modelcontextprotocol/clientCapabilities']).toEqual({});
    await legacy.close();
  });
});

describe('resource subscriptions to a modern upstream (its subscriptions/listen stream)', () => {
  it('a legacy client subscribing opens a listen stream upstream that brings resource updates and list changes; unsubscribing closes it', async () => {
    const legacy = await legacyClient('subscribe-legacy@example.com');
    const updates: string[] = [];
    let toolsChanged = 0;
    legacy.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void updates.push(n.params.uri));
    legacy.setNotificationHandler(ToolListChangedNotificationSchema, async () => void toolsChanged++);
    await legacy.listTools(); // opens the client's own stream (GET) in the meantime
    expect(mod.listening).toBe(0);
    await legacy.subscribeResource({ uri: MOD_CONFIG });
    expect(mod.listening).toBe(1);
    const listen = mod.requests.filter((r) => r.rpcMethod === 'subscriptions/listen').at(-1)!;
    expect(listen.params?.notifications).toMatchObject({ toolsListChanged: true, resourceSubscriptions: ['config://modern'] });
    mod.updated('config://modern');
    mod.updated('config://other'); // not subscribed: the upstream does not send it
    await expect.poll(() => updates).toEqual([MOD_CONFIG]);
    mod.toolsChanged();
    await expect.poll(() => toolsChanged).toBeGreaterThan(0);
    await legacy.unsubscribeResource({ uri: MOD_CONFIG });
    await expect.poll(() => mod.listening).toBe(0);
    await legacy.close();
  });

  it('a modern client’s subscriptions/listen with the resource gets its updates through the upstream’s listen stream', async () => {
    const { token } = await tokenFor(t.gw, { email: 'listen-modern@example.com', team: 'eras', clientId: 'modern-client' });
    const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const controller = new AbortController();
    const res = await fetch(endpoint(), {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { _meta: envelope, notifications: { resourceSubscriptions: [MOD_CONFIG] } } }),
    });
    const stream = streamText(res);
    await stream.until('acknowledged');
    expect(stream.text()).toContain(JSON.stringify([MOD_CONFIG]));
    expect(mod.listening).toBe(1);
    mod.updated('config://modern');
    await stream.until('resources/updated');
    expect(stream.text()).toContain(`"uri":"${MOD_CONFIG}"`);
    controller.abort();
    await expect.poll(() => mod.listening).toBe(0);
  });
});

describe('SSRF: the probe is a connection like any other', () => {
  it('a modern upstream at a private address a platform admin did not approve is never reached, not even probed', async () => {
    const client = await modernClient('ssrf@example.com', undefined, 'eras-ssrf');
    const names = (await client.listTools()).tools.map((x) => x.name);
    expect(names).toContain('demo__echo');
    expect(names.filter((n) => n.startsWith('mod__'))).toEqual([]);
    const r = await client.callTool({ name: 'mod__echo', arguments: { text: 'x' } });
    expect(r.isError).toBe(true);
    expect(unapproved.requests).toEqual([]);
    expect(unapproved.discoverCount).toBe(0);
    expect(t.gw.logs.text()).toMatch(/connection to a tool server refused: The host localhost resolves to a non-public address/);
    await client.close();
  });
});
