/**
 * `switchboard token` mints for any e-mail, but an invite-only team's endpoint refuses a user who is neither a
 * member nor invited (minting claims an invitation: the local user's address is its own). Such a token is almost
 * always a mistake, so the CLI and `POST /dev/token` refuse it unless forced, saying how to add the member.
 */
import type { PrismaClient } from '../db/database.js';
import { normaliseEmail } from '../teams/email.js';
import { LOCAL_ISSUER } from '../teams/users.js';

/** Why a token for `rawEmail` in team `slug` would be refused at the team's endpoint, or undefined if it would not. */
export async function nonMemberProblem(prisma: PrismaClient, slug: string, rawEmail: string): Promise<string | undefined> {
  const team = await prisma.team.findUnique({ where: { slug }, select: { id: true, joinPolicy: true } });
  if (!team || team.joinPolicy === 'open') return undefined; // an unknown team is reported by the minting itself
  const email = normaliseEmail(rawEmail);
  const [member, invitation] = await Promise.all([
    prisma.membership.findFirst({ where: { teamId: team.id, user: { issuer: LOCAL_ISSUER, subject: email } }, select: { userId: true } }),
    prisma.teamInvitation.findFirst({ where: { teamId: team.id, email }, select: { email: true } }),
  ]);
  if (member || invitation) return undefined;
  return (
    `${email} is not a member of the invite-only team ${slug}, so its endpoint would refuse this token: ` +
    `add them with "switchboard members add --team ${slug} --email ${email}", or pass --force to mint it anyway`
  );
}
