/**
 * `switchboard teams list|create|delete`, `members add|list|remove` and `token` on an invite-only team, against a
 * real PostgreSQL: the CLI goes through the admin API's services (invitations for unknown addresses, exact e-mail
 * matching, sessions ended on removal, audit records), and its errors name its flags, not the services' fields.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { createUserDirectory } from '../../src/teams/users.js';
import { runCli } from '../../src/cli/index.js';

let tdb: TestDatabase;
const key = randomBytes(32).toString('base64');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await runCli(args, { DATABASE_URL: tdb.url!, ENCRYPTION_KEY: key, LOG_LEVEL: 'warn' });
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe.skipIf(!TEST_DATABASE_URL)('teams and members from the CLI (needs TEST_DATABASE_URL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('teams create names flags in its errors; teams list shows every team; teams delete wants --yes', async () => {
    const badJoin = await cli('teams', 'create', 'acme', '--join', 'closed');
    expect(badJoin.code).toBe(2);
    expect(badJoin.err).toMatch(/^--join must be one of open, invite/);
    const badPack = await cli('teams', 'create', 'acme', '--pack', 'nope');
    expect(badPack.code).toBe(2);
    expect(badPack.err).toMatch(/^--pack: unknown pack; known: demo/);
    expect(badPack.err).not.toContain('packs.0');
    const badSlug = await cli('teams', 'create', 'Acme!');
    expect(badSlug.err).toMatch(/^the team slug: must be 1–63 lowercase/);

    expect(await cli('teams', 'create', 'acme', '--join', 'invite', '--name', 'Acme Inc.')).toMatchObject({ code: 0 });
    expect(await cli('teams', 'create', 'zeta')).toMatchObject({ code: 0 });
    const list = await cli('teams', 'list');
    expect(list.code).toBe(0);
    expect(list.out.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^acme\s+invite\s+Acme Inc\.$/), expect.stringMatching(/^zeta\s+open\s+zeta$/)]);
    const json = JSON.parse((await cli('teams', 'list', '--json')).out) as { items: { slug: string; joinPolicy: string }[] };
    expect(json.items.map((t) => [t.slug, t.joinPolicy])).toEqual([['acme', 'invite'], ['zeta', 'open']]);

    const unconfirmed = await cli('teams', 'delete', 'zeta');
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.err).toContain('--yes');
    expect(await cli('teams', 'delete', 'zeta', '--yes')).toMatchObject({ code: 0, out: 'deleted team zeta\n' });
    expect(await tdb.db.prisma.team.count({ where: { slug: 'zeta' } })).toBe(0);
    expect(await cli('teams', 'delete', 'zeta', '--yes')).toMatchObject({ code: 1, err: 'No team zeta\n' });
  });

  it('members add invites an address without an account; token refuses a non-member of an invite-only team unless forced, and claims the invitation', async () => {
    const refused = await cli('token', '--team', 'acme', '--email', 'bob@example.com');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('bob@example.com is not a member of the invite-only team acme');
    expect(refused.err).toContain('switchboard members add --team acme --email bob@example.com');
    expect(refused.err).toContain('--force');
    const forced = await cli('token', '--team', 'acme', '--email', 'eve@example.com', '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(forced.out.trim().split('.')).toHaveLength(3);

    const invited = await cli('members', 'add', '--team', 'acme', '--email', ' Bob@Example.com ');
    expect(invited).toMatchObject({ code: 0 });
    expect(invited.out).toMatch(/^invited bob@example.com to team acme as member/);
    expect((await cli('members', 'list', '--team', 'acme')).out).toMatch(/^bob@example.com\s+member\s+invited /);

    const token = await cli('token', '--team', 'acme', '--email', 'bob@example.com');
    expect(token.code, token.err).toBe(0);
    // Minting created the local user, whose address claims the invitation: bob is a member now.
    const list = JSON.parse((await cli('members', 'list', '--team', 'acme', '--json')).out) as { items: { email: string; role: string }[]; invitations: unknown[] };
    expect(list.items.map((m) => [m.email, m.role])).toEqual([['bob@example.com', 'member']]);
    expect(list.invitations).toEqual([]);
    expect(await cli('members', 'add', '--team', 'acme', '--email', 'bob@example.com', '--role', 'admin')).toMatchObject({ code: 0, out: 'updated bob@example.com in team acme as admin\n' });
  });

  it('members add adds an existing user at once, by the exact address only', async () => {
    const user = await createUserDirectory(tdb.db.prisma).upsert('https://idp.example.com', 'carol-1', 'carol@example.com');
    // `_` is no wildcard: c_rol@ is nobody's address, so it is invited and carol is not added.
    expect((await cli('members', 'add', '--team', 'acme', '--email', 'c_rol@example.com')).out).toMatch(/^invited c_rol@example.com/);
    expect(await tdb.db.prisma.membership.count({ where: { team: { slug: 'acme' }, userId: user.id } })).toBe(0);
    expect(await cli('members', 'remove', '--team', 'acme', '--email', 'c_rol@example.com')).toMatchObject({ code: 0 });
    const added = await cli('members', 'add', '--team', 'acme', '--email', 'carol@example.com');
    expect(added).toMatchObject({ code: 0, out: 'added carol@example.com in team acme as member\n' });
    expect(await tdb.db.prisma.membership.count({ where: { team: { slug: 'acme' }, userId: user.id } })).toBe(1);
    const bad = await cli('members', 'add', '--team', 'acme', '--email', 'carol', '--role', 'admin');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^--email: carol is not an e-mail address/);
    const badRole = await cli('members', 'add', '--team', 'acme', '--email', 'carol@example.com', '--role', 'owner');
    expect(badRole.err).toMatch(/^--role must be one of member, admin/);
    expect(await cli('members', 'add', '--team', 'nope', '--email', 'carol@example.com')).toMatchObject({ code: 1, err: 'No team nope\n' });
  });

  it('members remove ends the member’s sessions in the team and is audited; it withdraws an invitation; an unknown address is an error', async () => {
    const carol = await tdb.db.prisma.user.findFirstOrThrow({ where: { email: 'carol@example.com' } });
    const team = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'acme' } });
    const sessionId = randomUUID();
    await tdb.db.prisma.session.create({
      data: { id: sessionId, teamId: team.id, userId: carol.id, clientId: 'c', protocolVersion: '2025-06-18', initializeRequest: {}, expiresAt: new Date(Date.now() + 3_600_000) },
    });
    const removed = await cli('members', 'remove', '--team', 'acme', '--email', 'CAROL@example.com');
    expect(removed).toMatchObject({ code: 0, out: 'removed carol@example.com from team acme\n' });
    expect(await tdb.db.prisma.membership.count({ where: { teamId: team.id, userId: carol.id } })).toBe(0);
    expect(await tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sessionId } })).toMatchObject({ closeReason: 'user_removed' });
    expect(await tdb.db.prisma.auditRecord.findFirst({ where: { action: 'admin.member_remove', target: carol.id } })).toMatchObject({ actor: 'cli', outcome: 'ok' });

    await cli('members', 'add', '--team', 'acme', '--email', 'dave@example.com');
    expect(await cli('members', 'remove', '--team', 'acme', '--email', 'dave@example.com')).toMatchObject({ code: 0, out: 'withdrew the invitation of dave@example.com to team acme\n' });
    expect(await tdb.db.prisma.teamInvitation.count({ where: { teamId: team.id } })).toBe(0);
    expect(await cli('members', 'remove', '--team', 'acme', '--email', 'dave@example.com')).toMatchObject({
      code: 1,
      err: 'dave@example.com is neither a member of team acme nor invited to it\n',
    });
    expect((await cli('members', 'remove', '--team', 'acme')).err).toMatch(/^--email is required/);
  });
});
