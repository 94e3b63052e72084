/**
 * Users' connections to `oauth` tool servers through the APIs: `GET/DELETE /t/{team}/connections` with the user's
 * MCP token, `GET/DELETE /admin/v1/users/{userId}/connections` for admins — never a token in any answer, every
 * path scoped to the caller's user and team; the 2026-07-28 era's `input_required` prompt; and the SSRF rule for
 * a tool server nobody approved.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../../helpers/gateway.js';
import { connectViaFetch, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';
import { createTeam } from '../../../src/teams/team-admin.js';
import { addToolServer } from '../../../src/toolservers/tool-server-config.js';

const ADMIN_KEY = 'admin-key-connections-0123456789abcdef';
const t = useOAuthUpstreamGateway('conn', { env: { ADMIN_API_KEY: ADMIN_KEY } });

async function user(email: string, team = 'conn') {
  const { token, userId } = await tokenFor(t.gw, { email, team });
  const client = new Client({ name: 'conn-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.gw.url}/t/${team}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const call = async () => ((await client.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult).content[0] as { text: string };
  return { token, userId, client, call };
}

const linkIn = (text: string) => /(http:\/\/\S+\/oauth\/upstream\/connect\?link=\S+)/.exec(text)![1]!;
const api = (path: string, token: string, method = 'GET') => fetch(`${t.gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

describe('connections endpoints', () => {
  it('a user lists and removes their own connection; other users and teams see nothing of it', async () => {
    const alice = await user('alice@example.com');
    await connectViaFetch(linkIn((await alice.call()).text), 'alice-upstream');
    expect((await alice.call()).text).toBe('sub=alice-upstream');

    const list = await api('/t/conn/connections', alice.token);
    expect(list.status).toBe(200);
    const body = (await list.json()) as { items: Record<string, unknown>[]; nextCursor: null };
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ team: 'conn', toolServer: 'gh', userId: alice.userId, refreshable: true });
    const stored = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId: alice.userId } });
    const text = JSON.stringify(body);
    expect(text).not.toContain(t.gw.app.box.open(stored.accessTokenEncrypted));
    expect(text).not.toContain(stored.accessTokenEncrypted);

    // Another user of the team, and the same user in another team, see none of it and cannot remove it.
    const bob = await user('bob@example.com');
    expect(((await (await api('/t/conn/connections', bob.token)).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await api('/t/conn/connections/gh', bob.token, 'DELETE')).status).toBe(404);
    await createTeam(t.tdb.db.prisma, { slug: 'conn-other', name: 'Other' });
    const elsewhere = await tokenFor(t.gw, { email: 'alice@example.com', team: 'conn-other' });
    expect(((await (await api('/t/conn-other/connections', elsewhere.token)).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await api('/t/conn-other/connections/gh', elsewhere.token, 'DELETE')).status).toBe(404);
    // A token for another team's resource is refused outright.
    expect((await api('/t/conn/connections', elsewhere.token)).status).toBe(401);
    expect((await api('/t/conn/connections/Not_A_Name!', alice.token, 'DELETE')).status).toBe(400);
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: alice.userId } })).toBe(1);

    const refreshToken = t.gw.app.box.open(stored.refreshTokenEncrypted!);
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(true);
    const removed = await api('/t/conn/connections/gh', alice.token, 'DELETE');
    expect(removed.status).toBe(204);
    // Revoked at the upstream's authorization server too (RFC 7009), not only forgotten here.
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(false);
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: alice.userId } })).toBe(0);
    expect((await alice.call()).text).toContain('/oauth/upstream/connect?link=');
    expect((await api('/t/conn/connections/gh', alice.token, 'DELETE')).status).toBe(404);
    for (const c of [alice, bob]) await c.client.close();
  });

  it('admins list a user’s connections (no tokens) and revoke one, audited; the user is prompted again', async () => {
    const carol = await user('carol@example.com');
    await connectViaFetch(linkIn((await carol.call()).text), 'carol-upstream');
    const list = await api(`/admin/v1/users/${carol.userId}/connections`, ADMIN_KEY);
    expect(list.status).toBe(200);
    const items = ((await list.json()) as { items: { id: string; toolServer: string }[] }).items;
    expect(items).toEqual([expect.objectContaining({ toolServer: 'gh', team: 'conn' })]);
    expect(Object.keys(items[0]!)).not.toContain('accessToken');

    expect((await api(`/admin/v1/users/${carol.userId}/connections/not-a-uuid`, ADMIN_KEY, 'DELETE')).status).toBe(400);
    const someoneElse = await user('dave@example.com');
    // The id of carol's connection under another user's path is not found.
    expect((await api(`/admin/v1/users/${someoneElse.userId}/connections/${items[0]!.id}`, ADMIN_KEY, 'DELETE')).status).toBe(404);
    expect((await api(`/admin/v1/users/00000000-0000-4000-8000-000000000000/connections`, ADMIN_KEY)).status).toBe(404);

    const stored = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId: carol.userId } });
    const refreshToken = t.gw.app.box.open(stored.refreshTokenEncrypted!);
    expect((await api(`/admin/v1/users/${carol.userId}/connections/${items[0]!.id}`, ADMIN_KEY, 'DELETE')).status).toBe(204);
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(false);
    expect((await carol.call()).text).toContain('/oauth/upstream/connect?link=');
    await t.gw.app.audit.flush();
    const audit = await t.tdb.db.prisma.auditRecord.findMany({ where: { action: 'admin.connection_revoke' } });
    expect(audit).toEqual([expect.objectContaining({ target: 'gh', outcome: 'ok', userId: carol.userId, detail: { upstream: 'revoked' } })]);
    for (const c of [carol, someoneElse]) await c.client.close();
  });
});

describe('removing or moving an oauth tool server', () => {
  /** A tool server `name` on the upstream, added through the admin API, and a user connected to it. */
  async function connectedTo(name: string, email: string) {
    // Through the admin API (as a platform admin: approved for the loopback address), so live caches hear of it.
    const added = await fetch(`${t.gw.url}/admin/v1/teams/conn/tool-servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, kind: 'remote', url: t.up.mcpUrl, auth: { mode: 'oauth', scopes: ['tools'] } }),
    });
    expect(added.status).toBe(201);
    const u = await user(email);
    const call = async () => ((await u.client.callTool({ name: `${name}__whoami`, arguments: {} })) as CallToolResult).content[0] as { text: string };
    await connectViaFetch(linkIn((await call()).text), `${email}-upstream`);
    expect((await call()).text).toBe(`sub=${email}-upstream`);
    const stored = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId: u.userId, toolServer: { name } } });
    const refreshToken = t.gw.app.box.open(stored.refreshTokenEncrypted!);
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(true);
    return { ...u, stored, refreshToken };
  }

  it('removing it revokes its users’ connections at the upstream, then forgets them', async () => {
    const erin = await connectedTo('gh2', 'erin@example.com');
    expect((await api('/admin/v1/teams/conn/tool-servers/gh2', ADMIN_KEY, 'DELETE')).status).toBe(204);
    expect(await t.up.refreshTokenActive(erin.refreshToken)).toBe(false);
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { id: erin.stored.id } })).toBe(0);
    await erin.client.close();
  });

  it('moving it to another URL revokes and forgets them too (their tokens were for the old URL); other changes keep them', async () => {
    const fay = await connectedTo('gh3', 'fay@example.com');
    const patch = (body: unknown) =>
      fetch(`${t.gw.url}/admin/v1/teams/conn/tool-servers/gh3`, { method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await patch({ enabled: true })).status).toBe(200);
    expect(await t.up.refreshTokenActive(fay.refreshToken)).toBe(true);
    expect((await patch({ url: `${t.up.mcpUrl}?moved=1` })).status).toBe(200);
    expect(await t.up.refreshTokenActive(fay.refreshToken)).toBe(false);
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { id: fay.stored.id } })).toBe(0);
    await fay.client.close();
  });
});

describe('the 2026-07-28 era', () => {
  it('a modern client without a connection gets input_required with the URL elicitation, then the link as a tool error', async () => {
    const { token } = await tokenFor(t.gw, { email: 'modern@example.com', team: 'conn' });
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'modern', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } },
    };
    const post = async (id: number, extra: Record<string, unknown> = {}) => {
      const res = await fetch(`${t.gw.url}/t/conn/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'gh__whoami' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'gh__whoami', arguments: {}, _meta: envelope, ...extra } }),
      });
      const text = await res.text();
      const lines = text.startsWith('{') ? [text] : text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
      return JSON.parse(lines.at(-1)!) as { result: Record<string, unknown> };
    };
    const first = (await post(1)).result as { resultType: string; inputRequests: Record<string, { method: string; params: { mode: string; url: string } }>; requestState: string };
    expect(first.resultType).toBe('input_required');
    const [key, ask] = Object.entries(first.inputRequests)[0]!;
    expect(ask).toMatchObject({ method: 'elicitation/create', params: { mode: 'url' } });
    expect(ask.params.url).toContain('/oauth/upstream/connect?link=');
    const done = (await post(2, { requestState: first.requestState, inputResponses: { [key]: { action: 'accept' } } })).result;
    expect(done).toMatchObject({ resultType: 'complete', isError: true });
    expect(JSON.stringify(done)).toContain('/oauth/upstream/connect?link=');
  });
});

describe('SSRF rules', () => {
  it('a tool server a team admin set (not approved for private addresses) never has its discovery reach a private address', async () => {
    const team = await createTeam(t.tdb.db.prisma, { slug: 'conn-ssrf', name: 'SSRF' });
    await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'gh', kind: 'remote', url: t.up.mcpUrl, auth: { mode: 'oauth' } }, { approvesPrivateAddresses: false });
    const eve = await user('eve@example.com', 'conn-ssrf');
    const prompt = await eve.call();
    const seen = t.up.metadataRequests;
    const page = await fetch(linkIn(prompt.text), { redirect: 'manual' });
    expect(page.status).toBe(502);
    expect(await page.text()).toContain('could not set up a login');
    expect(t.up.metadataRequests).toBe(seen);
    expect(await t.tdb.db.prisma.upstreamOAuthClient.count({ where: { teamId: team.id } })).toBe(0);
    expect(t.gw.logs.text()).toContain('non-public address');
    await eve.client.close();
  });
});
