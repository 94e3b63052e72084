/**
 * Tool servers for the admin API, through the same code as the CLI: `addToolServer` and the tool-server registry
 * (read, change, remove). Listing is here because the API pages with keyset cursors. Secrets stay sealed and
 * write-only, and live sessions of the team hear about every change (`SessionRuntime.toolsChanged`).
 *
 * Unlike the CLI, the API limits team admins (`tool-server-policy.ts`): no `passthrough` auth (403) and no URL on a
 * private or loopback address (422). A URL a platform admin sends is approved for private addresses; one a team
 * admin sends is checked again at every connection (`allowPrivateAddresses`, see `SavedBy`). Every add or change
 * that leaves a tool server with `passthrough` or `static` auth is audited with its mode (never the secret), and so
 * is every refusal.
 */
import { addToolServer, authConfig, parseToolServerInput, toToolServerJson, type SavedBy, type ToolServerConfig, type ToolServerJson } from '../toolservers/tool-server-config.js';
import * as registry from '../toolservers/tool-server-registry.js';
import type { AdminPrincipal } from './admin-principal.js';
import { enforceTeamAdminLimits, type RemoteSettings } from './tool-server-policy.js';
import { decodeListCursor, page } from './cursor.js';
import { findTeam } from './teams-service.js';
import { unknownFields } from './unknown-fields.js';
import type { ServiceDeps } from './service-deps.js';
import { DomainError, Invalid, Refused } from '../errors.js';

export interface ToolServerPatch {
  name?: string | undefined;
  kind?: 'builtin' | 'remote' | undefined;
  pack?: string | undefined;
  url?: string | undefined;
  auth?: ({ mode: string } & Record<string, unknown>) | undefined;
  prefix?: boolean | undefined;
  enabled?: boolean | undefined;
  policy?: unknown;
}

export async function listToolServers(deps: ServiceDeps, slug: string, q: { cursor?: string | undefined; limit: number }) {
  const team = await findTeam(deps, slug);
  const after = q.cursor === undefined ? undefined : decodeListCursor('tool-servers', q.cursor, 1)[0];
  const rows = await deps.db.prisma.toolServer.findMany({
    where: { teamId: team.id, ...(after === undefined ? {} : { name: { gt: after } }) },
    orderBy: { name: 'asc' },
    take: q.limit + 1,
  });
  return page(rows, q.limit, 'tool-servers', (t) => [t.name], toToolServerJson);
}

export async function getToolServer(deps: ServiceDeps, slug: string, name: string) {
  const team = await findTeam(deps, slug);
  return registry.getToolServer(deps.db.prisma, team.id, name);
}

export async function createToolServer(deps: ServiceDeps, p: AdminPrincipal, slug: string, config: ToolServerConfig) {
  return createIn(deps, p, await findTeam(deps, slug), config);
}

/**
 * `switchboard tool-servers add`: the same as `createToolServer` for input not validated yet (the CLI's flags), which
 * is checked after the team is found, as the admin API's body is.
 */
export async function addToolServerInput(deps: ServiceDeps, p: AdminPrincipal, slug: string, input: unknown) {
  const team = await findTeam(deps, slug);
  return createIn(deps, p, team, parseToolServerInput(input));
}

async function createIn(deps: ServiceDeps, p: AdminPrincipal, team: { id: string }, config: ToolServerConfig) {
  const action = 'admin.tool_server_add';
  if (config.kind === 'remote') await enforce(deps, p, team.id, action, config.name, undefined, { url: config.url, authMode: config.auth.mode });
  const row = await addToolServer(deps.db.prisma, deps.box, team.id, config, savedBy(p));
  const json = toToolServerJson(row);
  await changed(deps, p, team.id, action, config.name, credentialDetail(json, undefined, config.kind === 'remote' && config.auth.mode === 'static'));
  return json;
}

const REMOTE_ONLY = ['url', 'auth'] as const;

/**
 * Refuses what `updateToolServer` would otherwise ignore: a new name or kind (422: they are what clients and sessions
 * know the tool server by; remove it and add a new one), fields of the other kind, and unknown `auth` fields.
 */
async function checkPatch(deps: ServiceDeps, teamId: string, name: string, patch: ToolServerPatch) {
  const immutable = (field: 'name' | 'kind') => new Refused('unprocessable', `${field} is immutable: remove the tool server and add a new one`, [{ field, message: 'is immutable' }]);
  if (patch.name !== undefined && patch.name !== name) throw immutable('name');
  const row = await deps.db.prisma.toolServer.findUnique({ where: { teamId_name: { teamId, name } }, select: { kind: true, url: true, authMode: true } });
  if (!row) return undefined; // the registry answers 404
  if (patch.kind !== undefined && patch.kind !== row.kind) throw immutable('kind');
  const foreign = row.kind === 'remote' ? (['pack'] as const).filter((k) => patch[k] !== undefined) : REMOTE_ONLY.filter((k) => patch[k] !== undefined);
  const unknownAuth = patch.auth ? unknownFields(patch.auth, authConfig.safeParse({ secret: 'x', ...patch.auth }).data ?? patch.auth, ['auth']) : [];
  const details = [...foreign.map((k) => ({ field: k, message: `not a setting of a ${row.kind} tool server` })), ...unknownAuth];
  if (details.length) throw new Invalid('invalid_body', `Invalid change: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  return row;
}

/** `updateToolServer` of the registry (shared with the CLI) behind the admin API's stricter checks. */
export async function updateToolServer(deps: ServiceDeps, p: AdminPrincipal, slug: string, name: string, patch: ToolServerPatch) {
  const team = await findTeam(deps, slug);
  const row = await checkPatch(deps, team.id, name, patch);
  const action = 'admin.tool_server_update';
  const before = row?.kind === 'remote' && row.url !== null ? { url: row.url, authMode: row.authMode } : undefined;
  if (before) await enforce(deps, p, team.id, action, name, before, { url: patch.url ?? before.url, authMode: patch.auth?.mode ?? before.authMode });
  const { name: _name, kind: _kind, ...change } = patch;
  // An `oauth` tool server that moves to another URL or leaves the mode: its users' tokens are of no use any more
  // (they were issued for the old URL); they are revoked with the registration as it is now, once the change is made.
  const leavesOAuth = before?.authMode === 'oauth' && ((patch.url !== undefined && patch.url !== before.url) || (patch.auth !== undefined && patch.auth.mode !== 'oauth'));
  const revoke = leavesOAuth ? await connectionsRevoker(deps, team.id, name) : undefined;
  const updated = await registry.updateToolServer(deps.db.prisma, deps.box, team.id, name, change, savedBy(p));
  await revoke?.();
  const credentials = credentialDetail(updated, before?.authMode, typeof patch.auth?.secret === 'string');
  // A policy change says so, with how many rules it leaves (the rules themselves are in the tool server).
  const policy = patch.policy !== undefined ? { policyRules: Object.values(updated.policy).reduce((n, r) => n + Object.keys(r ?? {}).length, 0) } : undefined;
  await changed(deps, p, team.id, action, name, credentials || policy ? { ...credentials, ...policy } : undefined);
  return updated;
}

export async function removeToolServer(deps: ServiceDeps, p: AdminPrincipal, slug: string, name: string): Promise<void> {
  const team = await findTeam(deps, slug);
  const revoke = await connectionsRevoker(deps, team.id, name);
  await registry.removeToolServer(deps.db.prisma, team.id, name);
  await revoke?.();
  await changed(deps, p, team.id, 'admin.tool_server_remove', name);
}

/**
 * For an `oauth` tool server about to be removed or moved: its users' connections as they are, and its registration
 * read now (the change takes it away or makes it the new URL's), so that once the change is made the connections are
 * deleted and revoked at its authorization server — all at once, each bounded by `REVOKE_TIMEOUT_MS`, best effort
 * (`upstream-tokens.ts`). Undefined when there is nothing to revoke (no connections, or no upstream access: the CLI).
 */
async function connectionsRevoker(deps: ServiceDeps, teamId: string, name: string): Promise<(() => Promise<void>) | undefined> {
  if (!deps.upstreamRevoker) return undefined;
  const rows = await deps.db.prisma.upstreamConnection.findMany({
    where: { teamId, toolServer: { teamId, name, authMode: 'oauth' } },
    select: { id: true, teamId: true, userId: true, toolServerId: true, accessTokenEncrypted: true, refreshTokenEncrypted: true },
  });
  if (rows.length === 0) return undefined;
  const revoke = await deps.upstreamRevoker(rows[0]!.toolServerId, teamId);
  return async () => {
    // Gone with a removed tool server; deleted here for a moved one (their tokens were for the old URL).
    await deps.db.prisma.upstreamConnection.deleteMany({ where: { id: { in: rows.map((r) => r.id) }, teamId } });
    await Promise.allSettled(rows.map(({ id: _id, ...row }) => revoke(row)));
  };
}

/** Only a platform admin approves a tool server's URL for private addresses. */
function savedBy(p: AdminPrincipal): SavedBy {
  return { approvesPrivateAddresses: p.platform };
}

type Detail = Record<string, string | number | boolean | null>;

async function changed(deps: ServiceDeps, p: AdminPrincipal, teamId: string, action: string, name: string, detail?: Detail) {
  deps.audit.record({ teamId, actor: p.actor, action, target: name, outcome: 'ok', ...(detail ? { detail } : {}) });
  await deps.sessions.toolsChanged(teamId);
}

/** The team-admin limits; a refusal is audited (outcome `forbidden` or `unprocessable`) before it is answered. */
async function enforce(deps: ServiceDeps, p: AdminPrincipal, teamId: string, action: string, name: string, before: RemoteSettings | undefined, after: RemoteSettings) {
  try {
    await enforceTeamAdminLimits(p, before, after);
  } catch (err) {
    if (err instanceof DomainError) deps.audit.record({ teamId, actor: p.actor, action, target: name, outcome: err.code, detail: { authMode: after.authMode, url: withoutCredentials(after.url) } });
    throw err;
  }
}

/** A refused PATCH's URL is not validated yet: it might carry credentials, which an audit record must not keep. */
function withoutCredentials(raw: string): string {
  const url = URL.parse(raw);
  if (!url) return '(not a URL)';
  url.username = '';
  url.password = '';
  return url.href;
}

/**
 * What the audit record of an add or change says about credentials when the tool server ends up with auth that
 * hands it a token or a secret (`passthrough`, `static`): the mode, the URL and whether a new secret was sent.
 */
function credentialDetail(ts: ToolServerJson, previousAuthMode: string | undefined, secretSent: boolean): Detail | undefined {
  const mode = ts.auth?.mode;
  if (mode !== 'passthrough' && mode !== 'static') return undefined;
  return {
    authMode: mode,
    url: ts.url ?? null,
    ...(previousAuthMode !== undefined ? { previousAuthMode } : {}),
    ...(mode === 'static' ? { header: ts.auth?.header ?? null, secretSent } : {}),
  };
}
