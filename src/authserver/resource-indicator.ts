/**
 * RFC 8707 resource indicators: the `resource` parameter names the team endpoint a token is for. Only the exact
 * identifiers the gateway publishes in its protected-resource metadata are accepted — `PUBLIC_URL/t/{team}/mcp`
 * for existing teams and the `PUBLIC_URL/mcp` alias of the default team.
 */
import { teamResource } from '../auth/protected-resource.js';
import type { TeamDirectory, TeamRef } from '../teams/team-directory.js';
import { DEFAULT_TEAM } from '../teams/team-directory.js';
import { InvalidTarget } from './oauth-errors.js';

export interface ResolvedResource {
  /** The resource identifier exactly as published (becomes the token's `aud`). */
  resource: string;
  team: TeamRef;
}

/** The team `resource` names; throws `InvalidTarget` for anything else. */
export async function resolveResource(resource: string, publicUrl: string, teams: TeamDirectory): Promise<ResolvedResource> {
  let slug: string | undefined;
  if (resource === teamResource(publicUrl, undefined)) slug = DEFAULT_TEAM;
  else {
    const prefix = `${publicUrl}/t/`;
    const match = resource.startsWith(prefix) ? /^([a-z0-9-]{1,63})\/mcp$/.exec(resource.slice(prefix.length)) : null;
    slug = match?.[1];
  }
  const team = slug === undefined ? undefined : await teams.find(slug);
  if (!team) throw new InvalidTarget(`The resource ${JSON.stringify(resource.slice(0, 300))} is not an MCP endpoint of this gateway`);
  return { resource, team };
}
