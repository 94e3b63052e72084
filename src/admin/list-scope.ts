/**
 * Which rows a gateway-wide list (`GET /sessions`, `GET /audit`) may show its caller: every team's for platform
 * admins, only the administered teams' for team admins. The `team` and `user` filters narrow that scope, never widen
 * it, so nothing outside the caller's teams can be reached through them.
 */
import { normaliseEmail } from '../teams/email.js';
import type { AdminPrincipal } from './admin-principal.js';
import type { ServiceDeps } from './service-deps.js';
import { findTeam } from './teams-service.js';
import { Forbidden } from '../errors.js';

/** Team ids the rows must belong to; `undefined` means every team (a platform admin without a `team` filter). */
export type TeamScope = string[] | undefined;

/**
 * The teams `p` may see, narrowed to `team` when given. A team admin naming a team they do not administer gets 403,
 * whether or not it exists (as on its `{team}` routes: the answer reveals nothing); a platform admin naming an
 * unknown team gets 404.
 */
export async function teamScope(deps: ServiceDeps, p: AdminPrincipal, team: string | undefined): Promise<TeamScope> {
  if (p.platform) return team === undefined ? undefined : [(await findTeam(deps, team)).id];
  if (team === undefined) return [...p.adminTeams.values()];
  const id = p.adminTeams.get(team);
  if (id === undefined) throw new Forbidden(`You are not an admin of team ${team}`);
  return [id];
}

/**
 * Ids of the users with this e-mail address (exact match on the normalised address; several issuers may know it).
 * Empty when nobody has it, which makes the list empty: the caller learns nothing the scope does not already show.
 */
export async function usersWithEmail(deps: ServiceDeps, email: string): Promise<string[]> {
  const users = await deps.db.prisma.user.findMany({ where: { email: normaliseEmail(email) }, select: { id: true } });
  return users.map((u) => u.id);
}
