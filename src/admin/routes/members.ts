/** `/teams/{team}/members` and `/teams/{team}/invitations`. */
import { defineRoute } from '../route.js';
import { invitationPath, listQuery, memberAddBody, memberPath, noQuery, teamPath } from '../request-schemas.js';
import { invitationCreated, invitationJson, listOf, memberJson } from '../response-schemas.js';

export const memberRoutes = [
  defineRoute({
    key: 'GET /teams/{team}/members',
    operationId: 'listMembers',
    tag: 'Members',
    summary: 'List a team’s members',
    description: 'Oldest membership first. Pending invitations are listed separately (`GET /teams/{team}/invitations`).',
    params: teamPath,
    query: listQuery,
    success: { status: 200, description: 'A page of members', schema: listOf(memberJson, 'MemberList') },
    errors: ['team_not_found'],
    handle: ({ services, params, query }) => services.members.list(params.team, query),
  }),
  defineRoute({
    key: 'POST /teams/{team}/members',
    operationId: 'addMember',
    tag: 'Members',
    summary: 'Add a member, change a member’s role, or invite an e-mail address',
    description:
      'By `email` (exact match, case-insensitive) or by `userId`. A user you can already see — any user for platform admins, ' +
      'a member of a team you administer for team admins — is added directly: 201, or 200 when they were a member already ' +
      '(the role is set). Any other e-mail address gets 202 with a pending invitation, whether or not it has an account ' +
      'elsewhere (a team admin learns nothing about other teams’ users): the invitation becomes a membership with its role ' +
      'when a user with that verified address signs in. Inviting the same address again sets the role. For team admins, ' +
      'a `userId` outside their teams is 404 `user_not_found`, like an unknown one.',
    params: teamPath,
    query: noQuery,
    body: memberAddBody,
    success: { status: 201, description: 'Added', schema: memberJson },
    alternatives: [
      { status: 200, description: 'Already a member; role updated', schema: memberJson },
      { status: 202, description: 'Invited: a pending membership for the e-mail address', schema: invitationCreated },
    ],
    errors: ['invalid_body', 'team_not_found', 'user_not_found', 'conflict'],
    async handle({ services, params, body, principal, status }) {
      const result = await services.members.add(principal, params.team, body);
      if (result.kind === 'invitation') {
        status(202);
        return { invitation: result.invitation };
      }
      if (!result.created) status(200);
      return result.member;
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
    handle: ({ services, params, principal }) => services.members.remove(principal, params.team, params.userId),
  }),
  defineRoute({
    key: 'GET /teams/{team}/invitations',
    operationId: 'listInvitations',
    tag: 'Members',
    summary: 'List a team’s pending invitations',
    description: 'Oldest first. An invitation disappears when it becomes a membership (at the invitee’s sign-in) or is withdrawn.',
    params: teamPath,
    query: listQuery,
    success: { status: 200, description: 'A page of invitations', schema: listOf(invitationJson, 'InvitationList') },
    errors: ['team_not_found'],
    handle: ({ services, params, query }) => services.members.listInvitations(params.team, query),
  }),
  defineRoute({
    key: 'DELETE /teams/{team}/invitations/{email}',
    operationId: 'cancelInvitation',
    tag: 'Members',
    summary: 'Withdraw a pending invitation',
    params: invitationPath,
    query: noQuery,
    success: { status: 204, description: 'Withdrawn' },
    errors: ['team_not_found', 'invitation_not_found'],
    handle: ({ services, params, principal }) => services.members.cancelInvitation(principal, params.team, params.email),
  }),
];
