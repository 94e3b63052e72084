/**
 * Listing, changing and removing a team's tool servers (adding is `addToolServer` in `tool-server-config.ts`),
 * shared by the CLI and the admin API. Changes apply to sessions started afterwards (the admin API and the CLI's
 * `policy` command also announce them to live sessions).
 */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import type { SecretBox } from '../security/secret-box.js';
import { assertNoNameClash } from './name-clash.js';
import type { Prisma } from '../generated/prisma/client.js';
import { issueDetails, parseToolServerInput, rowData, toToolServerJson, authConfig, OPERATOR, type SavedBy, type ToolServerJson } from './tool-server-config.js';
import { Invalid, NotFound } from '../errors.js';
import { keepsOAuthClientSecret, readOAuthOptions } from './oauth/oauth-auth-config.js';

/** The team's tool servers by name, secrets never included. */
export async function listToolServers(prisma: PrismaClient, teamId: string): Promise<ToolServerJson[]> {
  const rows = await prisma.toolServer.findMany({ where: { teamId }, orderBy: { name: 'asc' } });
  return rows.map(toToolServerJson);
}

export async function getToolServer(prisma: PrismaClient, teamId: string, name: string): Promise<ToolServerJson> {
  const row = await prisma.toolServer.findUnique({ where: { teamId_name: { teamId, name } } });
  if (!row) throw new NotFound('tool_server_not_found', `The team has no tool server named ${name}`);
  return toToolServerJson(row);
}

/** Removes a tool server; 404 when there is none by that name. */
export async function removeToolServer(prisma: PrismaClient, teamId: string, name: string): Promise<void> {
  const { count } = await prisma.toolServer.deleteMany({ where: { teamId, name } });
  if (count === 0) throw new NotFound('tool_server_not_found', `The team has no tool server named ${name}`);
}

/** A change to a tool server: any of its settings but its name and kind. */
export const toolServerPatch = z
  .object({
    pack: z.string().optional(),
    url: z.string().optional(),
    // A static secret may be left out to keep the stored one. One that is sent is kept here even when invalid, so
    // that the validation of the merged result names it (rather than it being dropped and the old one kept).
    auth: z.union([authConfig, z.object({ mode: z.literal('static'), header: z.string().optional(), secret: z.string().optional() })]).optional(),
    prefix: z.boolean().optional(),
    enabled: z.boolean().optional(),
    // Replaces the policy as a whole (`{}` clears it); validated with the merged result.
    policy: z.unknown().optional(),
  })
  .strict();

export type ToolServerPatch = z.input<typeof toolServerPatch>;

/** Stands in for the stored secret during validation (a valid header value); the sealed one is kept. */
const STORED_SECRET = 'stored-secret';

/**
 * Applies a change with the same validation as adding (and the same clash check); 404 when unknown. A change that
 * sends a `url` approves it for private addresses when `savedBy` may approve (even the same URL: how a platform
 * admin approves a URL a team admin set), and a new URL from anyone else is not approved; a change without `url`
 * keeps the approval as it is — toggling a tool server approves nothing.
 */
export async function updateToolServer(prisma: PrismaClient, box: SecretBox, teamId: string, name: string, patch: unknown, savedBy: SavedBy = OPERATOR): Promise<ToolServerJson> {
  const parsed = toolServerPatch.safeParse(patch);
  if (!parsed.success) {
    const details = issueDetails(parsed.error);
    throw new Invalid('invalid_body', `Invalid change: ${details.map((d) => `${d.field || '(body)'} ${d.message}`).join('; ')}`, details);
  }
  const p = parsed.data;
  const row = await prisma.toolServer.findUnique({ where: { teamId_name: { teamId, name } } });
  if (!row) throw new NotFound('tool_server_not_found', `The team has no tool server named ${name}`);

  const currentAuth =
    row.authMode === 'static' ? { mode: 'static', header: row.authHeader ?? 'Authorization' } : row.authMode === 'oauth' ? { mode: 'oauth', ...readOAuthOptions(row.authOptions) } : { mode: row.authMode };
  let auth: Record<string, unknown> = p.auth ? { ...p.auth } : currentAuth;
  const keepSecret = auth.mode === 'static' && !('secret' in auth && auth.secret);
  if (keepSecret) {
    if (row.authMode !== 'static' || !row.secretEncrypted) throw new Invalid('invalid_body', 'Invalid change: auth.secret is required for mode "static"');
    auth = { header: row.authHeader ?? 'Authorization', ...auth, secret: STORED_SECRET };
  }
  // A policy not sent is kept as stored, unjudged: a change of something else must not fail on it.
  const policy = p.policy ?? {};
  const merged =
    row.kind === 'builtin'
      ? { name, kind: 'builtin', pack: p.pack ?? row.pack, prefix: p.prefix ?? row.prefix, enabled: p.enabled ?? row.enabled, policy }
      : { name, kind: 'remote', url: p.url ?? row.url, auth, prefix: p.prefix ?? row.prefix, enabled: p.enabled ?? row.enabled, policy };
  const c = parseToolServerInput(merged);
  // A stored secret was meant for the stored URL: moving the tool server elsewhere must not carry it along.
  if (keepSecret && p.url !== undefined && p.url !== row.url) {
    throw new Invalid('invalid_body', 'Invalid change: send auth.secret again when changing the URL of a tool server with static auth', [
      { field: 'auth.secret', message: 'required when url changes' },
    ]);
  }
  const others = await prisma.toolServer.findMany({ where: { teamId, NOT: { name } }, select: { name: true, kind: true, pack: true, prefix: true } });
  assertNoNameClash({ name, kind: c.kind, pack: c.kind === 'builtin' ? c.pack : null, prefix: c.prefix }, others);

  const sameUrlKept = p.url === undefined || p.url === row.url;
  const approved = p.url === undefined ? row.allowPrivateAddresses : savedBy.approvesPrivateAddresses || (sameUrlKept && row.allowPrivateAddresses);
  const data = rowData(c, box, approved);
  if (keepSecret || keepsOAuthClientSecret(row, c.kind === 'remote' ? c.auth : undefined, p.url)) data.secretEncrypted = row.secretEncrypted;
  if (p.policy === undefined) data.policy = row.policy as Prisma.InputJsonObject;
  const updated = await prisma.toolServer.update({ where: { id: row.id }, data });
  return toToolServerJson(updated);
}
