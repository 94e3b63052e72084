/** `/teams/{team}/members`. */
import { addMember, listMembers, removeMember } from '../members-service.js';
import { defineRoute } from '../route.js';
import { listQuery, memberAddBody, memberPath, noQuery, teamPath } from '../request-schemas.js';
import { listOf, memberJson } from '../response-schemas.js';

export const memberRoutes = [
  defineRoute({
    key: 'GET /teams/{team}/members',
    operationId: 'listMembers',
    tag: 'Members',
    summary: 'List a team’s members',
    description: 'Oldest membership first.',
    params: teamPath,
    query: listQuery,
    success: { status: 200, description: 'A page of members', schema: listOf(memberJson, 'MemberList') },
    errors: ['team_not_found'],
    handle: ({ deps, params, query }) => listMembers(deps, params.team, query),
  }),
  defineRoute({
    key: 'POST /teams/{team}/members',
    operationId: 'addMember',
    tag: 'Members',
    summary: 'Add a member, or change a member’s role',
    description:
      'By `email` (case-insensitive; with the built-in issuer and no upstream OIDC login, an unknown e-mail creates the user as their first dev login or `switchboard token` would; otherwise the user must have signed in once) or by `userId`. 201 when added, 200 when the user was already a member (the role is set).',
    params: teamPath,
    query: noQuery,
    body: memberAddBody,
    success: { status: 201, description: 'Added', schema: memberJson },
    alternatives: [{ status: 200, description: 'Already a member; role updated', schema: memberJson }],
    errors: ['invalid_body', 'team_not_found', 'user_not_found', 'conflict'],
    async handle({ deps, params, body, principal, status }) {
      const { created, member } = await addMember(deps, principal, params.team, body);
      if (!created) status(200);
      return member;
    },
  }),
  defineRoute({
    key: 'DELETE /teams/{team}/members/{userId}',
    operationId: 'removeMember',
    tag: 'Members',
    summary: 'Remove a member',
    description:
      'Ends the user’s sessions in this team on every replica (close reason `user_removed`). In an `open` team the user can rejoin by connecting again; make the team `invite` to keep them out.',
    params: memberPath,
    query: noQuery,
    success: { status: 204, description: 'Removed' },
    errors: ['team_not_found', 'member_not_found'],
    handle: ({ deps, params, principal }) => removeMember(deps, principal, params.team, params.userId),
  }),
];
