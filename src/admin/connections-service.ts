/**
 * Users' connections to `oauth` tool servers as admins see them: a platform admin any user's, a team admin those in
 * the teams they administer (a user outside them does not exist for them: 404). Revoking is audited.
 */
import { listConnections, removeConnectionById, type ConnectionJson } from '../toolservers/oauth/connections-service.js';
import type { AdminPrincipal } from './admin-principal.js';
import type { ServiceDeps } from './service-deps.js';
import { NotFound } from '../errors.js';

/** The team ids `p` sees connections in; undefined: every team. */
function visibleTeams(p: AdminPrincipal): string[] | undefined {
  return p.platform ? undefined : [...p.adminTeams.values()];
}

async function findUser(deps: ServiceDeps, p: AdminPrincipal, userId: string): Promise<void> {
  const teams = visibleTeams(p);
  const user = await deps.db.prisma.user.findFirst({
    where: { id: userId, ...(teams !== undefined ? { memberships: { some: { teamId: { in: teams } } } } : {}) },
    select: { id: true },
  });
  if (!user) throw new NotFound('user_not_found', `No user ${userId}`);
}

export async function listUserConnections(deps: ServiceDeps, p: AdminPrincipal, userId: string): Promise<{ items: ConnectionJson[]; nextCursor: null }> {
  await findUser(deps, p, userId);
  const teams = visibleTeams(p);
  return { items: await listConnections(deps.db.prisma, { userId, ...(teams !== undefined ? { teamIds: teams } : {}) }), nextCursor: null };
}

export async function revokeUserConnection(deps: ServiceDeps, p: AdminPrincipal, userId: string, id: string): Promise<void> {
  await findUser(deps, p, userId);
  const teams = visibleTeams(p);
  const removed = await removeConnectionById(deps.db.prisma, { userId, ...(teams !== undefined ? { teamIds: teams } : {}) }, id);
  if (!removed) throw new NotFound('connection_not_found', `User ${userId} has no connection ${id}`);
  const revoke = await deps.upstreamRevoker?.(removed.tokens.toolServerId, removed.tokens.teamId);
  const upstream = await revoke?.(removed.tokens);
  deps.audit.record({
    teamId: removed.json.teamId,
    actor: p.actor,
    userId,
    action: 'admin.connection_revoke',
    target: removed.json.toolServer,
    outcome: 'ok',
    ...(upstream !== undefined ? { detail: { upstream } } : {}),
  });
}
