/** Teams: unknown → 404; `open` creates the membership on first use; `invite` refuses non-members with 403. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { DomainError } from '../../src/errors.js';

let tdb: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  await createTeam(tdb.db.prisma, { slug: 'closed', name: 'Closed', joinPolicy: 'invite', packs: ['demo'] });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

describe('join policy', () => {
  it('open: the first request makes the user a member', async () => {
    const { token, userId } = await tokenFor(gw, { email: 'new@example.com' });
    const res = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.text();
    const team = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    expect(await tdb.db.prisma.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId } } })).toMatchObject({ role: 'member' });
  });

  it('invite: a non-member gets 403 with a message saying what to do, and no session', async () => {
    const { token } = await tokenFor(gw, { email: 'stranger@example.com', team: 'closed' });
    const res = await rawPost(`${gw.url}/t/closed/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await res.json()).error.message).toMatch(/invite-only.*ask a team admin/);
    expect(await tdb.db.prisma.session.count({ where: { team: { slug: 'closed' } } })).toBe(0);
  });

  it('invite: a member gets in', async () => {
    const { token, userId } = await tokenFor(gw, { email: 'member@example.com', team: 'closed' });
    const team = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'closed' } });
    await tdb.db.prisma.membership.create({ data: { teamId: team.id, userId } });
    const res = await rawPost(`${gw.url}/t/closed/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.text();
  });

  it('createTeam validates and refuses duplicates', async () => {
    await expect(createTeam(tdb.db.prisma, { slug: 'Bad Slug', name: 'x' })).rejects.toMatchObject({ code: 'invalid_body' });
    await expect(createTeam(tdb.db.prisma, { slug: 'x', name: 'x', packs: ['nope'] })).rejects.toBeInstanceOf(DomainError);
    await expect(createTeam(tdb.db.prisma, { slug: 'closed', name: 'again' })).rejects.toMatchObject({ code: 'conflict' });
  });
});
