/**
 * A tool server's configuration (docs/interface.md §4) as accepted by the CLI and the admin API: one zod schema, one set
 * of rules, one place that writes `tool_servers` rows (secrets sealed, never returned).
 */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';
import type { SecretBox } from '../security/secret-box.js';
import { BUILTIN_PACKS } from './packs/index.js';
import { assertNoNameClash } from './name-clash.js';
import { Invalid, Conflict } from '../errors.js';
import { accessPolicy, normalizePolicy, readStoredPolicy, type AccessPolicy } from './access-policy.js';
import { oauthAuthConfig, oauthConfigProblem, readOAuthOptions, storedOAuthOptions } from './oauth/oauth-auth-config.js';

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
  oauthAuthConfig,
]);

const name = z.string().regex(TOOL_SERVER_NAME, { message: 'must be 1–32 of a-z, 0-9, _ and -' });

export const toolServerInput = z.discriminatedUnion('kind', [
  z.object({
    name,
    kind: z.literal('builtin'),
    pack: z.string().refine((p) => BUILTIN_PACKS.has(p), { message: `unknown pack; known packs: ${[...BUILTIN_PACKS.keys()].join(', ')}` }),
    prefix: z.boolean().default(true),
    enabled: z.boolean().default(true),
    policy: accessPolicy.default({}),
  }),
  z.object({
    name,
    kind: z.literal('remote'),
    url: remoteUrl,
    auth: authConfig.default({ mode: 'exchange' }).superRefine((a, ctx) => {
      const problem = a.mode === 'oauth' ? oauthConfigProblem(a) : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: problem });
    }),
    prefix: z.boolean().default(true),
    enabled: z.boolean().default(true),
    policy: accessPolicy.default({}),
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
  auth?: { mode: string; header?: string; secretSet?: boolean; clientId?: string; scopes?: string[] };
  prefix: boolean;
  enabled: boolean;
  /** Who may use what (`access-policy.ts`); `{}` when everything is open to every member. */
  policy: AccessPolicy;
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
      ? {
          auth: {
            mode: r.authMode,
            ...(r.authMode === 'static' ? { header: r.authHeader ?? 'Authorization', secretSet: r.secretEncrypted !== null } : {}),
            ...(r.authMode === 'oauth' ? { ...readOAuthOptions(r.authOptions), secretSet: r.secretEncrypted !== null } : {}),
          },
        }
      : {}),
    prefix: r.prefix,
    enabled: r.enabled,
    policy: policyJson(r.policy),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** A stored policy as the API shows it: as stored, or `{}` for none (one edited by hand into nonsense is shown as is). */
function policyJson(raw: unknown): AccessPolicy {
  const read = readStoredPolicy(raw);
  if (read === 'invalid') return raw as AccessPolicy;
  return read ?? {};
}

/** One entry per bad field, as the admin API names them (an unknown key is named itself, as `unknown field`). */
export function issueDetails(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: [...at, k].join('.'), message: 'unknown field' }));
    return [{ field: at.join('.'), message: i.message }];
  });
}

export function parseToolServerInput(input: unknown): ToolServerConfig {
  const parsed = toolServerInput.safeParse(input);
  if (!parsed.success) {
    const details = issueDetails(parsed.error);
    throw new Invalid('invalid_body', `Invalid tool server: ${details.map((d) => `${d.field || '(body)'} ${d.message}`).join('; ')}`, details);
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
        authOptions: Prisma.DbNull,
        allowPrivateAddresses: false,
        prefix: c.prefix,
        enabled: c.enabled,
        policy: (normalizePolicy(c.policy) ?? {}) as Prisma.InputJsonObject,
      }
    : {
        name: c.name,
        kind: 'remote',
        pack: null,
        url: c.url,
        authMode: c.auth.mode,
        authHeader: c.auth.mode === 'static' ? c.auth.header : null,
        secretEncrypted: c.auth.mode === 'static' ? box.seal(c.auth.secret) : c.auth.mode === 'oauth' && c.auth.clientSecret !== undefined ? box.seal(c.auth.clientSecret) : null,
        authOptions: c.auth.mode === 'oauth' ? (storedOAuthOptions(c.auth) as Prisma.InputJsonObject) : Prisma.DbNull,
        allowPrivateAddresses,
        prefix: c.prefix,
        enabled: c.enabled,
        policy: (normalizePolicy(c.policy) ?? {}) as Prisma.InputJsonObject,
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
      throw new Conflict('conflict', `Team already has a tool server named ${c.name}`);
    }
    throw err;
  }
}
