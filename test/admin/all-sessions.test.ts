/**
 * Issue 13 item 9: `GET /admin/v1/sessions` — every team's sessions for platform admins, only their teams' for team
 * admins; filters `team`, `user` (e-mail, exact, case-insensitive), `chat`, `status`; keyset pages without
 * duplicates or gaps while sessions keep appearing. Also the item's smaller points: a missing required parameter
 * says "is required" rather than zod's wording.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOf, sessionJson } from '../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';

let f: AdminFixture;
const sessionList = listOf(sessionJson, 'SessionList');
let dora: string;
const T0 = Date.now() - 3_600_000;
let tick = 0;

beforeAll(async () => {
  f = await startAdminFixture();
  dora = (await f.gw.app.users.upsert('urn:test', 'dora', 'dora@example.com')).id;
});
afterAll(async () => {
  await f?.close();
});

async function newSession(team: 'acme' | 'globex', userId: string, opts: { chat?: string; clientId?: string } = {}): Promise<string> {
  const id = randomUUID();
  await f.gw.app.store.create({
    id,
    teamId: team === 'acme' ? f.acme.id : f.globex.id,
    userId,
    clientId: opts.clientId ?? 'lists-client',
    chatExternalId: opts.chat ?? null,
    clientName: 'lists',
    clientVersion: '1',
    protocolVersion: '2025-11-25',
    clientCapabilities: {},
    initializeRequest: {},
  });
  // Distinct, increasing creation times, so the expected order does not hang on two inserts' milliseconds.
  await f.tdb.db.prisma.session.update({ where: { id }, data: { createdAt: new Date(T0 + ++tick) } });
  return id;
}

async function ids(query: string, as: 'platform' | 'teamAdmin' = 'platform'): Promise<string[]> {
  const res = await f.call('GET', `/sessions?${query}`, { as });
  expect(res.status, res.text).toBe(200);
  return sessionList.parse(res.body).items.map((s) => s.id);
}

describe('GET /admin/v1/sessions', () => {
  it('lists every team’s sessions for a platform admin, filtered by team, user, chat and status', async () => {
    const a = await newSession('acme', f.userIds.member, { chat: 'lists-chat', clientId: 'c-filter' });
    const g = await newSession('globex', dora, { chat: 'lists-chat', clientId: 'c-filter' });
    const closed = await newSession('globex', dora, { clientId: 'c-filter' });
    expect((await f.call('DELETE', `/sessions/${closed}`)).status).toBe(200);

    expect(await ids('client=c-filter')).toEqual([closed, g, a]);
    expect(await ids('client=c-filter&team=globex')).toEqual([closed, g]);
    expect(await ids('client=c-filter&user=%20DORA@Example.COM')).toEqual([closed, g]);
    expect(await ids('client=c-filter&chat=lists-chat')).toEqual([g, a]);
    expect(await ids('client=c-filter&status=active')).toEqual([g, a]);
    expect(await ids('client=c-filter&status=closed')).toEqual([closed]);
    // Exact: `_` is not a wildcard, and a prefix is not a match.
    expect(await ids('client=c-filter&user=d_ra@example.com')).toEqual([]);
    expect(await ids('client=c-filter&user=dora@example.co')).toEqual([]);
  });

  it('shows a team admin only the teams they administer; another team in a filter is 403', async () => {
    const mine = await newSession('acme', f.userIds.member, { clientId: 'c-tenancy' });
    await newSession('globex', dora, { clientId: 'c-tenancy' });
    expect(await ids('client=c-tenancy', 'teamAdmin')).toEqual([mine]);
    expect(await ids('client=c-tenancy&team=acme', 'teamAdmin')).toEqual([mine]);
    // Dora has sessions only in globex: for alice (acme's admin) she has none.
    expect(await ids('client=c-tenancy&user=dora@example.com', 'teamAdmin')).toEqual([]);
    for (const team of ['globex', 'no-such-team']) {
      const res = await f.call('GET', `/sessions?team=${team}`, { as: 'teamAdmin' });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', message: `You are not an admin of team ${team}` });
    }
    const res = await f.call('GET', '/sessions?team=no-such-team');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('team_not_found');
  });

  it('pages newest first without duplicates or gaps while new sessions appear', async () => {
    const made: string[] = [];
    for (let i = 0; i < 9; i++) made.unshift(await newSession(i % 2 ? 'acme' : 'globex', dora, { clientId: 'c-paging' }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await f.call('GET', `/sessions?client=c-paging&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...sessionList.parse(res.body).items.map((s) => s.id));
      cursor = res.body.nextCursor;
      await newSession('acme', dora, { clientId: 'c-paging' }); // newer than every page: never shows up below
    } while (cursor);
    expect(seen).toEqual(made);
  });

  it('answers bad parameters with a 400 naming each', async () => {
    for (const [query, field, message] of [
      ['user=nope', 'user', 'must be an e-mail address'],
      ['status=open', 'status', 'Invalid option'],
      ['team=ACME!', 'team', 'must be a team slug'],
      ['cursor=%%%', 'cursor', ''],
      ['since=today', 'since', ''],
      ['teams=acme', 'teams', 'unknown field'],
    ] as const) {
      const res = await f.call('GET', `/sessions?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('invalid_query');
      if (field !== 'cursor') expect(res.body.error.details, query).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringContaining(message) })]));
    }
  });
});

describe('missing required parameters', () => {
  it('GET /users without email says that email is required', async () => {
    const res = await f.call('GET', '/users');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid_query', message: 'Invalid query: email is required', details: [{ field: 'email', message: 'is required' }] });
  });

  it('a body without a required field says so too (POST /teams)', async () => {
    const res = await f.call('POST', '/teams', { body: { name: 'No slug' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'slug', message: 'is required' }]);
  });
});
