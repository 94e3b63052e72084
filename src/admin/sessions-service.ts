/**
 * Sessions as admins see them: any user's, any team's, and ending them for good. Closing goes through
 * `SessionRuntime.close`, which marks the row, drops this process's copy (closing its open streams) and NOTIFYs the
 * other replicas, which drop theirs — so the client's next request gets 404 wherever it lands.
 */
import type { Prisma } from '../generated/prisma/client.js';
import type { CloseReason } from '../sessions/session-store.js';
import { listSessions, type SessionListQuery } from '../sessions/session-list.js';
import { normaliseEmail } from '../teams/email.js';
import { sessionJsonInclude, toSessionJson, type SessionJson } from '../sessions/session-json.js';
import type { AdminPrincipal } from './admin-principal.js';
import { mayAdministerTeam } from './authorization.js';
import { teamScope } from './list-scope.js';
import { findTeam } from './teams-service.js';
import type { ServiceDeps } from './service-deps.js';
import { NotFound, Conflict } from '../errors.js';

/** The session with this id if `p` may see it; 404 `session_not_found` otherwise (nothing is revealed). */
export async function findSessionFor(deps: ServiceDeps, p: AdminPrincipal, id: string) {
  const row = await deps.db.prisma.session.findUnique({ where: { id }, include: sessionJsonInclude });
  if (!row || !mayAdministerTeam(p, row.teamId)) throw new NotFound('session_not_found', `No session ${id}`);
  return row;
}

/** `GET /sessions/{id}`: the session as JSON if `p` may see it. */
export async function getSession(deps: ServiceDeps, p: AdminPrincipal, id: string): Promise<SessionJson> {
  return toSessionJson(await findSessionFor(deps, p, id), deps.clock());
}

/** A page of one team's sessions (404 `team_not_found`). */
export async function listTeamSessions(deps: ServiceDeps, slug: string, q: SessionListQuery) {
  const team = await findTeam(deps, slug);
  return listSessions(deps.db.prisma, { teamId: team.id }, q, deps.clock());
}

/** A page of one user's sessions in every team (404 `user_not_found`). */
export async function listUserSessions(deps: ServiceDeps, userId: string, q: SessionListQuery) {
  const user = await deps.db.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
  if (!user) throw new NotFound('user_not_found', `No user ${userId}`);
  return listSessions(deps.db.prisma, { userId: user.id }, q, deps.clock());
}

/** A page of one user's own sessions in one team (`GET /t/{team}/sessions`, with their MCP access token). */
export function listOwnSessions(deps: ServiceDeps, teamId: string, userId: string, q: SessionListQuery) {
  return listSessions(deps.db.prisma, { teamId, userId }, q);
}

/** Ends one session on every replica, with an audit record naming who did it. 409 when it was already closed. */
export async function endSession(deps: ServiceDeps, p: AdminPrincipal, id: string): Promise<SessionJson> {
  const row = await findSessionFor(deps, p, id);
  const closed = await deps.sessions.close(id, 'admin');
  if (!closed) {
    const json = toSessionJson(row, deps.clock());
    throw new Conflict('session_closed', `Session ${id} is already closed (${json.closeReason ?? 'closed'})`);
  }
  deps.audit.record({
    teamId: row.teamId,
    actor: p.actor,
    userId: row.userId,
    sessionId: id,
    chat: row.chat?.externalId ?? null,
    action: 'admin.session_end',
    target: id,
    outcome: 'ok',
  });
  const after = await deps.db.prisma.session.findUniqueOrThrow({ where: { id }, include: sessionJsonInclude });
  return toSessionJson(after, deps.clock());
}

/** Ends every open session matching `where` (a team being deleted, a member being removed); returns how many. */
export async function endSessionsWhere(deps: ServiceDeps, where: Prisma.SessionWhereInput, reason: CloseReason): Promise<number> {
  const open = await deps.db.prisma.session.findMany({ where: { AND: [where, { closedAt: null }] }, select: { id: true } });
  let ended = 0;
  for (const { id } of open) if (await deps.sessions.close(id, reason)) ended++;
  return ended;
}

/**
 * A page of the sessions of every team `p` may see (`GET /sessions`, the console's sessions page), narrowed by
 * `team` and `user` (e-mail, exact on the normalised address) as `teamScope` allows.
 */
export async function listAllSessions(
  deps: ServiceDeps,
  p: AdminPrincipal,
  q: SessionListQuery & { team?: string | undefined; user?: string | undefined },
): Promise<{ items: SessionJson[]; nextCursor: string | null }> {
  const teams = await teamScope(deps, p, q.team);
  const scope = {
    ...(teams === undefined ? {} : { teamId: { in: teams } }),
    ...(q.user === undefined ? {} : { user: { email: normaliseEmail(q.user) } }),
  };
  return listSessions(deps.db.prisma, scope, q, deps.clock());
}
