/** `/users/{userId}/connections`: users' own accounts at `oauth` tool servers (never their tokens), and revoking one. */
import { z } from 'zod';
import { defineRoute } from '../route.js';
import { noQuery, userIdParam, userPath } from '../request-schemas.js';
import { connectionJson, listOf } from '../response-schemas.js';

const connectionPath = z.strictObject({
  userId: userIdParam,
  id: z.uuid({ message: 'must be a connection id (a UUID)' }).meta({ description: 'A connection id', example: '0b8f5a51-7c1e-4f0e-9d5e-3c2a1b0f9e8d' }),
});

export const connectionRoutes = [
  defineRoute({
    key: 'GET /users/{userId}/connections',
    operationId: 'listUserConnections',
    tag: 'Users',
    summary: 'List a user’s connections to tool servers with their own login',
    description:
      'The accounts the user connected at `oauth` tool servers (one per team and tool server): which, since when, until when the current access token runs. Tokens are never returned. Team admins see those in the teams they administer.',
    params: userPath,
    query: noQuery,
    success: { status: 200, description: 'The user’s connections', schema: listOf(connectionJson, 'ConnectionList') },
    errors: ['user_not_found'],
    handle: ({ services, principal, params }) => services.connections.listForUser(principal, params.userId),
  }),
  defineRoute({
    key: 'DELETE /users/{userId}/connections/{id}',
    operationId: 'revokeUserConnection',
    tag: 'Users',
    summary: 'Revoke a user’s connection',
    description: 'Deletes the stored tokens and revokes them at the tool server’s authorization server (RFC 7009, best effort): the user’s next call to that tool server asks them to connect again. Audited as `admin.connection_revoke`, with `detail.upstream` saying whether the upstream revoked them.',
    params: connectionPath,
    query: noQuery,
    success: { status: 204, description: 'Revoked' },
    errors: ['user_not_found', 'connection_not_found'],
    handle: ({ services, principal, params }) => services.connections.revokeForUser(principal, params.userId, params.id),
  }),
];
