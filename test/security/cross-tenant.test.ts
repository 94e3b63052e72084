/**
 * docs/architecture.md §Reliability and security, "Tenancy": the cross-tenant paths not walked elsewhere. Sessions of team A at team B's
 * endpoint (every method), rehydration that checks ownership before it rebuilds anything, a foreign request racing
 * the owner's rehydration, upstream sessions and exchange tokens per user, `GET /t/{team}/sessions` across teams,
 * team admins poking at another team's members, tool servers and sessions by id, and audit records per team.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient, INIT, rawPost } from '../helpers/mcp-client.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { startAdminFixture, type AdminFixture } from '../admin/admin-fixture.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import type { Principal } from '../../src/mcp/session-runtime.js';

let f: AdminFixture;
let up: UpstreamFixture;
let gx: UpstreamFixture;
const ids: Record<'dave' | 'erin', string> = { dave: '', erin: '' };

const acmeMcp = () => `${f.gw.url}/t/acme/mcp`;
const globexMcp = () => `${f.gw.url}/t/globex/mcp`;
const LIST = { jsonrpc: '2.0', id: 9, method: 'tools/list' };
const rehydrated = async () => Number((await f.gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_rehydrated_total')).match(/ (\d+)$/m)?.[1] ?? 0);

beforeAll(async () => {
  f = await startAdminFixture();
  up = await startUpstream('up');
  gx = await startUpstream('gx');
  const prisma = f.tdb.db.prisma;
  await addToolServer(prisma, f.gw.app.box, f.acme.id, { name: 'up', kind: 'remote', url: up.url });
  await addToolServer(prisma, f.gw.app.box, f.globex.id, { name: 'gx', kind: 'remote', url: gx.url });
  await addToolServer(prisma, f.gw.app.box, f.globex.id, { name: 'globex-only', kind: 'builtin', pack: 'demo', prefix: true });
  const dave = await f.gw.app.users.upsert('urn:switchboard:local', 'dave@example.com', 'dave@example.com');
  const erin = await f.gw.app.users.upsert('urn:switchboard:local', 'erin@example.com', 'erin@example.com');
  ids.dave = dave.id;
  ids.erin = erin.id;
  await prisma.membership.createMany({ data: [{ teamId: f.acme.id, userId: dave.id }, { teamId: f.globex.id, userId: erin.id }] });
});
afterAll(async () => {
  await f?.close();
  await up?.close();
  await gx?.close();
});

describe('MCP sessions across teams, users and clients', () => {
  it("a session of team A is 404 at team B for every method, even with the owner's own valid team-B token", async () => {
    const a = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const b = await tokenFor(f.gw, { email: 'carol@example.com', team: 'globex' }); // globex is open: carol joins it
    const { client, transport } = await connectClient(acmeMcp(), a.token);
    const sid = transport.sessionId!;
    const headers = { authorization: `Bearer ${b.token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };

    expect((await rawPost(globexMcp(), LIST, headers)).status).toBe(404);
    const get = await fetch(globexMcp(), { headers: { ...headers, accept: 'text/event-stream' } });
    expect(get.status).toBe(404);
    await get.body?.cancel();
    expect((await fetch(globexMcp(), { method: 'DELETE', headers })).status).toBe(404);
    // The team-A token is not accepted at team B at all, with or without the session.
    expect((await rawPost(globexMcp(), LIST, { ...headers, authorization: `Bearer ${a.token}` })).status).toBe(401);

    const row = await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } });
    expect(row.closedAt).toBeNull();
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('demo__echo');
    await client.close();
  });

  it('rehydration checks ownership before rebuilding: foreign tokens get 404 and nothing is built or sent upstream', async () => {
    const owner = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    // The owner speaks raw requests: an SDK client's GET stream, cut by the eviction, would reconnect (and rebuild the
    // session as its owner may) at a moment of its own, in the middle of what is measured here.
    const own = { authorization: `Bearer ${owner.token}`, 'mcp-protocol-version': '2025-11-25' };
    const sid = (await rawPost(acmeMcp(), INIT, own)).headers.get('mcp-session-id')!;
    expect((await rawPost(acmeMcp(), { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...own, 'mcp-session-id': sid })).status).toBe(202);
    const echo = async (text: string) => (await rawPost(acmeMcp(), { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'up__echo', arguments: { text } } }, { ...own, 'mcp-session-id': sid })).text();
    expect(await echo('hi')).toContain('up:hi');
    f.gw.app.sessions.evict(sid);
    const sizeBefore = f.gw.app.sessions.size;
    const rehydratedBefore = await rehydrated();
    const upstreamBefore = up.requests.length;

    const intruders = [
      (await tokenFor(f.gw, { email: 'dave@example.com', team: 'acme' })).token, // same team, other user
      (await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme', clientId: 'another-client' })).token, // same user, other client
      (await tokenFor(f.gw, { email: 'carol@example.com', team: 'globex' })).token, // same user, other team
    ];
    for (const token of intruders) {
      for (const endpoint of [acmeMcp(), globexMcp()]) {
        const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
        const statuses = [
          (await rawPost(endpoint, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'x' } } }, headers)).status,
          (await fetch(endpoint, { headers: { ...headers, accept: 'text/event-stream' } }).then(async (r) => (await r.body?.cancel(), r.status))),
          (await fetch(endpoint, { method: 'DELETE', headers })).status,
        ];
        // A token for the other endpoint is 401 there; everything else is 404. Never 2xx.
        for (const s of statuses) expect([401, 404]).toContain(s);
      }
    }
    expect(f.gw.app.sessions.size).toBe(sizeBefore);
    expect(await rehydrated()).toBe(rehydratedBefore);
    expect(up.requests.length).toBe(upstreamBefore);
    expect((await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } })).closedAt).toBeNull();

    // The owner's next request rebuilds it, once.
    expect(await echo('again')).toContain('up:again');
    expect(await rehydrated()).toBe(rehydratedBefore + 1);
  });

  it("a foreign request racing the owner's rehydration neither fails the owner's request nor gets the session", async () => {
    const owner = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const { client, transport } = await connectClient(acmeMcp(), owner.token);
    const sid = transport.sessionId!;
    const teamRef = (await f.gw.app.teams.find('acme'))!;
    const principal = (userId: string, email: string, clientId: string): Principal => ({
      team: teamRef,
      user: { id: userId, email },
      role: 'member',
      clientId,
      authInfo: { token: 'unused', clientId, scopes: ['mcp'], extra: {} } as AuthInfo,
    });
    for (let round = 0; round < 3; round++) {
      f.gw.app.sessions.evict(sid);
      // Same tick: the intruder asks first, the owner right after.
      const [foreign, own] = await Promise.all([
        f.gw.app.sessions.get(sid, principal(ids.dave, 'dave@example.com', 'test-client')),
        f.gw.app.sessions.get(sid, principal(owner.userId, 'carol@example.com', 'test-client')),
      ]);
      expect(foreign).toBeUndefined();
      expect(own?.id).toBe(sid);
    }
    await client.close();
  });

  it('each user of a team gets their own upstream session and their own exchange token, also after a rebuild', async () => {
    const carol = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const dave = await tokenFor(f.gw, { email: 'dave@example.com', team: 'acme' });
    const c = await connectClient(acmeMcp(), carol.token);
    const d = await connectClient(acmeMcp(), dave.token);
    up.requests.length = 0;
    await c.client.callTool({ name: 'up__echo', arguments: { text: 'c1' } });
    await d.client.callTool({ name: 'up__echo', arguments: { text: 'd1' } });
    f.gw.app.sessions.evict(c.transport.sessionId!);
    f.gw.app.sessions.evict(d.transport.sessionId!);
    await d.client.callTool({ name: 'up__echo', arguments: { text: 'd2' } });
    await c.client.callTool({ name: 'up__echo', arguments: { text: 'c2' } });

    const calls = up.requests.filter((r) => r.rpcMethod === 'tools/call');
    expect(calls).toHaveLength(4);
    const bySub = new Map<string, Set<string>>();
    for (const call of calls) {
      const auth = String(call.headers.authorization ?? '');
      expect(auth).toMatch(/^Bearer /);
      const token = auth.slice(7);
      expect([carol.token, dave.token]).not.toContain(token); // never the user's own access token
      const claims = decodeJwt(token);
      expect(claims.aud).toBe(up.url);
      expect(claims.team).toBe('acme');
      const subs = bySub.get(claims.sub!) ?? new Set<string>();
      subs.add(call.sessionId!);
      bySub.set(claims.sub!, subs);
    }
    expect([...bySub.keys()].sort()).toEqual([carol.userId, dave.userId].sort());
    const carolSessions = [...bySub.get(carol.userId)!];
    const daveSessions = [...bySub.get(dave.userId)!];
    // One upstream session per user, kept across the rebuild, and never shared.
    expect(carolSessions).toHaveLength(1);
    expect(daveSessions).toHaveLength(1);
    expect(carolSessions[0]).not.toBe(daveSessions[0]);
    await c.client.close();
    await d.client.close();
  });

  it("a team's tool servers are never visible at another team's endpoint", async () => {
    const carol = await tokenFor(f.gw, { email: 'carol@example.com', team: 'globex' });
    const { client } = await connectClient(globexMcp(), carol.token);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.some((n) => n.startsWith('up__'))).toBe(false);
    expect(names.some((n) => n.startsWith('gx__'))).toBe(true);
    const call = await client.callTool({ name: 'up__echo', arguments: { text: 'x' } }).catch((err: Error) => ({ isError: true, content: [{ text: err.message }] }));
    expect(call.isError).toBe(true);
    await client.close();
  });
});

describe('GET /t/{team}/sessions across teams', () => {
  it("shows the caller's sessions in that team only: not their other teams', not other users'; a token of another team is 401", async () => {
    const carolAcme = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
    const carolGlobex = await tokenFor(f.gw, { email: 'carol@example.com', team: 'globex' });
    const daveAcme = await tokenFor(f.gw, { email: 'dave@example.com', team: 'acme' });
    const mine = await connectClient(acmeMcp(), carolAcme.token, { headers: { 'x-chat-id': 'shared-chat' } });
    const elsewhere = await connectClient(globexMcp(), carolGlobex.token, { headers: { 'x-chat-id': 'shared-chat' } });
    const daves = await connectClient(acmeMcp(), daveAcme.token, { headers: { 'x-chat-id': 'shared-chat' } });

    const list = async (team: string, token: string, query = '') => {
      const res = await fetch(`${f.gw.url}/t/${team}/sessions${query}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as { items: { id: string; team: string; userId: string }[] } };
    };
    for (const query of ['', '?status=all', '?chat=shared-chat', '?client=test-client', '?status=active&limit=200']) {
      const r = await list('acme', carolAcme.token, query);
      expect(r.status).toBe(200);
      const sessionIds = r.body.items.map((s) => s.id);
      expect(sessionIds).toContain(mine.transport.sessionId);
      expect(sessionIds).not.toContain(elsewhere.transport.sessionId);
      expect(sessionIds).not.toContain(daves.transport.sessionId);
      for (const s of r.body.items) expect(s).toMatchObject({ team: 'acme', userId: carolAcme.userId });
    }
    expect((await list('globex', carolAcme.token)).status).toBe(401);
    expect((await list('acme', carolGlobex.token)).status).toBe(401);
    for (const c of [mine, elsewhere, daves]) await c.client.close();
  });
});

describe('team admins confined to their team (ids from another team in the path)', () => {
  it("cannot remove another team's member through their own team's path", async () => {
    const res = await f.call('DELETE', `/teams/acme/members/${ids.erin}`, { as: 'teamAdmin' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('member_not_found');
    expect(await f.tdb.db.prisma.membership.findUnique({ where: { teamId_userId: { teamId: f.globex.id, userId: ids.erin } } })).not.toBeNull();
  });

  it("cannot read, change or remove another team's tool server through their own team's path", async () => {
    const before = await f.tdb.db.prisma.toolServer.findUniqueOrThrow({ where: { teamId_name: { teamId: f.globex.id, name: 'gx' } } });
    for (const [method, body] of [['GET', undefined], ['PATCH', { enabled: false }], ['DELETE', undefined]] as const) {
      const res = await f.call(method, '/teams/acme/tool-servers/gx', { as: 'teamAdmin', ...(body ? { body } : {}) });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('tool_server_not_found');
    }
    expect(await f.tdb.db.prisma.toolServer.findUniqueOrThrow({ where: { teamId_name: { teamId: f.globex.id, name: 'gx' } } })).toEqual(before);
    const list = await f.call('GET', '/teams/acme/tool-servers?limit=200', { as: 'teamAdmin' });
    expect(list.body.items.map((t: { name: string }) => t.name)).not.toContain('gx');
  });

  it("never sees or ends another team's session, whatever the filters; the session stays open", async () => {
    const erin = await tokenFor(f.gw, { email: 'erin@example.com', team: 'globex' });
    const { client, transport } = await connectClient(globexMcp(), erin.token, { headers: { 'x-chat-id': 'erin-chat' } });
    const sid = transport.sessionId!;
    for (const q of ['', '?status=all', '?chat=erin-chat', '?client=test-client', `?limit=200`]) {
      const res = await f.call('GET', `/teams/acme/sessions${q}`, { as: 'teamAdmin' });
      expect(res.status).toBe(200);
      for (const s of res.body.items) expect(s.team).toBe('acme');
      expect(res.body.items.map((s: { id: string }) => s.id)).not.toContain(sid);
    }
    expect((await f.call('GET', `/sessions/${sid}`, { as: 'teamAdmin' })).status).toBe(404);
    expect((await f.call('DELETE', `/sessions/${sid}`, { as: 'teamAdmin' })).status).toBe(404);
    expect((await f.call('GET', `/users/${ids.erin}/sessions`, { as: 'teamAdmin' })).status).toBe(403);
    expect((await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } })).closedAt).toBeNull();
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    // The admin of globex does see it.
    expect((await f.call('GET', `/sessions/${sid}`, { as: 'otherTeamAdmin' })).status).toBe(200);
    await client.close();
  });

  it('audit records land in the team where things happened', async () => {
    const erin = await tokenFor(f.gw, { email: 'erin@example.com', team: 'globex' });
    const { client, transport } = await connectClient(globexMcp(), erin.token);
    await client.callTool({ name: 'gx__echo', arguments: { text: 'audited' } });
    await f.call('PATCH', '/teams/acme', { as: 'teamAdmin', body: { name: 'Acme' } });
    await f.gw.app.audit.flush();
    const prisma = f.tdb.db.prisma;
    const call = await prisma.auditRecord.findFirstOrThrow({ where: { sessionId: transport.sessionId!, action: 'tool_call' } });
    expect(call).toMatchObject({ teamId: f.globex.id, userId: ids.erin, target: 'gx__echo' });
    const byAlice = await prisma.auditRecord.findMany({ where: { actor: `user:${f.userIds.teamAdmin}` } });
    expect(byAlice.length).toBeGreaterThan(0);
    for (const r of byAlice) expect(r.teamId).toBe(f.acme.id);
    await client.close();
  });
});
