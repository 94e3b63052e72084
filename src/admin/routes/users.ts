/** `GET /users?email=`: looking a user up (several issuers may know the same e-mail). */
import { normaliseEmail } from '../../teams/email.js';
import { decodeListCursor, page } from '../cursor.js';
import { defineRoute } from '../route.js';
import { usersQuery } from '../request-schemas.js';
import { listOf, userJson } from '../response-schemas.js';

export const userRoutes = [
  defineRoute({
    key: 'GET /users',
    operationId: 'findUsers',
    tag: 'Users',
    summary: 'Look users up by e-mail',
    description:
      'Exact match on the normalised address (trimmed, case-insensitive; `_` and `%` are ordinary characters); one item per (issuer, subject) with that e-mail, with their team memberships.',
    query: usersQuery,
    success: { status: 200, description: 'The matching users', schema: listOf(userJson, 'UserList') },
    errors: [],
    async handle({ deps, query }) {
      const after = query.cursor === undefined ? undefined : decodeListCursor('users', query.cursor, 1)[0];
      const rows = await deps.db.prisma.user.findMany({
        where: { email: normaliseEmail(query.email), ...(after === undefined ? {} : { id: { gt: after } }) },
        include: { memberships: { select: { role: true, team: { select: { slug: true } } }, orderBy: { createdAt: 'asc' } } },
        orderBy: { id: 'asc' },
        take: query.limit + 1,
      });
      return page(rows, query.limit, 'users', (u) => [u.id], (u) => ({
        id: u.id,
        email: u.email,
        name: u.name,
        issuer: u.issuer,
        subject: u.subject,
        createdAt: u.createdAt.toISOString(),
        memberships: u.memberships.map((m) => ({ team: m.team.slug, role: m.role })),
      }));
    },
  }),
];
