/** `GET /users?email=`: looking a user up (several issuers may know the same e-mail). */
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
    handle: ({ services, query }) => services.users.findByEmail(query),
  }),
];
