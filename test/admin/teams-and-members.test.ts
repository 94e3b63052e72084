/**
 * Issue #5 "Teams, members": CRUD with its rules (immutable slug, members by e-mail or id, removal), user look-up,
 * and precise 4xx answers for every kind of bad input — never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { invitationCreated, memberJson, teamJson, userJson } from '../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';

let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
});
afterAll(async () => {
  await f?.close();
});

const fields = (body: { error: { details?: { field: string }[] } }) => (body.error.details ?? []).map((d) => d.field).sort();

describe('teams', () => {
  it('POST creates a team with the same code as the CLI (packs become tool servers)', async () => {
    const res = await f.call('POST', '/teams', { body: { slug: 'initech', name: 'Initech', joinPolicy: 'invite', packs: ['demo'] } });
    expect(res.status).toBe(201);
    expect(teamJson.parse(res.body)).toMatchObject({ slug: 'initech', name: 'Initech', joinPolicy: 'invite' });
    expect(await f.tdb.db.prisma.toolServer.findMany({ where: { teamId: res.body.id }, select: { name: true, pack: true } })).toEqual([{ name: 'demo', pack: 'demo' }]);
    const again = await f.call('POST', '/teams', { body: { slug: 'initech', name: 'Again' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it.each([
    ['a bad slug', { slug: 'Not A Slug', name: 'x' }, ['slug']],
    ['a missing name', { slug: 'ok-slug' }, ['name']],
    ['wrong types', { slug: 7, name: ['x'], joinPolicy: 'sometimes' }, ['joinPolicy', 'name', 'slug']],
    ['an unknown pack', { slug: 'ok-slug', name: 'x', packs: ['nope'] }, ['packs.0']],
    ['unknown fields', { slug: 'ok-slug', name: 'x', owner: 'me', joinpolicy: 'open' }, ['joinpolicy', 'owner']],
    ['not an object', ['slug'], ['']],
  ])('POST with %s → 400 invalid_body naming each field', async (_what, body, expected) => {
    const res = await f.call('POST', '/teams', { body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_body');
    expect(fields(res.body)).toEqual(expected);
  });

  it('POST with broken JSON, the wrong content type or a huge body → 400/400/413, nothing created', async () => {
    const before = await f.tdb.db.prisma.team.count();
    const broken = await f.call('POST', '/teams', { raw: '{"slug": "x",', headers: { 'content-type': 'application/json' } });
    expect([broken.status, broken.body.error.code]).toEqual([400, 'bad_request']);
    const form = await f.call('POST', '/teams', { raw: 'slug=x&name=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect([form.status, form.body.error.code]).toEqual([400, 'invalid_body']);
    const huge = await f.call('POST', '/teams', { body: { slug: 'huge', name: 'x'.repeat(100_000) } });
    expect([huge.status, huge.body.error.code]).toEqual([413, 'payload_too_large']);
    expect(await f.tdb.db.prisma.team.count()).toBe(before);
  });

  it('GET /teams pages by slug with opaque cursors', async () => {
    const slugs: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await f.call('GET', `/teams?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      slugs.push(...res.body.items.map((t: { slug: string }) => t.slug));
      cursor = res.body.nextCursor;
    } while (cursor);
    const all = (await f.tdb.db.prisma.team.findMany({ orderBy: { slug: 'asc' } })).map((t) => t.slug);
    expect(slugs).toEqual(all);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=1e9', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from(JSON.stringify(['members', 'x', 'y'])).toString('base64url')}`, 'cursor'],
    ['colour=blue', 'colour'],
  ])('GET /teams?%s → 400 invalid_query', async (query, field) => {
    const res = await f.call('GET', `/teams?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_query');
    expect(fields(res.body)).toContain(field);
  });

  it('GET one: a bad slug is 400 invalid_path, an unknown one 404 team_not_found', async () => {
    expect((await f.call('GET', '/teams/acme')).body).toMatchObject({ slug: 'acme', name: 'Acme' });
    const bad = await f.call('GET', '/teams/Bad_Slug');
    expect([bad.status, bad.body.error.code, fields(bad.body)]).toEqual([400, 'invalid_path', ['team']]);
    const unknown = await f.call('GET', '/teams/no-such-team');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'team_not_found']);
  });

  it('PATCH changes name and join policy; the slug is immutable (422); unknown fields 400', async () => {
    const res = await f.call('PATCH', '/teams/initech', { as: 'apiKey', body: { name: 'Initech Corp', joinPolicy: 'open', slug: 'initech' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ slug: 'initech', name: 'Initech Corp', joinPolicy: 'open' });
    const rename = await f.call('PATCH', '/teams/initech', { body: { slug: 'renamed' } });
    expect([rename.status, rename.body.error.code, fields(rename.body)]).toEqual([422, 'unprocessable', ['slug']]);
    const unknown = await f.call('PATCH', '/teams/initech', { body: { nmae: 'typo' } });
    expect([unknown.status, fields(unknown.body)]).toEqual([400, ['nmae']]);
    const badPolicy = await f.call('PATCH', '/teams/initech', { body: { joinPolicy: 'closed', name: '' } });
    expect([badPolicy.status, fields(badPolicy.body)]).toEqual([400, ['joinPolicy', 'name']]);
    expect((await f.call('PATCH', '/teams/nope-team', { body: { name: 'x' } })).status).toBe(404);
  });

  it('DELETE removes the team; its MCP endpoint is gone at once on this process', async () => {
    const { token } = await tokenFor(f.gw, { email: 'x@example.com', team: 'initech' });
    const before = await rawPost(`${f.gw.url}/t/initech/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(before.status).toBe(200);
    await before.text();
    expect((await f.call('DELETE', '/teams/initech')).status).toBe(204);
    expect((await rawPost(`${f.gw.url}/t/initech/mcp`, INIT, { authorization: `Bearer ${token}` })).status).toBe(404);
    expect((await f.call('DELETE', '/teams/initech')).status).toBe(404);
    await f.gw.app.audit.flush();
    expect(await f.tdb.db.prisma.auditRecord.findFirst({ where: { action: 'admin.team_delete', target: 'initech' } })).toMatchObject({ teamId: null, actor: 'user:' + f.userIds.platform });
  });

  it('unknown methods get 405 with Allow; unknown paths 404', async () => {
    const put = await f.call('PUT', '/teams/acme', { body: {} });
    expect([put.status, put.body.error.code]).toEqual([405, 'method_not_allowed']);
    expect(put.headers.get('allow')).toBe('GET, HEAD, PATCH, DELETE');
    const nope = await f.call('GET', '/nothing-here');
    expect([nope.status, nope.body.error.code]).toEqual([404, 'not_found']);
  });
});

describe('members', () => {
  it('POST by e-mail: a platform admin adds an existing user (case-insensitive); a team admin then changes their role (200)', async () => {
    const { userId } = await tokenFor(f.gw, { email: 'dave@example.com' });
    const added = await f.call('POST', '/teams/acme/members', { body: { email: 'Dave@Example.com' } });
    expect(added.status).toBe(201);
    expect(memberJson.parse(added.body)).toMatchObject({ userId, email: 'dave@example.com', role: 'member' });
    const promoted = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'DAVE@example.com', role: 'admin' } });
    expect([promoted.status, promoted.body.role]).toEqual([200, 'admin']);
  });

  it('an unknown e-mail becomes an invitation that takes effect at the first sign-in, in the invite-only team', async () => {
    const res = await f.call('POST', '/teams/acme/members', { body: { email: 'newbie@example.com' } });
    expect(res.status).toBe(202);
    expect(invitationCreated.parse(res.body)).toMatchObject({ invitation: { team: 'acme', email: 'newbie@example.com', role: 'member' } });
    const { token, userId } = await tokenFor(f.gw, { email: 'newbie@example.com', team: 'acme' });
    expect(await f.tdb.db.prisma.membership.findUnique({ where: { teamId_userId: { teamId: f.acme.id, userId } } })).toMatchObject({ role: 'member' });
    const init = await rawPost(`${f.gw.url}/t/acme/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    await init.text();
  });

  it.each([
    ['neither email nor userId', { role: 'member' }, ['email']],
    ['both', { email: 'a@example.com', userId: '5f0c8e2a-1d3b-4c6e-8f7a-9b0c1d2e3f40' }, ['email']],
    ['a bad e-mail', { email: 'not-an-email' }, ['email']],
    ['a bad UUID', { userId: '1234' }, ['userId']],
    ['a bad role', { email: 'a@example.com', role: 'owner' }, ['role']],
    ['an unknown field', { email: 'a@example.com', team: 'globex' }, ['team']],
  ])('POST with %s → 400', async (_what, body, expected) => {
    const res = await f.call('POST', '/teams/acme/members', { body });
    expect([res.status, res.body.error.code, fields(res.body)]).toEqual([400, 'invalid_body', expected]);
  });

  it('POST an unknown userId → 404 user_not_found', async () => {
    const res = await f.call('POST', '/teams/acme/members', { body: { userId: '00000000-0000-4000-8000-000000000000' } });
    expect([res.status, res.body.error.code]).toEqual([404, 'user_not_found']);
  });

  it('GET lists members oldest first, paged', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await f.call('GET', `/teams/acme/members?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { as: 'teamAdmin' });
      expect(res.status).toBe(200);
      for (const m of res.body.items) memberJson.parse(m);
      all.push(...res.body.items.map((m: { email: string }) => m.email));
      cursor = res.body.nextCursor;
    } while (cursor);
    // The fixture's two memberships were created together (same createdAt, ordered by user id).
    expect(all.slice(0, 2).sort()).toEqual(['alice@example.com', 'carol@example.com']);
    expect(all).toContain('newbie@example.com');
    expect(new Set(all).size).toBe(all.length);
  });

  it('DELETE removes; a bad id is 400 invalid_path, a non-member 404 member_not_found', async () => {
    const { userId } = await tokenFor(f.gw, { email: 'newbie@example.com' });
    expect((await f.call('DELETE', `/teams/acme/members/${userId}`, { as: 'teamAdmin' })).status).toBe(204);
    const again = await f.call('DELETE', `/teams/acme/members/${userId}`, { as: 'teamAdmin' });
    expect([again.status, again.body.error.code]).toEqual([404, 'member_not_found']);
    const bad = await f.call('DELETE', '/teams/acme/members/not-a-uuid', { as: 'teamAdmin' });
    expect([bad.status, bad.body.error.code, fields(bad.body)]).toEqual([400, 'invalid_path', ['userId']]);
  });
});

describe('users', () => {
  it('GET /users?email= finds users case-insensitively, with their memberships', async () => {
    const res = await f.call('GET', '/users?email=CAROL@example.com');
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(userJson.parse(res.body.items[0])).toMatchObject({ id: f.userIds.member, email: 'carol@example.com', memberships: [{ team: 'acme', role: 'member' }] });
    expect((await f.call('GET', '/users?email=nobody@example.com')).body).toEqual({ items: [], nextCursor: null });
  });

  it.each([['', 'email'], ['email=nope', 'email'], ['email=a@b.c&extra=1', 'extra']])('GET /users?%s → 400', async (query, field) => {
    const res = await f.call('GET', `/users?${query}`);
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_query']);
    expect(fields(res.body)).toContain(field);
  });

  it('sessions of an unknown user → 404; of a malformed id → 400; a malformed session id → 400', async () => {
    expect((await f.call('GET', '/users/00000000-0000-4000-8000-000000000000/sessions')).body.error.code).toBe('user_not_found');
    expect((await f.call('GET', '/users/42/sessions')).body.error.code).toBe('invalid_path');
    expect((await f.call('GET', `/users/${f.userIds.member}/sessions?status=open`)).body.error).toMatchObject({ code: 'invalid_query', details: [{ field: 'status' }] });
    expect((await f.call('GET', `/users/${f.userIds.member}/sessions?since=yesterday`)).body.error).toMatchObject({ code: 'invalid_query', details: [{ field: 'since' }] });
    expect((await f.call('GET', '/teams/acme/sessions?chatId=x&limit=500')).body.error).toMatchObject({ code: 'invalid_query', details: [{ field: 'limit' }, { field: 'chatId' }] });
    expect((await f.call('GET', '/sessions/%27;DROP%20TABLE')).body.error.code).toBe('invalid_path');
    expect((await f.call('DELETE', '/sessions/00000000-0000-4000-8000-000000000000')).body.error.code).toBe('session_not_found');
  });

  it('nothing above produced a 500', () => {
    expect(f.seen.filter((r) => r.startsWith('5'))).toEqual([]);
  });
});
