/**
 * Issue #9 item 1: e-mail lookups are exact (case-insensitive on the normalised address; `_` and `%` are ordinary
 * characters), and a team admin learns nothing about users outside the teams they administer: adding an address
 * with no account and one with an account elsewhere answer alike (202, a pending invitation), and the invitation
 * becomes a membership when that person signs in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';
import { invitationCreated, invitationJson, memberJson } from '../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';

let f: AdminFixture;
const ids: Record<'underscore' | 'lookalike' | 'erin' | 'twinA' | 'twinB', string> = { underscore: '', lookalike: '', erin: '', twinA: '', twinB: '' };

beforeAll(async () => {
  f = await startAdminFixture();
  const users = f.gw.app.users;
  ids.underscore = (await users.upsert('urn:test', 'u1', 'a_b@example.com')).id;
  ids.lookalike = (await users.upsert('urn:test', 'u2', 'axb@example.com')).id;
  // erin is in globex only: another tenant's user from acme's point of view.
  ids.erin = (await users.upsert('urn:test', 'erin', 'erin@example.com')).id;
  // The same address at two issuers, one of them in globex.
  ids.twinA = (await users.upsert('urn:idp-a', 'twin', 'twin@example.com')).id;
  ids.twinB = (await users.upsert('urn:idp-b', 'twin', 'twin@example.com')).id;
  await f.tdb.db.prisma.membership.createMany({
    data: [
      { teamId: f.globex.id, userId: ids.erin },
      { teamId: f.globex.id, userId: ids.twinA },
    ],
  });
});
afterAll(async () => {
  await f?.close();
});

const emailsOf = (body: { items: { email: string }[] }) => body.items.map((u) => u.email).sort();
const membership = (teamId: string, userId: string) => f.tdb.db.prisma.membership.findUnique({ where: { teamId_userId: { teamId, userId } } });

describe('GET /users?email= is an exact match', () => {
  it.each([
    ['%@%', []],
    ['%25@example.com', []],
    ['a%@example.com', []],
    ['a_b@example.com', ['a_b@example.com']],
    ['A_B@Example.COM', ['a_b@example.com']],
    ['___@example.com', []],
    ['a_b@example.co_', []],
  ])('%s → %j', async (email, expected) => {
    const res = await f.call('GET', `/users?email=${encodeURIComponent(email)}`);
    expect(res.status).toBe(200);
    expect(emailsOf(res.body)).toEqual(expected);
  });

  it('is still platform-only: a team admin cannot look anyone up', async () => {
    const res = await f.call('GET', '/users?email=carol@example.com', { as: 'teamAdmin' });
    expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
  });

  it('addresses are stored normalised, whatever the login passed in', async () => {
    const { id } = await f.gw.app.users.upsert('urn:test', 'shouty', '  Shouty@Example.COM ');
    expect(await f.tdb.db.prisma.user.findUnique({ where: { id }, select: { email: true } })).toEqual({ email: 'shouty@example.com' });
    expect(emailsOf((await f.call('GET', '/users?email=SHOUTY@example.com')).body)).toEqual(['shouty@example.com']);
  });
});

describe('POST /teams/{team}/members by e-mail, as a team admin', () => {
  it('a pattern never pulls anyone in: `___@example.com` is an invitation for that literal address', async () => {
    const res = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: '___@example.com' } });
    expect(res.status).toBe(202);
    expect(invitationCreated.parse(res.body).invitation).toMatchObject({ team: 'acme', email: '___@example.com', role: 'member' });
    expect(await f.tdb.db.prisma.membership.count({ where: { teamId: f.acme.id, userId: { in: [ids.underscore, ids.lookalike] } } })).toBe(0);
  });

  it('no account and an account in another tenant answer alike (status and body shape), and nobody is added', async () => {
    const none = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'nobody-here@example.com', role: 'admin' } });
    const other = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'Erin@Example.com', role: 'admin' } });
    // Several accounts elsewhere is no different either (it used to be 409 "several users").
    const twins = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'twin@example.com', role: 'admin' } });
    const shape = (r: typeof none) => ({ status: r.status, keys: Object.keys(r.body), invitationKeys: Object.keys(r.body.invitation).sort(), role: r.body.invitation.role });
    expect(shape(none)).toEqual(shape(other));
    expect(shape(none)).toEqual(shape(twins));
    expect(shape(none)).toEqual({ status: 202, keys: ['invitation'], invitationKeys: ['createdAt', 'email', 'role', 'team'], role: 'admin' });
    expect(other.body.invitation.email).toBe('erin@example.com');
    expect(await membership(f.acme.id, ids.erin)).toBeNull();
    expect(await f.tdb.db.prisma.membership.count({ where: { teamId: f.acme.id, userId: { in: [ids.twinA, ids.twinB] } } })).toBe(0);
  });

  it('by userId, a user outside their teams is an unknown id (404), exactly like a made-up one', async () => {
    const foreign = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { userId: ids.erin } });
    const madeUp = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { userId: '00000000-0000-4000-8000-000000000000' } });
    expect([foreign.status, foreign.body.error.code]).toEqual([404, 'user_not_found']);
    expect([madeUp.status, madeUp.body.error.code]).toEqual([404, 'user_not_found']);
    expect(foreign.body.error.message.replace(ids.erin, 'ID')).toBe(madeUp.body.error.message.replace('00000000-0000-4000-8000-000000000000', 'ID'));
    expect(await membership(f.acme.id, ids.erin)).toBeNull();
  });

  it('another team admin cannot invite into a team they do not administer', async () => {
    const res = await f.call('POST', '/teams/acme/members', { as: 'otherTeamAdmin', body: { email: 'sneaky@example.com' } });
    expect(res.status).toBe(403);
    expect(await f.tdb.db.prisma.teamInvitation.findUnique({ where: { teamId_email: { teamId: f.acme.id, email: 'sneaky@example.com' } } })).toBeNull();
  });
});

describe('invitations take effect at sign-in', () => {
  it('the other tenant’s user becomes a member with the invited role when she signs in', async () => {
    // erin@example.com was invited as admin above; her sign-in is a verified address at the local issuer.
    const { userId, token } = await tokenFor(f.gw, { email: 'erin@example.com', team: 'acme' });
    expect(await membership(f.acme.id, userId)).toMatchObject({ role: 'admin' });
    expect(await f.tdb.db.prisma.teamInvitation.count({ where: { email: 'erin@example.com' } })).toBe(0);
    const init = await rawPost(`${f.gw.url}/t/acme/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    await init.text();
  });

  it('a local sign-in through POST /dev/token (what `switchboard token` and the dev login do) claims the invitation', async () => {
    const invited = await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'Dev.Token@example.com', role: 'admin' } });
    expect(invited.status).toBe(202);
    const res = await fetch(`${f.gw.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'dev.token@EXAMPLE.com', team: 'acme' }) });
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    const user = await f.tdb.db.prisma.user.findFirstOrThrow({ where: { email: 'dev.token@example.com' } });
    expect(await membership(f.acme.id, user.id)).toMatchObject({ role: 'admin' });
    const init = await rawPost(`${f.gw.url}/t/acme/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    await init.text();
  });

  it('a sign-in with an unverified address claims nothing; a verified one does', async () => {
    await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'ext@example.com' } });
    const identity = { iss: 'https://idp.example.com', sub: 'ext-1', email: 'ext@example.com' };
    const unverified = await f.gw.app.users.fromToken({ ...identity, emailVerified: false }, f.gw.app.config.publicUrl);
    expect(await membership(f.acme.id, unverified!.id)).toBeNull();
    const verified = await f.gw.app.users.fromToken({ ...identity, sub: 'ext-2', emailVerified: true }, f.gw.app.config.publicUrl);
    expect(await membership(f.acme.id, verified!.id)).toMatchObject({ role: 'member' });
  });

  it('the invitations list shows pending ones; withdrawing removes one (404 the second time), and it is never claimed', async () => {
    await f.call('POST', '/teams/acme/members', { as: 'teamAdmin', body: { email: 'Withdrawn@example.com' } });
    const list = await f.call('GET', '/teams/acme/invitations?limit=200', { as: 'teamAdmin' });
    expect(list.status).toBe(200);
    for (const i of list.body.items) invitationJson.parse(i);
    const emails = list.body.items.map((i: { email: string }) => i.email);
    expect(emails).toEqual(expect.arrayContaining(['___@example.com', 'nobody-here@example.com', 'twin@example.com', 'withdrawn@example.com']));
    expect(emails).not.toContain('erin@example.com');
    expect((await f.call('GET', '/teams/globex/invitations', { as: 'teamAdmin' })).status).toBe(403);

    expect((await f.call('DELETE', '/teams/acme/invitations/WITHDRAWN%40example.com', { as: 'teamAdmin' })).status).toBe(204);
    const again = await f.call('DELETE', '/teams/acme/invitations/withdrawn%40example.com', { as: 'teamAdmin' });
    expect([again.status, again.body.error.code]).toEqual([404, 'invitation_not_found']);
    const { userId } = await tokenFor(f.gw, { email: 'withdrawn@example.com' });
    expect(await membership(f.acme.id, userId)).toBeNull();
  });

  it('pages through invitations with cursors of their own', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await f.call('GET', `/teams/acme/invitations?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { as: 'teamAdmin' });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i: { email: string }) => i.email));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.length).toBe(new Set(seen).size);
    expect(seen.length).toBe(await f.tdb.db.prisma.teamInvitation.count({ where: { teamId: f.acme.id } }));
    const members = (await f.call('GET', '/teams/acme/members?limit=1', { as: 'teamAdmin' })).body.nextCursor;
    expect((await f.call('GET', `/teams/acme/invitations?cursor=${members}`, { as: 'teamAdmin' })).body.error.code).toBe('invalid_query');
  });
});

describe('platform admins', () => {
  it('add an existing user directly, by exact address', async () => {
    const res = await f.call('POST', '/teams/acme/members', { body: { email: 'A_B@example.com' } });
    expect(res.status).toBe(201);
    expect(memberJson.parse(res.body)).toMatchObject({ userId: ids.underscore, email: 'a_b@example.com' });
    expect(await membership(f.acme.id, ids.lookalike)).toBeNull();
  });

  it('are told when several accounts share the address (409), and a team admin then sees the one in their team', async () => {
    const res = await f.call('POST', '/teams/globex/members', { body: { email: 'twin@example.com' } });
    expect([res.status, res.body.error.code]).toEqual([409, 'conflict']);
    // Only twinA is in globex: for its team admin the address is unambiguous.
    const asGlobexAdmin = await f.call('POST', '/teams/globex/members', { as: 'otherTeamAdmin', body: { email: 'twin@example.com', role: 'admin' } });
    expect([asGlobexAdmin.status, asGlobexAdmin.body.userId, asGlobexAdmin.body.role]).toEqual([200, ids.twinA, 'admin']);
  });

  it('invite an address without an account like anyone else', async () => {
    const res = await f.call('POST', '/teams/acme/members', { as: 'apiKey', body: { email: 'future@example.com' } });
    expect([res.status, res.body.invitation?.email]).toEqual([202, 'future@example.com']);
  });

  it('nothing above produced a 500', () => {
    expect(f.seen.filter((r) => r.startsWith('5'))).toEqual([]);
  });
});
