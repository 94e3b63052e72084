/**
 * docs/interface.md §3 "/admin/v1" and issue #5 "who may do what": every admin route × every kind of caller, table-driven.
 * The expectations below are written out independently of `src/admin/authorization.ts`, and the test fails when a
 * route exists there but not here (or the other way round).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTHORIZATION } from '../../src/admin/authorization.js';
import { ADMIN_ROUTES } from '../../src/admin/routes/index.js';
import { ADMIN_API_KEY, CALLERS, startAdminFixture, type AdminFixture, type Caller } from './admin-fixture.js';

let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
});
afterAll(async () => {
  await f?.close();
});

type Who = 'platform' | 'acme-admins' | 'session-admins' | 'any-admin' | 'anyone';
interface Case {
  who: Who;
  ok: number;
  /** Builds a fresh request (mutating routes get their own resource per call). */
  prepare(): Promise<{ path: string; body?: unknown }>;
}

let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}-${randomUUID().slice(0, 6)}`;

async function newSession(): Promise<string> {
  const id = randomUUID();
  await f.gw.app.store.create({
    id,
    teamId: f.acme.id,
    userId: f.userIds.member,
    clientId: 'matrix-client',
    chatExternalId: 'matrix-chat',
    clientName: 'matrix',
    clientVersion: '1',
    protocolVersion: '2025-11-25',
    clientCapabilities: {},
    initializeRequest: {},
  });
  return id;
}

async function newMember(): Promise<string> {
  const user = await f.gw.app.users.upsert('urn:test', unique('user'), `${unique('m')}@example.com`);
  await f.tdb.db.prisma.membership.create({ data: { teamId: f.acme.id, userId: user.id } });
  return user.id;
}

async function newToolServer(): Promise<string> {
  const name = unique('ts').slice(0, 32);
  await f.tdb.db.prisma.toolServer.create({ data: { teamId: f.acme.id, name, kind: 'builtin', pack: 'demo' } });
  return name;
}

/** A connection of the acme member to an `oauth` tool server (tokens are opaque sealed strings here). */
async function newConnection(): Promise<string> {
  const ts = await f.tdb.db.prisma.toolServer.create({ data: { teamId: f.acme.id, name: unique('oa').slice(0, 32), kind: 'remote', url: 'https://mcp.example.com/mcp', authMode: 'oauth' } });
  const c = await f.tdb.db.prisma.upstreamConnection.create({
    data: { teamId: f.acme.id, userId: f.userIds.member, toolServerId: ts.id, resource: ts.url!, accessTokenEncrypted: f.gw.app.box.seal('at') },
  });
  return c.id;
}

const CASES: Record<string, Case> = {
  'GET /openapi.json': { who: 'anyone', ok: 200, prepare: async () => ({ path: '/openapi.json' }) },
  'GET /teams': { who: 'platform', ok: 200, prepare: async () => ({ path: '/teams' }) },
  'POST /teams': { who: 'platform', ok: 201, prepare: async () => ({ path: '/teams', body: { slug: unique('t'), name: 'New' } }) },
  'GET /teams/{team}': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme' }) },
  'PATCH /teams/{team}': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme', body: { name: 'Acme' } }) },
  'DELETE /teams/{team}': {
    who: 'platform',
    ok: 204,
    async prepare() {
      const slug = unique('doomed');
      await f.tdb.db.prisma.team.create({ data: { slug, name: slug } });
      return { path: `/teams/${slug}` };
    },
  },
  'GET /teams/{team}/members': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme/members' }) },
  // An address without an account is invited, for every caller.
  'POST /teams/{team}/members': {
    who: 'acme-admins',
    ok: 202,
    prepare: async () => ({ path: '/teams/acme/members', body: { email: `${unique('new')}@example.com` } }),
  },
  'DELETE /teams/{team}/members/{userId}': { who: 'acme-admins', ok: 204, prepare: async () => ({ path: `/teams/acme/members/${await newMember()}` }) },
  'GET /teams/{team}/invitations': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme/invitations' }) },
  'DELETE /teams/{team}/invitations/{email}': {
    who: 'acme-admins',
    ok: 204,
    async prepare() {
      const email = `${unique('invited')}@example.com`;
      await f.tdb.db.prisma.teamInvitation.create({ data: { teamId: f.acme.id, email } });
      return { path: `/teams/acme/invitations/${encodeURIComponent(email)}` };
    },
  },
  'GET /teams/{team}/tool-servers': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme/tool-servers' }) },
  'POST /teams/{team}/tool-servers': {
    who: 'acme-admins',
    ok: 201,
    prepare: async () => ({ path: '/teams/acme/tool-servers', body: { name: unique('p').slice(0, 32), kind: 'builtin', pack: 'demo' } }),
  },
  'GET /teams/{team}/tool-servers/{name}': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme/tool-servers/demo' }) },
  'PATCH /teams/{team}/tool-servers/{name}': {
    who: 'acme-admins',
    ok: 200,
    prepare: async () => ({ path: '/teams/acme/tool-servers/demo', body: { enabled: true } }),
  },
  'DELETE /teams/{team}/tool-servers/{name}': {
    who: 'acme-admins',
    ok: 204,
    prepare: async () => ({ path: `/teams/acme/tool-servers/${await newToolServer()}` }),
  },
  'GET /teams/{team}/sessions': { who: 'acme-admins', ok: 200, prepare: async () => ({ path: '/teams/acme/sessions' }) },
  'GET /users': { who: 'platform', ok: 200, prepare: async () => ({ path: '/users?email=carol@example.com' }) },
  'GET /users/{userId}/sessions': { who: 'platform', ok: 200, prepare: async () => ({ path: `/users/${f.userIds.member}/sessions` }) },
  // A user outside the teams you administer does not exist for you.
  'GET /users/{userId}/connections': { who: 'session-admins', ok: 200, prepare: async () => ({ path: `/users/${f.userIds.member}/connections` }) },
  'DELETE /users/{userId}/connections/{id}': { who: 'session-admins', ok: 204, prepare: async () => ({ path: `/users/${f.userIds.member}/connections/${await newConnection()}` }) },
  'GET /sessions/{sessionId}': { who: 'session-admins', ok: 200, prepare: async () => ({ path: `/sessions/${await newSession()}` }) },
  'DELETE /sessions/{sessionId}': { who: 'session-admins', ok: 200, prepare: async () => ({ path: `/sessions/${await newSession()}` }) },
  'GET /sessions': { who: 'any-admin', ok: 200, prepare: async () => ({ path: '/sessions?status=all' }) },
  'GET /audit': { who: 'any-admin', ok: 200, prepare: async () => ({ path: '/audit?outcome=ok' }) },
};

/** What each caller gets, by who the route is for (`ok` = the route's success status). */
const EXPECTED: Record<Who, Record<Caller, number | 'ok'>> = {
  anyone: { platform: 'ok', apiKey: 'ok', teamAdmin: 'ok', otherTeamAdmin: 'ok', member: 'ok', anonymous: 'ok', expired: 'ok', wrongAudience: 'ok', wrongKey: 'ok' },
  platform: { platform: 'ok', apiKey: 'ok', teamAdmin: 403, otherTeamAdmin: 403, member: 403, anonymous: 401, expired: 401, wrongAudience: 401, wrongKey: 401 },
  'acme-admins': { platform: 'ok', apiKey: 'ok', teamAdmin: 'ok', otherTeamAdmin: 403, member: 403, anonymous: 401, expired: 401, wrongAudience: 401, wrongKey: 401 },
  // Gateway-wide lists: every admin, each seeing only what they administer (test/admin/gateway-lists.test.ts).
  'any-admin': { platform: 'ok', apiKey: 'ok', teamAdmin: 'ok', otherTeamAdmin: 'ok', member: 403, anonymous: 401, expired: 401, wrongAudience: 401, wrongKey: 401 },
  // A session outside the teams you administer does not exist for you.
  'session-admins': { platform: 'ok', apiKey: 'ok', teamAdmin: 'ok', otherTeamAdmin: 404, member: 403, anonymous: 401, expired: 401, wrongAudience: 401, wrongKey: 401 },
};

describe('the authorization matrix', () => {
  it('covers exactly the routes of the authorization table, and every route is defined', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(ADMIN_AUTHORIZATION).sort());
    expect(ADMIN_ROUTES.map((r) => r.key).sort()).toEqual(Object.keys(ADMIN_AUTHORIZATION).sort());
  });

  const rows = Object.entries(CASES).flatMap(([key, c]) => CALLERS.map((caller) => [key, caller, c] as const));
  it.each(rows)('%s as %s', async (key, caller, c) => {
    const [method] = key.split(' ') as [string];
    const { path, body } = await c.prepare();
    const res = await f.call(method, path, { as: caller, ...(body !== undefined ? { body } : {}) });
    const expected = EXPECTED[c.who][caller];
    expect({ status: res.status, body: res.body }).toMatchObject({ status: expected === 'ok' ? c.ok : expected });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      expect(challenge).toMatch(/^Bearer realm="switchboard-admin"/);
      if (caller === 'anonymous') expect(challenge).toBe('Bearer realm="switchboard-admin"');
      else expect(challenge).toContain('error="invalid_token"');
      expect(res.body.error.code).toBe('unauthorized');
    }
    if (caller === 'wrongKey' && res.status === 401) {
      // Issue 13 item 9: a mistyped API key is not "the access token is malformed".
      expect(res.body.error.message).toBe('Invalid API key or access token: the bearer value is neither ADMIN_API_KEY nor a well-formed access token');
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="switchboard-admin", error="invalid_token", error_description="Invalid API key or access token: the bearer value is neither ADMIN_API_KEY nor a well-formed access token"',
      );
    }
    if (res.status === 403) expect(res.body.error.code).toBe('forbidden');
    // A success answers exactly what the OpenAPI document promises (the schemas are strict).
    const route = ADMIN_ROUTES.find((r) => r.key === key)!;
    const schema = [route.success, ...route.alternatives].find((s) => s.status === res.status)?.schema;
    if (res.status < 300 && schema) schema.parse(res.body);
    if (res.status === 404) expect(res.body.error.code).toBe(route.key.includes('/connections') ? 'user_not_found' : 'session_not_found');
  });

  it('a refused mutation changes nothing', async () => {
    const before = await f.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'globex' } });
    const res = await f.call('PATCH', '/teams/globex', { as: 'teamAdmin', body: { name: 'Hijacked' } });
    expect(res.status).toBe(403);
    expect(await f.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'globex' } })).toEqual(before);
  });

  it('a team admin promoted by the API gains access at once; demoted, loses it', async () => {
    const res1 = await f.call('GET', '/teams/acme/members', { as: 'member' });
    expect(res1.status).toBe(403);
    const promote = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { userId: f.userIds.member, role: 'admin' } });
    expect(promote.status).toBe(200);
    expect((await f.call('GET', '/teams/acme/members', { as: 'member' })).status).toBe(200);
    await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { userId: f.userIds.member, role: 'member' } });
    expect((await f.call('GET', '/teams/acme/members', { as: 'member' })).status).toBe(403);
  });

  it('only "Bearer" credentials count; the API key is never echoed or logged', async () => {
    const basic = await f.call('GET', '/teams', { as: 'anonymous', headers: { authorization: `Basic ${Buffer.from(`x:${ADMIN_API_KEY}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await f.gw.app.audit.flush();
    expect(f.seen.join('\n')).not.toContain(ADMIN_API_KEY);
    expect(f.gw.logs.text()).not.toContain(ADMIN_API_KEY);
  });
});
