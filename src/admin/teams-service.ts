/**
 * Teams for the admin API, the console and the CLI: creating (the rules are `createTeam` in `teams/team-admin.ts`),
 * listing, reading, changing and deleting — each change audited with its actor.
 */
import type { Prisma, Team } from '../generated/prisma/client.js';
import { createTeam, type TeamInput } from '../teams/team-admin.js';
import { rethrowAsNotFound } from './prisma-errors.js';
import type { AdminPrincipal } from './admin-principal.js';
import { decodeListCursor, page } from './cursor.js';
import { endSessionsWhere } from './sessions-service.js';
import type { ServiceDeps } from './service-deps.js';
import { NotFound, Refused } from '../errors.js';

export function toTeamJson(t: Team) {
  return { id: t.id, slug: t.slug, name: t.name, joinPolicy: t.joinPolicy, createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() };
}

/** The team with this slug, or 404 `team_not_found`. */
export async function findTeam(deps: ServiceDeps, slug: string): Promise<Team> {
  const team = await deps.db.prisma.team.findUnique({ where: { slug } });
  if (!team) throw new NotFound('team_not_found', `No team ${slug}`);
  return team;
}

/** Creates a team (`POST /teams`, `switchboard teams create`), audited as `p`'s `admin.team_create`. */
export async function createTeamAs(deps: ServiceDeps, p: AdminPrincipal, input: TeamInput) {
  const team = await createTeam(deps.db.prisma, input);
  deps.teams.invalidate(team.slug);
  deps.audit.record({ teamId: team.id, actor: p.actor, action: 'admin.team_create', target: team.slug, outcome: 'ok' });
  return toTeamJson(team);
}

export async function listTeams(deps: ServiceDeps, q: { cursor?: string | undefined; limit: number }) {
  return listTeamsWhere(deps, {}, q);
}

/** The teams `p` may manage, by slug: every team for platform admins, the teams they administer for team admins. */
export async function listTeamsVisibleTo(deps: ServiceDeps, p: AdminPrincipal, q: { cursor?: string | undefined; limit: number }) {
  return listTeamsWhere(deps, p.platform ? {} : { id: { in: [...p.adminTeams.values()] } }, q);
}

async function listTeamsWhere(deps: ServiceDeps, scope: Prisma.TeamWhereInput, q: { cursor?: string | undefined; limit: number }) {
  const after = q.cursor === undefined ? undefined : decodeListCursor('teams', q.cursor, 1)[0];
  const rows = await deps.db.prisma.team.findMany({
    where: after === undefined ? scope : { AND: [scope, { slug: { gt: after } }] },
    orderBy: { slug: 'asc' },
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'teams', (t) => [t.slug], toTeamJson);
}

export async function updateTeam(
  deps: ServiceDeps,
  p: AdminPrincipal,
  slug: string,
  patch: { slug?: string | undefined; name?: string | undefined; joinPolicy?: 'open' | 'invite' | undefined },
) {
  const team = await findTeam(deps, slug);
  if (patch.slug !== undefined && patch.slug !== team.slug) {
    throw new Refused('unprocessable', 'slug is immutable: it is part of the team’s MCP URL and of every issued token', [
      { field: 'slug', message: 'is immutable' },
    ]);
  }
  const data = { ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.joinPolicy !== undefined ? { joinPolicy: patch.joinPolicy } : {}) };
  const updated = Object.keys(data).length ? await deps.db.prisma.team.update({ where: { id: team.id }, data }).catch(rethrowAsNotFound('team_not_found', `No team ${slug}`)) : team;
  deps.teams.invalidate(slug);
  deps.audit.record({ teamId: team.id, actor: p.actor, action: 'admin.team_update', target: slug, outcome: 'ok', detail: { fields: Object.keys(data).join(',') } });
  return toTeamJson(updated);
}

/** Ends the team's sessions everywhere (reason `team_deleted`), then deletes it and everything it owns. */
export async function deleteTeam(deps: ServiceDeps, p: AdminPrincipal, slug: string): Promise<void> {
  const team = await findTeam(deps, slug);
  const ended = await endSessionsWhere(deps, { teamId: team.id }, 'team_deleted');
  const { count } = await deps.db.prisma.team.deleteMany({ where: { id: team.id } });
  if (count === 0) throw new NotFound('team_not_found', `No team ${slug}`);
  deps.teams.invalidate(slug);
  // teamId stays null: the team's own audit records go with it, this one must outlive it.
  deps.audit.record({ teamId: null, actor: p.actor, action: 'admin.team_delete', target: slug, outcome: 'ok', detail: { team: slug, sessionsEnded: ended } });
}
