/**
 * Users' connections to `oauth` tool servers as the APIs show them — never a token, only which tool server, since
 * when, until when the current access token runs and what it was granted. Every query names the user, and the team
 * or the teams the caller may see.
 */
import type { PrismaClient } from '../../db/database.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { RemovedConnection } from './upstream-tokens.js';

export interface ConnectionJson {
  id: string;
  team: string;
  toolServer: string;
  userId: string;
  scope: string | null;
  /** When the current access token expires (it is refreshed before); null when the upstream did not say. */
  expiresAt: string | null;
  /** Whether the gateway holds a refresh token (without one, the connection ends when the access token expires). */
  refreshable: boolean;
  createdAt: string;
  updatedAt: string;
}

const select = {
  id: true,
  userId: true,
  scope: true,
  expiresAt: true,
  refreshTokenEncrypted: true,
  createdAt: true,
  updatedAt: true,
  team: { select: { slug: true } },
  toolServer: { select: { name: true } },
} as const;

type Row = {
  id: string;
  userId: string;
  scope: string | null;
  expiresAt: Date | null;
  refreshTokenEncrypted: string | null;
  createdAt: Date;
  updatedAt: Date;
  team: { slug: string };
  toolServer: { name: string };
};

function toJson(r: Row): ConnectionJson {
  return {
    id: r.id,
    team: r.team.slug,
    toolServer: r.toolServer.name,
    userId: r.userId,
    scope: r.scope,
    expiresAt: r.expiresAt?.toISOString() ?? null,
    refreshable: r.refreshTokenEncrypted !== null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** A user's connections; `teamIds` limits them to those teams (a team admin's view), undefined: all. */
export async function listConnections(prisma: PrismaClient, scope: { userId: string; teamId?: string; teamIds?: readonly string[] }): Promise<ConnectionJson[]> {
  const rows = await prisma.upstreamConnection.findMany({
    where: {
      userId: scope.userId,
      ...(scope.teamId !== undefined ? { teamId: scope.teamId } : {}),
      ...(scope.teamIds !== undefined ? { AND: [{ teamId: { in: [...scope.teamIds] } }] } : {}),
    },
    select,
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  return rows.map(toJson);
}

/** A removed connection: as the APIs show it, and what revoking it at the upstream needs (never shown). */
export type Removed = { json: ConnectionJson & { teamId: string }; tokens: RemovedConnection };

const removable = { ...select, teamId: true, toolServerId: true, accessTokenEncrypted: true } as const;

/** Deletes the row found by `where` (the user's own); what it held, or undefined if there was none (or it went meanwhile). */
async function remove(prisma: PrismaClient, userId: string, where: Prisma.UpstreamConnectionWhereInput): Promise<Removed | undefined> {
  const row = await prisma.upstreamConnection.findFirst({ where: { ...where, userId }, select: removable });
  if (!row) return undefined;
  const { count } = await prisma.upstreamConnection.deleteMany({ where: { id: row.id, userId } });
  if (count === 0) return undefined;
  const tokens = { teamId: row.teamId, userId, toolServerId: row.toolServerId, accessTokenEncrypted: row.accessTokenEncrypted, refreshTokenEncrypted: row.refreshTokenEncrypted };
  return { json: { ...toJson(row), teamId: row.teamId }, tokens };
}

/** Removes the user's connection to a tool server of the team. */
export function removeConnectionByServer(prisma: PrismaClient, scope: { userId: string; teamId: string }, toolServer: string): Promise<Removed | undefined> {
  return remove(prisma, scope.userId, { teamId: scope.teamId, toolServer: { name: toolServer, teamId: scope.teamId } });
}

/** Removes one of the user's connections by id (within `teamIds` when given). */
export function removeConnectionById(prisma: PrismaClient, scope: { userId: string; teamIds?: readonly string[] }, id: string): Promise<Removed | undefined> {
  return remove(prisma, scope.userId, { id, ...(scope.teamIds !== undefined ? { teamId: { in: [...scope.teamIds] } } : {}) });
}
