/**
 * Users as admins see them: looking users up by e-mail (`GET /users`), and who a caller of the admin API or a
 * console user is (`admin-principal.ts`: the rules, read fresh on every request).
 */
import type { z } from 'zod';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { normaliseEmail } from '../teams/email.js';
import { resolveAdminPrincipal, userPrincipal, type AdminPrincipal } from './admin-principal.js';
import { decodeListCursor, page } from './cursor.js';
import type { usersQuery } from './request-schemas.js';
import type { ServiceDeps } from './service-deps.js';

/**
 * The users with this e-mail (exact match on the normalised address; several issuers may know it), one item per
 * (issuer, subject), with their team memberships; keyset pages by id.
 */
export async function findUsersByEmail(deps: ServiceDeps, q: z.output<typeof usersQuery>) {
  const after = q.cursor === undefined ? undefined : decodeListCursor('users', q.cursor, 1)[0];
  const rows = await deps.db.prisma.user.findMany({
    where: { email: normaliseEmail(q.email), ...(after === undefined ? {} : { id: { gt: after } }) },
    include: { memberships: { select: { role: true, team: { select: { slug: true } } }, orderBy: { createdAt: 'asc' } } },
    orderBy: { id: 'asc' },
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'users', (u) => [u.id], (u) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    issuer: u.issuer,
    subject: u.subject,
    createdAt: u.createdAt.toISOString(),
    memberships: u.memberships.map((m) => ({ team: m.team.slug, role: m.role })),
  }));
}

/** The rights of the user with this id (the console's cookie session), or undefined when the user is gone. */
export function principalOfUser(deps: ServiceDeps, userId: string): Promise<AdminPrincipal | undefined> {
  return userPrincipal(userId, { config: deps.config, prisma: deps.db.prisma });
}

/** Who sends this `Authorization` header to the admin API; throws `AdminAuthError` when nobody (see `admin-principal.ts`). */
export function principalOfAuthorization(deps: ServiceDeps, verifier: TokenVerifier, authorization: string | undefined): Promise<AdminPrincipal> {
  return resolveAdminPrincipal(authorization, { config: deps.config, verifier, users: deps.users, prisma: deps.db.prisma });
}
