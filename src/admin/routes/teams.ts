/** `/teams` and `/teams/{team}`. */
import { defineRoute } from '../route.js';
import { listQuery, noQuery, teamCreateBody, teamPatchBody, teamPath } from '../request-schemas.js';
import { listOf, teamJson } from '../response-schemas.js';
import { toTeamJson } from '../teams-service.js';

export const teamRoutes = [
  defineRoute({
    key: 'GET /teams',
    operationId: 'listTeams',
    tag: 'Teams',
    summary: 'List teams',
    description: 'Every team, by slug.',
    query: listQuery,
    success: { status: 200, description: 'A page of teams', schema: listOf(teamJson, 'TeamList') },
    errors: [],
    handle: ({ services, query }) => services.teams.list(query),
  }),
  defineRoute({
    key: 'POST /teams',
    operationId: 'createTeam',
    tag: 'Teams',
    summary: 'Create a team',
    description: 'The same code as `switchboard teams create`. Its MCP endpoint is `PUBLIC_URL/t/{slug}/mcp`.',
    query: noQuery,
    body: teamCreateBody,
    success: { status: 201, description: 'The new team', schema: teamJson },
    errors: ['invalid_body', 'conflict'],
    handle: ({ services, body, principal }) => services.teams.create(principal, body),
  }),
  defineRoute({
    key: 'GET /teams/{team}',
    operationId: 'getTeam',
    tag: 'Teams',
    summary: 'Get a team',
    params: teamPath,
    query: noQuery,
    success: { status: 200, description: 'The team', schema: teamJson },
    errors: ['team_not_found'],
    handle: async ({ services, params }) => toTeamJson(await services.teams.find(params.team)),
  }),
  defineRoute({
    key: 'PATCH /teams/{team}',
    operationId: 'updateTeam',
    tag: 'Teams',
    summary: 'Change a team’s name or join policy',
    description: 'The slug is immutable (422 when a different one is sent).',
    params: teamPath,
    query: noQuery,
    body: teamPatchBody,
    success: { status: 200, description: 'The changed team', schema: teamJson },
    errors: ['invalid_body', 'team_not_found', 'unprocessable'],
    handle: ({ services, params, body, principal }) => services.teams.update(principal, params.team, body),
  }),
  defineRoute({
    key: 'DELETE /teams/{team}',
    operationId: 'deleteTeam',
    tag: 'Teams',
    summary: 'Delete a team',
    description:
      'Ends every session of the team on every replica (close reason `team_deleted`; clients get 404), then deletes the team with its members, chats, sessions and tool servers.',
    params: teamPath,
    query: noQuery,
    success: { status: 204, description: 'Deleted' },
    errors: ['team_not_found'],
    handle: ({ services, params, principal }) => services.teams.delete(principal, params.team),
  }),
];
