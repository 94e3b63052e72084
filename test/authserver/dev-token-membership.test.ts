/**
 * `POST /dev/token` (what `switchboard token` asks a running gateway) refuses a token for someone who is neither a
 * member of nor invited to an invite-only team — its endpoint would refuse that token anyway — unless forced, and
 * says how to add them. Open teams and members are unaffected.
 */
import { describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/gateway.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { invite } from '../../src/teams/invitations.js';

const t = useTestGateway();

async function devToken(body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: { code: string; message: string } } };
}

describe('POST /dev/token and invite-only teams', () => {
  it('refuses a non-member unless forced; an invited address and an open team get tokens', async () => {
    const team = await createTeam(t.tdb.db.prisma, { slug: 'closed', name: 'Closed', joinPolicy: 'invite' });
    const refused = await devToken({ email: 'out@example.com', team: 'closed' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({
      code: 'forbidden',
      message:
        'out@example.com is not a member of the invite-only team closed, so its endpoint would refuse this token: ' +
        'add them with "switchboard members add --team closed --email out@example.com", or pass --force to mint it anyway',
    });
    expect(await t.tdb.db.prisma.user.count({ where: { email: 'out@example.com' } })).toBe(0); // nothing was created

    expect((await devToken({ email: 'out@example.com', team: 'closed', force: true })).body.access_token).toBeTruthy();
    await invite(t.tdb.db.prisma, team.id, 'in@example.com', 'member');
    expect((await devToken({ email: 'In@Example.com', team: 'closed' })).body.access_token).toBeTruthy();
    expect((await devToken({ email: 'anyone@example.com', team: 'demo' })).body.access_token).toBeTruthy();
  });
});
