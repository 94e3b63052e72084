/**
 * A tool server's configuration (docs/interface.md §4) as accepted by the CLI and the admin API: one zod schema, one set
 * of rules, one place that writes `tool_servers` rows (secrets sealed, never returned).
 */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';
import { ApiError } from '../http/errors.js';
import type { SecretBox } from '../security/secret-box.js';
import { BUILTIN_PACKS } from './packs/index.js';
import { assertNoNameClash } from './name-clash.js';

export const TOOL_SERVER_NAME = /^[a-z0-9_-]{1,32}$/;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const hasSpaceOrControl = (v: string) => [...v].some((ch) => /\s/.test(ch) || ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

// zod runs every refinement even after one failed: the later ones must not throw on a string that is not a URL.
const parseUrl = (v: string): URL | undefined => (URL.canParse(v) ? new URL(v) : undefined);
const remoteUrl = z
  .string()
  .max(2048, { message: 'must be at most 2048 characters' })
  // The URL parser silently drops tabs and line breaks (and trims spaces), so the stored text, which is also the
  // exchange token's `aud`, would differ from the address called.
  .refine((v) => !hasSpaceOrControl(v), { message: 'must not contain spaces, line breaks or other control characters (percent-encode them)' })
  .refine((v) => URL.canParse(v), { message: 'must be a URL' })
  .refine((v) => {
    const u = parseUrl(v);
    return !u || u.protocol === 'https:' || (u.protocol === 'http:' && LOCAL_HOSTS.has(u.hostname));
  }, { message: 'must be https (http is allowed only for localhost)' })
  .refine((v) => {
    const u = parseUrl(v);
    return !u || (!u.username && !u.password);
  }, { message: 'must not contain credentials; use auth.mode "static"' });

/**
 * Headers the HTTP client or the MCP transport set themselves: a static credential in one of them would break
 * framing or the protocol (or redirect the request to another virtual host), never authenticate.
 */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'content-type',
  'content-encoding',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
]);

/** A header name: letters, digits and dashes (a strict subset of RFC 9110 `token`), none the transport sets. */
export const staticHeaderName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, { message: 'must be an HTTP header name (1–64 letters, digits or dashes; no spaces, colons or line breaks)' })
  .refine((v) => !RESERVED_HEADERS.has(v.toLowerCase()), { message: 'is set by the gateway itself; use Authorization or an X-… header' });

/**
 * A header value (RFC 9110 §5.5): printable ASCII, spaces allowed inside. CR, LF and NUL would split or
 * smuggle headers (Node refuses to send them, so the tool server would fail at its first request); other control
 * and non-ASCII characters are refused too, and leading or trailing spaces, which fetch silently strips.
 */
export const staticHeaderValue = z
  .string()
  .min(1, { message: 'is required for mode "static"' })
  .max(4096)
  .refine((v) => /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(v), {
    message: 'must be a valid HTTP header value: printable ASCII, without line breaks (CR, LF), other control characters or leading/trailing spaces',
  });

export const authConfig = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('exchange') }),
  z.object({ mode: z.literal('passthrough') }),
  z.object({ mode: z.literal('none') }),
  z.object({
    mode: z.literal('static'),
    header: staticHeaderName.default('Authorization'),
    secret: staticHeaderValue,
  }),
]);

const name = z.string().regex(TOOL_SERVER_NAME, { message: 'must be 1–32 of a-z, 0-9, _ and -' });

export const toolServerInput = z.discriminatedUnion('kind', [
  z.object({
    name,
    kind: z.literal('builtin'),
    pack: z.string().refine((p) => BUILTIN_PACKS.has(p), { message: `unknown pack; known packs: ${[...BUILTIN_PACKS.keys()].join(', ')}` }),
    prefix: z.boolean().default(true),
    enabled: z.boolean().default(true),
  }),
  z.object({
    name,
    kind: z.literal('remote'),
    url: remoteUrl,
    auth: authConfig.default({ mode: 'exchange' }),
    prefix: z.boolean().default(true),
    enabled: z.boolean().default(true),
  }),
]);

export type ToolServerInput = z.input<typeof toolServerInput>;
export type ToolServerConfig = z.output<typeof toolServerInput>;

/** The API view of a tool server: never the secret, only whether one is set. */
export interface ToolServerJson {
  name: string;
  kind: 'builtin' | 'remote';
  pack?: string;
  url?: string;
  auth?: { mode: string; header?: string; secretSet?: boolean };
  prefix: boolean;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

type Row = Prisma.ToolServerGetPayload<object>;

export function toToolServerJson(r: Row): ToolServerJson {
  return {
    name: r.name,
    kind: r.kind === 'remote' ? 'remote' : 'builtin',
    ...(r.pack ? { pack: r.pack } : {}),
    ...(r.url ? { url: r.url } : {}),
    ...(r.kind === 'remote'
      ? { auth: { mode: r.authMode, ...(r.authMode === 'static' ? { header: r.authHeader ?? 'Authorization', secretSet: r.secretEncrypted !== null } : {}) } }
      : {}),
    prefix: r.prefix,
    enabled: r.enabled,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export function parseToolServerInput(input: unknown): ToolServerConfig {
  const parsed = toolServerInput.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
    throw new ApiError('invalid_body', `Invalid tool server: ${details.map((d) => `${d.field || '(body)'} ${d.message}`).join('; ')}`, details);
  }
  return parsed.data;
}

/**
 * Who is saving a tool server. An operator (the CLI) and a platform admin approve the URL they set, so connections
 * to it may reach private and loopback addresses; a team admin's URL is checked at every connection (DNS rebinding).
 */
export interface SavedBy {
  approvesPrivateAddresses: boolean;
}

export const OPERATOR: SavedBy = { approvesPrivateAddresses: true };

/** `allowPrivateAddresses`: whether the stored URL is approved for private addresses (see `SavedBy`). */
export function rowData(c: ToolServerConfig, box: SecretBox, allowPrivateAddresses: boolean) {
  return c.kind === 'builtin'
    ? {
        name: c.name,
        kind: 'builtin',
        pack: c.pack,
        url: null,
        authMode: 'none',
        authHeader: null,
        secretEncrypted: null,
        allowPrivateAddresses: false,
        prefix: c.prefix,
        enabled: c.enabled,
      }
    : {
        name: c.name,
        kind: 'remote',
        pack: null,
        url: c.url,
        authMode: c.auth.mode,
        authHeader: c.auth.mode === 'static' ? c.auth.header : null,
        secretEncrypted: c.auth.mode === 'static' ? box.seal(c.auth.secret) : null,
        allowPrivateAddresses,
        prefix: c.prefix,
        enabled: c.enabled,
      };
}

/** Adds a tool server to a team; 409 when the name is taken or its tool names clash with another's. */
export async function addToolServer(prisma: PrismaClient, box: SecretBox, teamId: string, input: unknown, savedBy: SavedBy = OPERATOR) {
  const c = parseToolServerInput(input);
  const others = await prisma.toolServer.findMany({ where: { teamId }, select: { name: true, kind: true, pack: true, prefix: true } });
  assertNoNameClash({ name: c.name, kind: c.kind, pack: c.kind === 'builtin' ? c.pack : null, prefix: c.prefix }, others);
  try {
    return await prisma.toolServer.create({ data: { teamId, ...rowData(c, box, savedBy.approvesPrivateAddresses) } });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      throw new ApiError('conflict', `Team already has a tool server named ${c.name}`);
    }
    throw err;
  }
}
