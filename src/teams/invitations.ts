/**
 * Team invitations: a pending membership for an e-mail address. A team admin adding an address that has no
 * account in their teams gets one, whether or not the address has an account elsewhere, so they learn nothing
 * about other tenants. It turns into a membership when a user with that verified address signs in.
 */
import type { PrismaClient } from '../db/database.js';
import type { MemberRole } from '../generated/prisma/client.js';
import { normaliseEmail } from './email.js';

export interface Invitation {
  teamId: string;
  email: string;
  role: MemberRole;
  createdAt: Date;
}

/** Creates the invitation, or sets the role of the pending one for the same (team, address). */
export function invite(prisma: PrismaClient, teamId: string, email: string, role: MemberRole): Promise<Invitation> {
  const address = normaliseEmail(email);
  return prisma.teamInvitation.upsert({
    where: { teamId_email: { teamId, email: address } },
    create: { teamId, email: address, role },
    update: { role },
  });
}

/**
 * Turns the invitations for `email` into memberships of `userId`, in one statement (two sign-ins at once cannot
 * both claim one). An existing membership keeps its role. Returns the ids of the teams joined. The caller vouches
 * that the address is verified.
 */
export async function claimInvitations(prisma: PrismaClient, userId: string, email: string): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ team_id: string }[]>`
    WITH claimed AS (DELETE FROM team_invitations WHERE email = ${normaliseEmail(email)} RETURNING team_id, role)
    INSERT INTO memberships (team_id, user_id, role)
    SELECT team_id, ${userId}::uuid, role FROM claimed
    ON CONFLICT (team_id, user_id) DO NOTHING
    RETURNING team_id::text`;
  return rows.map((r) => r.team_id);
}
