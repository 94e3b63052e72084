/**
 * Auth mode `oauth` of a remote tool server (README §Connecting tool servers that have their own login): the gateway
 * is the upstream's MCP OAuth client and each user connects their own account. Optional: a client registered at the
 * upstream's authorization server beforehand (`clientId`, `clientSecret`; the secret sealed at rest in the row's
 * `secret_encrypted` and never returned) and the `scopes` to ask for.
 */
import { z } from 'zod';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, { message: 'must be an OAuth scope (printable ASCII, no spaces, quotes or backslashes)' });

export const oauthAuthConfig = z.strictObject({
  mode: z.literal('oauth'),
  clientId: z.string().min(1).max(512).regex(/^[\x20-\x7e]+$/, { message: 'must be printable ASCII' }).optional(),
  clientSecret: z.string().min(1).max(4096).regex(/^[\x20-\x7e]+$/, { message: 'must be printable ASCII' }).optional(),
  scopes: z.array(scopeToken).max(50).optional(),
});

export type OAuthAuthConfig = z.output<typeof oauthAuthConfig>;

/** What is stored in `tool_servers.auth_options` (the secret is not: it is sealed in `secret_encrypted`). */
export interface StoredOAuthOptions {
  clientId?: string;
  scopes?: string[];
}

export function storedOAuthOptions(c: OAuthAuthConfig): StoredOAuthOptions {
  return { ...(c.clientId !== undefined ? { clientId: c.clientId } : {}), ...(c.scopes !== undefined ? { scopes: c.scopes } : {}) };
}

/** Reads `auth_options` back; anything unexpected counts as no options. */
export function readOAuthOptions(raw: unknown): StoredOAuthOptions {
  const parsed = z.object({ clientId: z.string().optional(), scopes: z.array(z.string()).optional() }).safeParse(raw ?? {});
  if (!parsed.success) return {};
  return { ...(parsed.data.clientId !== undefined ? { clientId: parsed.data.clientId } : {}), ...(parsed.data.scopes !== undefined ? { scopes: parsed.data.scopes } : {}) };
}

/** A secret without a client id means nothing: refused when configuring. */
export function oauthConfigProblem(c: OAuthAuthConfig): string | undefined {
  return c.clientSecret !== undefined && c.clientId === undefined ? 'clientSecret needs clientId' : undefined;
}

/**
 * A change of an `oauth` tool server that sends no `clientSecret` keeps the stored one, as long as it is still meant
 * for the same client at the same URL (a secret must not follow the tool server elsewhere).
 */
export function keepsOAuthClientSecret(
  row: { authMode: string; authOptions: unknown; secretEncrypted: string | null; url: string | null },
  auth: { mode: string; clientId?: string | undefined; clientSecret?: string | undefined } | undefined,
  newUrl: string | undefined,
): boolean {
  if (row.authMode !== 'oauth' || auth?.mode !== 'oauth' || !row.secretEncrypted || auth.clientSecret !== undefined) return false;
  return auth.clientId === readOAuthOptions(row.authOptions).clientId && (newUrl === undefined || newUrl === row.url);
}
