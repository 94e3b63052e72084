/**
 * Issue #5 "Tool servers": CRUD through the admin API with the shared config rules; secrets are write-only (sealed
 * at rest, never in a response or a log line); changes apply to new sessions and reach live ones as
 * `notifications/tools/list_changed` after switching to the new tool servers (or, for idle ones, a rebuild on
 * their next request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';
import { toolServerJson } from '../../src/admin/response-schemas.js';
import { ADMIN_API_KEY, startAdminFixture, type AdminFixture } from './admin-fixture.js';

const SECRET = 'sk-live-DO-NOT-LEAK-9f8e7d6c5b4a';
const SECRET_2 = 'sk-live-ROTATED-0a1b2c3d4e5f';

let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
  await f.call('POST', '/teams', { body: { slug: 'vault', name: 'Vault' } });
});
afterAll(async () => {
  await f?.close();
});

const fields = (body: { error: { details?: { field: string }[] } }) => (body.error.details ?? []).map((d) => d.field).sort();
const row = (name: string) => f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { name, team: { slug: 'vault' } } });

describe('tool server CRUD', () => {
  it('POST adds a built-in pack; GET lists and reads it', async () => {
    const res = await f.call('POST', '/teams/vault/tool-servers', { body: { name: 'tools', kind: 'builtin', pack: 'demo' } });
    expect(res.status).toBe(201);
    expect(toolServerJson.parse(res.body)).toMatchObject({ name: 'tools', kind: 'builtin', pack: 'demo', prefix: true, enabled: true });
    const list = await f.call('GET', '/teams/vault/tool-servers');
    expect(list.body).toEqual({ items: [res.body], nextCursor: null });
    expect((await f.call('GET', '/teams/vault/tool-servers/tools')).body).toEqual(res.body);
    const dup = await f.call('POST', '/teams/vault/tool-servers', { body: { name: 'tools', kind: 'builtin', pack: 'demo' } });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'conflict']);
  });

  it.each([
    ['a bad name', { name: 'Bad Name', kind: 'builtin', pack: 'demo' }, ['name']],
    ['an unknown pack', { name: 'x', kind: 'builtin', pack: 'nope' }, ['pack']],
    ['an unknown kind', { name: 'x', kind: 'magic' }, ['kind']],
    ['plain http to a remote host', { name: 'x', kind: 'remote', url: 'http://mcp.example.com/mcp' }, ['url']],
    ['static auth without a secret', { name: 'x', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'static' } }, ['auth.secret']],
    ['a typo', { name: 'x', kind: 'builtin', pack: 'demo', enabeld: false }, ['enabeld']],
    ['a field of the other kind', { name: 'x', kind: 'builtin', pack: 'demo', url: 'https://mcp.example.com/mcp' }, ['url']],
    ['an unknown auth field', { name: 'x', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'none', token: 'x' } }, ['auth.token']],
  ])('POST with %s → 400 naming the field', async (_what, body, expected) => {
    const res = await f.call('POST', '/teams/vault/tool-servers', { body });
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_body']);
    expect(fields(res.body)).toEqual(expected);
  });

  it('a static secret is sealed at rest and write-only: never in a response or a log line', async () => {
    const res = await f.call('POST', '/teams/vault/tool-servers', {
      body: { name: 'remote', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'static', header: 'X-Api-Key', secret: SECRET } },
    });
    expect(res.status).toBe(201);
    expect(res.body.auth).toEqual({ mode: 'static', header: 'X-Api-Key', secretSet: true });
    const stored = await row('remote');
    expect(stored.secretEncrypted).not.toContain(SECRET);
    expect(f.gw.app.box.open(stored.secretEncrypted!)).toBe(SECRET);
  });

  it('PATCH keeps a static secret (and header) that is not re-sent, replaces one that is', async () => {
    // The stored secret was meant for the stored URL: moving the server needs it sent again.
    const moved = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { url: 'https://mcp2.example.com/mcp' } });
    expect([moved.status, fields(moved.body)]).toEqual([400, ['auth.secret']]);
    const kept = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { enabled: true } });
    expect(kept.body).toMatchObject({ url: 'https://mcp.example.com/mcp', auth: { mode: 'static', header: 'X-Api-Key', secretSet: true } });
    expect(f.gw.app.box.open((await row('remote')).secretEncrypted!)).toBe(SECRET);

    const header = await f.call('PATCH', '/teams/vault/tool-servers/remote', { as: 'apiKey', body: { auth: { mode: 'static', header: 'Authorization' } } });
    expect(header.body.auth).toEqual({ mode: 'static', header: 'Authorization', secretSet: true });
    expect(f.gw.app.box.open((await row('remote')).secretEncrypted!)).toBe(SECRET);

    const rotated = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { auth: { mode: 'static', secret: SECRET_2 } } });
    expect(rotated.status).toBe(200);
    expect(f.gw.app.box.open((await row('remote')).secretEncrypted!)).toBe(SECRET_2);

    const none = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { auth: { mode: 'exchange' } } });
    expect(none.body.auth).toEqual({ mode: 'exchange' });
    expect((await row('remote')).secretEncrypted).toBeNull();
  });

  it('PATCH validates the result like a new tool server; the name is immutable (422)', async () => {
    const rename = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { name: 'other' } });
    expect([rename.status, rename.body.error.code, fields(rename.body)]).toEqual([422, 'unprocessable', ['name']]);
    const http = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { url: 'http://evil.example/mcp' } });
    expect([http.status, fields(http.body)]).toEqual([400, ['url']]);
    const wrongKind = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { pack: 'demo' } });
    expect([wrongKind.status, fields(wrongKind.body)]).toEqual([400, ['pack']]);
    const unknownAuth = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { auth: { mode: 'none', token: 'x' } } });
    expect([unknownAuth.status, fields(unknownAuth.body)]).toEqual([400, ['auth.token']]);
    const kind = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { kind: 'builtin', pack: 'demo' } });
    expect([kind.status, kind.body.error.code, fields(kind.body)]).toEqual([422, 'unprocessable', ['kind']]);
    const sameKind = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { kind: 'remote', name: 'remote', enabled: false } });
    expect([sameKind.status, sameKind.body.enabled]).toEqual([200, false]);
    const builtinUrl = await f.call('PATCH', '/teams/vault/tool-servers/tools', { body: { url: 'https://mcp.example.com/mcp' } });
    expect([builtinUrl.status, fields(builtinUrl.body)]).toEqual([400, ['url']]);
    const typo = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { enabeld: false } });
    expect([typo.status, fields(typo.body)]).toEqual([400, ['enabeld']]);
    const types = await f.call('PATCH', '/teams/vault/tool-servers/remote', { body: { enabled: 'no', prefix: 1 } });
    expect([types.status, fields(types.body)]).toEqual([400, ['enabled', 'prefix']]);
    const missing = await f.call('PATCH', '/teams/vault/tool-servers/nope', { body: { enabled: false } });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'tool_server_not_found']);
    const badName = await f.call('PATCH', '/teams/vault/tool-servers/NOPE!', { body: { enabled: false } });
    expect([badName.status, badName.body.error.code]).toEqual([400, 'invalid_path']);

  });

  it('PATCH refuses a name clash (an unprefixed pack twice) with 409', async () => {
    expect((await f.call('POST', '/teams/vault/tool-servers', { body: { name: 'tools2', kind: 'builtin', pack: 'demo' } })).status).toBe(201);
    expect((await f.call('PATCH', '/teams/vault/tool-servers/tools', { body: { prefix: false } })).status).toBe(200);
    const clash = await f.call('PATCH', '/teams/vault/tool-servers/tools2', { body: { prefix: false } });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'conflict']);
  });

  it('DELETE removes; then 404', async () => {
    expect((await f.call('DELETE', '/teams/vault/tool-servers/remote')).status).toBe(204);
    expect((await f.call('GET', '/teams/vault/tool-servers/remote')).body.error.code).toBe('tool_server_not_found');
    expect((await f.call('DELETE', '/teams/vault/tool-servers/remote')).status).toBe(404);
  });

  it('no secret ever appeared in a response or a log line, and nothing answered 500', async () => {
    await f.gw.app.audit.flush();
    const everything = f.seen.join('\n') + f.gw.logs.text();
    for (const secret of [SECRET, SECRET_2, ADMIN_API_KEY]) expect(everything).not.toContain(secret);
    expect(f.seen.filter((r) => r.startsWith('5'))).toEqual([]);
  });
});

describe('changes reach sessions', () => {
  it('a live session switches to the new tool servers and hears tools/list_changed; an idle one is rebuilt; new sessions see the change', async () => {
    const { token } = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const endpoint = `${f.gw.url}/t/acme/mcp`;
    const { client } = await connectClient(endpoint, token);
    let heard = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      heard++;
    });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    // A raw session without a stream: idle between requests.
    const init = await rawPost(endpoint, INIT, { authorization: `Bearer ${token}` });
    const idle = init.headers.get('mcp-session-id')!;
    await init.text();
    const listIdle = async () => {
      const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': idle, 'mcp-protocol-version': '2025-11-25' });
      const text = await res.text();
      const json = text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data: '))!.slice(6);
      const body = JSON.parse(json) as { result: { tools: { name: string }[] } };
      return body.result.tools.map((t) => t.name).sort();
    };
    expect(await listIdle()).toEqual(['demo__echo', 'demo__whoami']);

    const until = Date.now() + 5000;
    while (f.gw.app.sessions.liveSessionsOfTeam(f.acme.id).every((s) => s.inFlight === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));

    const added = await f.call('POST', '/teams/acme/tool-servers', { as: 'teamAdmin', body: { name: 'extra', kind: 'builtin', pack: 'demo' } });
    expect(added.status).toBe(201);
    const deadline = Date.now() + 5000;
    while (heard === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toBeGreaterThan(0);
    // The busy session (its GET stream is open) lists and calls the new tools without reconnecting.
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami', 'extra__echo', 'extra__whoami']);
    expect((await client.callTool({ name: 'extra__echo', arguments: { text: 'new' } })).content).toEqual([{ type: 'text', text: 'new' }]);
    expect(await listIdle()).toEqual(['demo__echo', 'demo__whoami', 'extra__echo', 'extra__whoami']);

    const fresh = await connectClient(endpoint, token);
    expect((await fresh.client.listTools()).tools.map((t) => t.name)).toContain('extra__echo');
    await f.call('PATCH', '/teams/acme/tool-servers/extra', { as: 'teamAdmin', body: { enabled: false } });
    const later = await connectClient(endpoint, token);
    expect((await later.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    await Promise.all([client.close(), fresh.client.close(), later.client.close()]);
  });
});

describe('access policy (README "Who may use which tool")', () => {
  it('POST and PATCH take a policy, GET shows it; PATCH replaces it as a whole and `{}` clears it; team admins may edit it', async () => {
    const policy = { tools: { create_issue: { roles: ['admin'] }, delete_repo: { hidden: true } }, prompts: { triage: { members: ['ada@example.com'] } } };
    const added = await f.call('POST', '/teams/acme/tool-servers', { as: 'teamAdmin', body: { name: 'guarded', kind: 'builtin', pack: 'demo', policy } });
    expect(added.status).toBe(201);
    expect(toolServerJson.parse(added.body).policy).toEqual(policy);
    expect((await f.call('GET', '/teams/acme/tool-servers/guarded')).body.policy).toEqual(policy);
    const replaced = await f.call('PATCH', '/teams/acme/tool-servers/guarded', { as: 'teamAdmin', body: { policy: { tools: { echo: { roles: ['member', 'admin'] } } } } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.policy).toEqual({ tools: { echo: { roles: ['member', 'admin'] } } });
    // A change of something else keeps the policy.
    expect((await f.call('PATCH', '/teams/acme/tool-servers/guarded', { body: { enabled: false } })).body.policy).toEqual({ tools: { echo: { roles: ['member', 'admin'] } } });
    const cleared = await f.call('PATCH', '/teams/acme/tool-servers/guarded', { body: { policy: {} } });
    expect(cleared.body.policy).toEqual({});
    expect((await row2('acme', 'guarded')).policy).toEqual({});
    // Empty rule maps are stored as nothing at all.
    expect((await f.call('PATCH', '/teams/acme/tool-servers/guarded', { body: { policy: { tools: {} } } })).body.policy).toEqual({});
    // Another team's admin may not.
    expect((await f.call('PATCH', '/teams/acme/tool-servers/guarded', { as: 'otherTeamAdmin', body: { policy: {} } })).status).toBe(403);
    expect((await f.call('PATCH', '/teams/acme/tool-servers/guarded', { as: 'member', body: { policy: {} } })).status).toBe(403);
    await f.call('DELETE', '/teams/acme/tool-servers/guarded');
  });

  it('a bad policy is 400 naming the bad field; unknown keys are refused, unknown tool names are not', async () => {
    await f.call('POST', '/teams/vault/tool-servers', { body: { name: 'pol', kind: 'builtin', pack: 'demo' } });
    const bad = async (policy: unknown, method: 'PATCH' | 'POST' = 'PATCH') => {
      const res =
        method === 'PATCH'
          ? await f.call('PATCH', '/teams/vault/tool-servers/pol', { body: { policy } })
          : await f.call('POST', '/teams/vault/tool-servers', { body: { name: 'pol2', kind: 'builtin', pack: 'demo', policy } });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_body');
      return { fields: fields(res.body), message: res.body.error.message as string };
    };
    expect(await bad({ tools: { create_issue: { roles: ['owner'] } } })).toEqual({
      fields: ['policy.tools.create_issue.roles.0'],
      message: expect.stringContaining('policy.tools.create_issue.roles.0 must be member or admin'),
    });
    expect((await bad({ tools: { create_issue: { role: ['admin'] } } })).fields).toContain('policy.tools.create_issue.role');
    expect((await bad({ tool: { create_issue: { hidden: true } } })).fields).toEqual(['policy.tool']);
    expect((await bad({ tools: { x: { hidden: true, roles: ['admin'] } } })).message).toContain('hidden cannot be combined with roles or members');
    expect((await bad({ tools: { x: {} } })).message).toContain('a rule needs hidden, roles or members');
    expect((await bad({ tools: { x: { hidden: false } } })).fields).toEqual(['policy.tools.x.hidden']);
    expect((await bad({ tools: { x: { roles: [] } } })).message).toContain('must name at least one role');
    expect((await bad({ tools: { x: { members: ['not an address'] } } })).message).toContain('policy.tools.x.members.0 must be an e-mail address or a user id');
    expect((await bad({ tools: [] })).fields).toEqual(['policy.tools']);
    expect((await bad('admins only')).fields).toEqual(['policy']);
    expect((await bad({ tools: { x: { roles: ['owner'] } } }, 'POST')).fields).toEqual(['policy.tools.x.roles.0']);
    // Nothing was stored by the refused ones.
    expect((await row('pol')).policy).toEqual({});
    // A tool the pack does not have (yet) is fine.
    const ok = await f.call('PATCH', '/teams/vault/tool-servers/pol', { body: { policy: { tools: { tomorrow: { members: ['5f0c8e2a-1b2c-4d3e-8f90-0123456789ab'] } } } } });
    expect(ok.status).toBe(200);
    await f.call('DELETE', '/teams/vault/tool-servers/pol');
  });

  it('the OpenAPI document describes the policy', async () => {
    const doc = (await f.call('GET', '/openapi.json')).body;
    const schemas = doc.components.schemas;
    expect(schemas.AccessPolicy.properties).toHaveProperty('tools');
    expect(schemas.AccessRule.properties).toHaveProperty('roles');
    expect(JSON.stringify(schemas.ToolServer)).toContain('AccessPolicy');
    expect(JSON.stringify(schemas.ToolServerPatch.properties.policy)).toContain('AccessPolicy');
    expect(JSON.stringify(schemas.ToolServerCreate)).toContain('AccessPolicy');
  });
});

const row2 = (team: string, name: string) => f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { name, team: { slug: team } } });
