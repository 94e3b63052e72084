/**
 * Team members for the admin API. Adding by e-mail looks the user up first (case-insensitive); when nobody with that
 * e-mail has signed in yet and users are keyed by e-mail (built-in issuer without upstream OIDC: the dev login and
 * `switchboard token`), the user is created under LOCAL_ISSUER exactly as their first login would. Otherwise the
 * answer is 404 `user_not_found`: a user of an external or upstream issuer only exists once they have signed in.
 */
import type { Prisma } from '../generated/prisma/client.js';
import { ApiError } from '../http/errors.js';
import { LOCAL_ISSUER } from '../teams/users.js';
import type { AdminPrincipal } from './admin-principal.js';
import { decodeListCursor, invalidCursor, page } from './cursor.js';
import { endSessionsWhere } from './sessions-service.js';
import { findTeam } from './teams-service.js';
import type { AdminDeps } from './route.js';

const memberInclude = { user: { select: { email: true, name: true } } } satisfies Prisma.MembershipInclude;
type MemberRow = Prisma.MembershipGetPayload<{ include: typeof memberInclude }>;

export function toMemberJson(m: MemberRow) {
  return { userId: m.userId, email: m.user.email, name: m.user.name, role: m.role, createdAt: m.createdAt.toISOString() };
}

export async function listMembers(deps: AdminDeps, slug: string, q: { cursor?: string | undefined; limit: number }) {
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

async function resolveUser(deps: AdminDeps, who: { email?: string | undefined; userId?: string | undefined }): Promise<string> {
  const { prisma } = deps.db;
  if (who.userId !== undefined) {
    const user = await prisma.user.findUnique({ where: { id: who.userId }, select: { id: true } });
    if (!user) throw new ApiError('user_not_found', `No user ${who.userId}`);
    return user.id;
  }
  const email = who.email!.trim().toLowerCase();
  const matches = await prisma.user.findMany({ where: { email: { equals: email, mode: 'insensitive' } }, select: { id: true }, take: 2 });
  if (matches.length > 1) throw new ApiError('conflict', `Several users have the e-mail ${email}; add the member by userId (see GET /admin/v1/users?email=)`);
  if (matches[0]) return matches[0].id;
  if (deps.config.authMode === 'builtin' && deps.config.loginOidc === undefined) {
    return (await deps.users.upsert(LOCAL_ISSUER, email, email)).id;
  }
  throw new ApiError('user_not_found', `Nobody with the e-mail ${email} has signed in yet; ask them to sign in once, then add them`);
}

/** Adds a member or changes their role; `created` says which. */
export async function addMember(
  deps: AdminDeps,
  p: AdminPrincipal,
  slug: string,
  body: { email?: string | undefined; userId?: string | undefined; role: 'member' | 'admin' },
) {
  const team = await findTeam(deps, slug);
  const userId = await resolveUser(deps, body);
  const key = { teamId_userId: { teamId: team.id, userId } };
  const existing = await deps.db.prisma.membership.findUnique({ where: key, select: { role: true } });
  const row = await deps.db.prisma.membership.upsert({ where: key, create: { teamId: team.id, userId, role: body.role }, update: { role: body.role }, include: memberInclude });
  deps.teams.invalidate(slug);
  deps.audit.record({ teamId: team.id, actor: p.actor, userId, action: existing ? 'admin.member_role' : 'admin.member_add', target: userId, outcome: 'ok', detail: { role: body.role } });
  return { created: existing === null, member: toMemberJson(row) };
}

/** Removes a member and ends their sessions in the team (reason `user_removed`) on every replica. */
export async function removeMember(deps: AdminDeps, p: AdminPrincipal, slug: string, userId: string): Promise<void> {
  const team = await findTeam(deps, slug);
  const { count } = await deps.db.prisma.membership.deleteMany({ where: { teamId: team.id, userId } });
  if (count === 0) throw new ApiError('member_not_found', `User ${userId} is not a member of ${slug}`);
  deps.teams.invalidate(slug);
  const ended = await endSessionsWhere(deps, { teamId: team.id, userId }, 'user_removed');
  deps.audit.record({ teamId: team.id, actor: p.actor, userId, action: 'admin.member_remove', target: userId, outcome: 'ok', detail: { sessionsEnded: ended } });
}
