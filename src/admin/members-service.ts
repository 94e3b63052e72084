/**
 * Team members and invitations for the admin API.
 *
 * Adding by e-mail compares the normalised address exactly (`normaliseEmail`; never a pattern), and a team admin
 * learns nothing about users outside the teams they administer:
 * - a user with that address who is visible to the caller (platform admins: anyone; team admins: members of a team
 *   they administer) is added directly: 201, or 200 when only the role changed;
 * - otherwise — no account at all, or an account the caller may not know about — the answer is always the same
 *   202 with a pending invitation, which becomes a membership when a user with that verified address signs in.
 * Adding by userId follows the same visibility: to a team admin, a user outside their teams is an unknown id (404).
 */
import type { MemberRole, Prisma } from '../generated/prisma/client.js';
import { normaliseEmail } from '../teams/email.js';
import { invite, type Invitation } from '../teams/invitations.js';
import type { AdminPrincipal } from './admin-principal.js';
import { decodeListCursor, invalidCursor, page } from './cursor.js';
import { endSessionsWhere } from './sessions-service.js';
import { findTeam } from './teams-service.js';
import type { ServiceDeps } from './service-deps.js';
import { NotFound, Conflict } from '../errors.js';

const memberInclude = { user: { select: { email: true, name: true } } } satisfies Prisma.MembershipInclude;
type MemberRow = Prisma.MembershipGetPayload<{ include: typeof memberInclude }>;

export function toMemberJson(m: MemberRow) {
  return { userId: m.userId, email: m.user.email, name: m.user.name, role: m.role, createdAt: m.createdAt.toISOString() };
}

export function toInvitationJson(slug: string, i: Invitation) {
  return { team: slug, email: i.email, role: i.role, createdAt: i.createdAt.toISOString() };
}

type MemberJson = ReturnType<typeof toMemberJson>;
type InvitationJson = ReturnType<typeof toInvitationJson>;

/** What adding did: a membership (new or with its role set) or a pending invitation. */
export type AddMemberResult = { kind: 'member'; created: boolean; member: MemberJson } | { kind: 'invitation'; invitation: InvitationJson };

export async function listMembers(deps: ServiceDeps, slug: string, q: { cursor?: string | undefined; limit: number }) {
  const team = await findTeam(deps, slug);
  const after = q.cursor === undefined ? undefined : decodeListCursor('members', q.cursor, 2);
  const at = after ? new Date(after[0]!) : undefined;
  if (at && Number.isNaN(at.getTime())) throw invalidCursor();
  const rows = await deps.db.prisma.membership.findMany({
    where: { teamId: team.id, ...(at && after ? { OR: [{ createdAt: { gt: at } }, { createdAt: at, userId: { gt: after[1]! } }] } : {}) },
    include: memberInclude,
    orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }],
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'members', (m) => [m.createdAt.toISOString(), m.userId], toMemberJson);
}

/** The users `p` may know about: everyone for platform admins, else members of the teams `p` administers. */
function visibleTo(p: AdminPrincipal): Prisma.UserWhereInput {
  return p.platform ? {} : { memberships: { some: { teamId: { in: [...p.adminTeams.values()] } } } };
}

async function visibleUserById(deps: ServiceDeps, p: AdminPrincipal, userId: string): Promise<string> {
  const user = await deps.db.prisma.user.findFirst({ where: { id: userId, ...visibleTo(p) }, select: { id: true } });
  if (!user) throw new NotFound('user_not_found', p.platform ? `No user ${userId}` : `No user ${userId} in the teams you administer`);
  return user.id;
}

/** The one visible user with this (normalised) address, or undefined; 409 when several issuers know it. */
async function visibleUserByEmail(deps: ServiceDeps, p: AdminPrincipal, email: string): Promise<string | undefined> {
  const matches = await deps.db.prisma.user.findMany({ where: { email, ...visibleTo(p) }, select: { id: true }, take: 2 });
  if (matches.length > 1) {
    throw new Conflict('conflict', `Several ${p.platform ? 'users' : 'members of your teams'} have the e-mail ${email}; add the member by userId`);
  }
  return matches[0]?.id;
}

/** Adds a member, changes their role, or invites the address (see the file header). */
export async function addMember(
  deps: ServiceDeps,
  p: AdminPrincipal,
  slug: string,
  body: { email?: string | undefined; userId?: string | undefined; role: MemberRole },
): Promise<AddMemberResult> {
  const team = await findTeam(deps, slug);
  const email = body.email === undefined ? undefined : normaliseEmail(body.email);
  const userId = email === undefined ? await visibleUserById(deps, p, body.userId!) : await visibleUserByEmail(deps, p, email);
  if (userId === undefined) {
    const invitation = await invite(deps.db.prisma, team.id, email!, body.role);
    deps.audit.record({ teamId: team.id, actor: p.actor, action: 'admin.member_invite', target: invitation.email, outcome: 'ok', detail: { role: body.role } });
    return { kind: 'invitation', invitation: toInvitationJson(team.slug, invitation) };
  }
  const { prisma } = deps.db;
  const key = { teamId_userId: { teamId: team.id, userId } };
  const existing = await prisma.membership.findUnique({ where: key, select: { role: true } });
  const row = await prisma.membership.upsert({ where: key, create: { teamId: team.id, userId, role: body.role }, update: { role: body.role }, include: memberInclude });
  // A pending invitation for the same person would only linger in the list.
  if (row.user.email) await prisma.teamInvitation.deleteMany({ where: { teamId: team.id, email: row.user.email } });
  deps.teams.invalidate(slug);
  deps.audit.record({ teamId: team.id, actor: p.actor, userId, action: existing ? 'admin.member_role' : 'admin.member_add', target: userId, outcome: 'ok', detail: { role: body.role } });
  return { kind: 'member', created: existing === null, member: toMemberJson(row) };
}

/** Removes a member and ends their sessions in the team (reason `user_removed`) on every replica. */
export async function removeMember(deps: ServiceDeps, p: AdminPrincipal, slug: string, userId: string): Promise<void> {
  const team = await findTeam(deps, slug);
  const { count } = await deps.db.prisma.membership.deleteMany({ where: { teamId: team.id, userId } });
  if (count === 0) throw new NotFound('member_not_found', `User ${userId} is not a member of ${slug}`);
  deps.teams.invalidate(slug);
  // Their own accounts at the team's `oauth` tool servers go with them.
  await deps.db.prisma.upstreamConnection.deleteMany({ where: { teamId: team.id, userId } });
  const ended = await endSessionsWhere(deps, { teamId: team.id, userId }, 'user_removed');
  deps.audit.record({ teamId: team.id, actor: p.actor, userId, action: 'admin.member_remove', target: userId, outcome: 'ok', detail: { sessionsEnded: ended } });
}

/**
 * `switchboard members remove --email`: removes the one member with this (normalised) address, else withdraws the
 * address's invitation; says which. 409 when several members share the address (remove them by userId), 404 when
 * it is neither a member nor invited.
 */
export async function removeMemberByEmail(deps: ServiceDeps, p: AdminPrincipal, slug: string, rawEmail: string): Promise<'removed' | 'withdrawn'> {
  const team = await findTeam(deps, slug);
  const email = normaliseEmail(rawEmail);
  const members = await deps.db.prisma.membership.findMany({ where: { teamId: team.id, user: { email } }, select: { userId: true }, take: 2 });
  if (members.length > 1) throw new Conflict('conflict', `several members of ${slug} have the e-mail ${email}; remove them by userId through the admin API`);
  if (members[0]) {
    await removeMember(deps, p, slug, members[0].userId);
    return 'removed';
  }
  const invited = await deps.db.prisma.teamInvitation.findUnique({ where: { teamId_email: { teamId: team.id, email } }, select: { email: true } });
  if (!invited) throw new NotFound('member_not_found', `${email} is neither a member of team ${slug} nor invited to it`);
  await cancelInvitation(deps, p, slug, email);
  return 'withdrawn';
}

/** The team's pending invitations, oldest first. */
export async function listInvitations(deps: ServiceDeps, slug: string, q: { cursor?: string | undefined; limit: number }) {
  const team = await findTeam(deps, slug);
  const after = q.cursor === undefined ? undefined : decodeListCursor('invitations', q.cursor, 2);
  const at = after ? new Date(after[0]!) : undefined;
  if (at && Number.isNaN(at.getTime())) throw invalidCursor();
  const rows = await deps.db.prisma.teamInvitation.findMany({
    where: { teamId: team.id, ...(at && after ? { OR: [{ createdAt: { gt: at } }, { createdAt: at, email: { gt: after[1]! } }] } : {}) },
    orderBy: [{ createdAt: 'asc' }, { email: 'asc' }],
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'invitations', (i) => [i.createdAt.toISOString(), i.email], (i) => toInvitationJson(team.slug, i));
}

/** Withdraws a pending invitation. */
export async function cancelInvitation(deps: ServiceDeps, p: AdminPrincipal, slug: string, rawEmail: string): Promise<void> {
  const team = await findTeam(deps, slug);
  const email = normaliseEmail(rawEmail);
  const { count } = await deps.db.prisma.teamInvitation.deleteMany({ where: { teamId: team.id, email } });
  if (count === 0) throw new NotFound('invitation_not_found', `Team ${slug} has no pending invitation for ${email}`);
  deps.audit.record({ teamId: team.id, actor: p.actor, action: 'admin.invitation_cancel', target: email, outcome: 'ok' });
}
