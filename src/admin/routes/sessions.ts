/**
 * Sessions of any user or team: `/sessions` (every team the caller may see), `/teams/{team}/sessions`,
 * `/users/{userId}/sessions`, `/sessions/{sessionId}`.
 */
import { defineRoute } from '../route.js';
import { allSessionsQuery, noQuery, sessionPath, sessionsQuery, teamPath, userPath } from '../request-schemas.js';
import { listOf, sessionJson } from '../response-schemas.js';

const listed = 'Newest first; the cursor is a keyset, so pages have neither duplicates nor gaps while new sessions appear.';
const sessionList = listOf(sessionJson, 'SessionList');

export const sessionRoutes = [
  defineRoute({
    key: 'GET /sessions',
    operationId: 'listSessions',
    tag: 'Sessions',
    summary: 'List sessions across teams',
    description: `Every team’s sessions for platform admins; for team admins, those of the teams they administer. ${listed}`,
    query: allSessionsQuery,
    success: { status: 200, description: 'A page of sessions', schema: sessionList },
    errors: ['team_not_found'],
    handle: ({ services, principal, query }) => services.sessions.listAll(principal, query),
  }),
  defineRoute({
    key: 'GET /teams/{team}/sessions',
    operationId: 'listTeamSessions',
    tag: 'Sessions',
    summary: 'List a team’s sessions',
    description: listed,
    params: teamPath,
    query: sessionsQuery,
    success: { status: 200, description: 'A page of sessions', schema: sessionList },
    errors: ['team_not_found'],
    handle: ({ services, params, query }) => services.sessions.listForTeam(params.team, query),
  }),
  defineRoute({
    key: 'GET /users/{userId}/sessions',
    operationId: 'listUserSessions',
    tag: 'Sessions',
    summary: 'List a user’s sessions in every team',
    description: listed,
    params: userPath,
    query: sessionsQuery,
    success: { status: 200, description: 'A page of sessions', schema: sessionList },
    errors: ['user_not_found'],
    handle: ({ services, params, query }) => services.sessions.listForUser(params.userId, query),
  }),
  defineRoute({
    key: 'GET /sessions/{sessionId}',
    operationId: 'getSession',
    tag: 'Sessions',
    summary: 'Get a session',
    params: sessionPath,
    query: noQuery,
    success: { status: 200, description: 'The session', schema: sessionJson },
    errors: ['session_not_found'],
    handle: ({ services, params, principal }) => services.sessions.get(principal, params.sessionId),
  }),
  defineRoute({
    key: 'DELETE /sessions/{sessionId}',
    operationId: 'endSession',
    tag: 'Sessions',
    summary: 'End a session for good',
    description:
      'Closes it on every replica (close reason `admin`): its open streams end and the client’s next request gets 404 wherever it lands. An audit record names who ended it. Answers the closed session.',
    params: sessionPath,
    query: noQuery,
    success: { status: 200, description: 'The session, now closed', schema: sessionJson },
    errors: ['session_not_found', 'session_closed'],
    handle: ({ services, params, principal }) => services.sessions.end(principal, params.sessionId),
  }),
];
