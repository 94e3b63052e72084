/**
 * Tool servers for the admin API, through the same code as the CLI: `addToolServer` and the tool-server registry
 * (read, change, remove). Listing is here because the API pages with keyset cursors. Secrets stay sealed and
 * write-only, and live sessions of the team hear about every change (`SessionRuntime.toolsChanged`).
 */
import { ApiError } from '../http/errors.js';
import { addToolServer, authConfig, toToolServerJson, type ToolServerConfig } from '../toolservers/tool-server-config.js';
import * as registry from '../toolservers/tool-server-registry.js';
import type { AdminPrincipal } from './admin-principal.js';
import { decodeListCursor, page } from './cursor.js';
import { findTeam } from './teams-service.js';
import { unknownFields } from './unknown-fields.js';
import type { AdminDeps } from './route.js';

export interface ToolServerPatch {
  name?: string | undefined;
  kind?: 'builtin' | 'remote' | undefined;
  pack?: string | undefined;
  url?: string | undefined;
  auth?: ({ mode: string } & Record<string, unknown>) | undefined;
  prefix?: boolean | undefined;
  enabled?: boolean | undefined;
}

export async function listToolServers(deps: AdminDeps, slug: string, q: { cursor?: string | undefined; limit: number }) {
  const team = await findTeam(deps, slug);
  const after = q.cursor === undefined ? undefined : decodeListCursor('tool-servers', q.cursor, 1)[0];
  const rows = await deps.db.prisma.toolServer.findMany({
    where: { teamId: team.id, ...(after === undefined ? {} : { name: { gt: after } }) },
    orderBy: { name: 'asc' },
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'tool-servers', (t) => [t.name], toToolServerJson);
}

export async function getToolServer(deps: AdminDeps, slug: string, name: string) {
  const team = await findTeam(deps, slug);
  return registry.getToolServer(deps.db.prisma, team.id, name);
}

export async function createToolServer(deps: AdminDeps, p: AdminPrincipal, slug: string, config: ToolServerConfig) {
  const team = await findTeam(deps, slug);
  const row = await addToolServer(deps.db.prisma, deps.box, team.id, config);
  await changed(deps, p, team.id, 'admin.tool_server_add', config.name);
  return toToolServerJson(row);
}

const REMOTE_ONLY = ['url', 'auth'] as const;

/**
 * Refuses what `updateToolServer` would otherwise ignore: a new name or kind (422: they are what clients and sessions
 * know the tool server by; remove it and add a new one), fields of the other kind, and unknown `auth` fields.
 */
async function checkPatch(deps: AdminDeps, teamId: string, name: string, patch: ToolServerPatch) {
  const immutable = (field: 'name' | 'kind') => new ApiError('unprocessable', `${field} is immutable: remove the tool server and add a new one`, [{ field, message: 'is immutable' }]);
  if (patch.name !== undefined && patch.name !== name) throw immutable('name');
  const row = await deps.db.prisma.toolServer.findUnique({ where: { teamId_name: { teamId, name } }, select: { kind: true } });
  if (!row) return; // the registry answers 404
  if (patch.kind !== undefined && patch.kind !== row.kind) throw immutable('kind');
  const foreign = row.kind === 'remote' ? (['pack'] as const).filter((k) => patch[k] !== undefined) : REMOTE_ONLY.filter((k) => patch[k] !== undefined);
  const unknownAuth = patch.auth ? unknownFields(patch.auth, authConfig.safeParse({ secret: 'x', ...patch.auth }).data ?? patch.auth, ['auth']) : [];
  const details = [...foreign.map((k) => ({ field: k, message: `not a setting of a ${row.kind} tool server` })), ...unknownAuth];
  if (details.length) throw new ApiError('invalid_body', `Invalid change: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
}

/** `updateToolServer` of the registry (shared with the CLI) behind the admin API's stricter checks. */
export async function updateToolServer(deps: AdminDeps, p: AdminPrincipal, slug: string, name: string, patch: ToolServerPatch) {
  const team = await findTeam(deps, slug);
  await checkPatch(deps, team.id, name, patch);
  const { name: _name, kind: _kind, ...change } = patch;
  const updated = await registry.updateToolServer(deps.db.prisma, deps.box, team.id, name, change);
  await changed(deps, p, team.id, 'admin.tool_server_update', name);
  return updated;
}

export async function removeToolServer(deps: AdminDeps, p: AdminPrincipal, slug: string, name: string): Promise<void> {
  const team = await findTeam(deps, slug);
  await registry.removeToolServer(deps.db.prisma, team.id, name);
  await changed(deps, p, team.id, 'admin.tool_server_remove', name);
}

async function changed(deps: AdminDeps, p: AdminPrincipal, teamId: string, action: string, name: string) {
  deps.audit.record({ teamId, actor: p.actor, action, target: name, outcome: 'ok' });
  await deps.sessions.toolsChanged(teamId);
}
