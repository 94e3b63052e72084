/**
 * RFC 8707 resource indicators: the `resource` parameter names what a token is for. Only the exact identifiers the
 * gateway publishes are accepted — `PUBLIC_URL/t/{team}/mcp` for existing teams, the `PUBLIC_URL/mcp` alias of the
 * default team, and `PUBLIC_URL/admin`, the admin API (docs/interface.md §3), which belongs to no team.
 */
import { teamResource } from '../auth/protected-resource.js';
import type { TeamDirectory, TeamRef } from '../teams/team-directory.js';
import { DEFAULT_TEAM } from '../teams/team-directory.js';
import { InvalidTarget } from './oauth-errors.js';

/**
 * What a resource names: a team's MCP endpoint, or the admin API. Admin-audience tokens pass no join policy —
 * the admin API decides on every call what their user may do (ADMIN_EMAILS, team-admin memberships).
 */
export type ResolvedResource =
  /** `resource` is the identifier exactly as published (it becomes the token's `aud`). */
  | { kind: 'team'; resource: string; team: TeamRef }
  | { kind: 'admin'; resource: string };

/** The admin API's resource identifier (the audience `src/admin` verifies). */
export function adminResource(publicUrl: string): string {
  return `${publicUrl}/admin`;
}

/** The team or admin API `resource` names; throws `InvalidTarget` for anything else. */
export async function resolveResource(resource: string, publicUrl: string, teams: TeamDirectory): Promise<ResolvedResource> {
  if (resource === adminResource(publicUrl)) return { kind: 'admin', resource };
  let slug: string | undefined;
  if (resource === teamResource(publicUrl, undefined)) slug = DEFAULT_TEAM;
  else {
    const prefix = `${publicUrl}/t/`;
    const match = resource.startsWith(prefix) ? /^([a-z0-9-]{1,63})\/mcp$/.exec(resource.slice(prefix.length)) : null;
    slug = match?.[1];
  }
  const team = slug === undefined ? undefined : await teams.find(slug);
  if (!team) throw new InvalidTarget(`The resource ${JSON.stringify(resource.slice(0, 300))} is not an MCP endpoint or the admin API of this gateway`);
  return { kind: 'team', resource, team };
}
