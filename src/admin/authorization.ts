/**
 * THE authorization table of the admin API: every route and the permission it requires. The router refuses to
 * start when a route is missing from it (or it names a route that does not exist), and
 * `test/admin/authorization-matrix.test.ts` walks every row with every kind of caller.
 *
 * - `public`: anyone (the OpenAPI document: the same for every gateway, fetched by tooling without credentials).
 * - `platform`: ADMIN_API_KEY or a user listed in ADMIN_EMAILS.
 * - `team`: platform admins, and admins of the `{team}` in the path.
 * - `session`: platform admins, and admins of the session's team (others get 404: an id reveals nothing).
 * - `teams`: gateway-wide lists; platform admins see every team, team admins only the teams they administer
 *   (a filter naming another team is 403, as its `{team}` routes are). Others: 403.
 */
import type { AdminPrincipal } from './admin-principal.js';

export type Permission = 'public' | 'platform' | 'team' | 'session' | 'teams';

export const ADMIN_AUTHORIZATION = {
  'GET /openapi.json': 'public',
  'GET /teams': 'platform',
  'POST /teams': 'platform',
  'GET /teams/{team}': 'team',
  'PATCH /teams/{team}': 'team',
  'DELETE /teams/{team}': 'platform',
  'GET /teams/{team}/members': 'team',
  'POST /teams/{team}/members': 'team',
  'DELETE /teams/{team}/members/{userId}': 'team',
  'GET /teams/{team}/invitations': 'team',
  'DELETE /teams/{team}/invitations/{email}': 'team',
  'GET /teams/{team}/tool-servers': 'team',
  'POST /teams/{team}/tool-servers': 'team',
  'GET /teams/{team}/tool-servers/{name}': 'team',
  'PATCH /teams/{team}/tool-servers/{name}': 'team',
  'DELETE /teams/{team}/tool-servers/{name}': 'team',
  'GET /teams/{team}/sessions': 'team',
  'GET /users': 'platform',
  'GET /users/{userId}/sessions': 'platform',
  'GET /users/{userId}/connections': 'teams',
  'DELETE /users/{userId}/connections/{id}': 'teams',
  'GET /sessions': 'teams',
  'GET /sessions/{sessionId}': 'session',
  'DELETE /sessions/{sessionId}': 'session',
  'GET /audit': 'teams',
} as const satisfies Record<string, Permission>;

export type AdminRouteKey = keyof typeof ADMIN_AUTHORIZATION;

/**
 * Whether `p` may call a route that requires `permission`, judged before anything is loaded. `team` is the raw
 * `{team}` path segment. Session routes also need `mayAdministerTeam` once the session's team is known.
 */
export function mayCall(p: AdminPrincipal, permission: Permission, team: string | undefined): boolean {
  switch (permission) {
    case 'public':
      return true;
    case 'platform':
      return p.platform;
    case 'team':
      return p.platform || (team !== undefined && p.adminTeams.has(team));
    case 'session':
    case 'teams':
      return p.platform || p.adminTeams.size > 0;
  }
}

/** Whether `p` administers the team with this id. */
export function mayAdministerTeam(p: AdminPrincipal, teamId: string): boolean {
  return p.platform || [...p.adminTeams.values()].includes(teamId);
}
