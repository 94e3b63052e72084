/**
 * RFC 7591 client metadata, as registered (DCR) or published (Client ID Metadata Documents): one zod schema and
 * the rules both paths share, producing the normalised `ClientRecord` the rest of the server works with.
 */
import { z } from 'zod';
import { InvalidClientMetadata, InvalidRedirectUri } from './oauth-errors.js';
import { MAX_REDIRECT_URIS, redirectUriProblem } from './redirect-uris.js';

export const AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export const GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;

const text = (max: number) => z.string().max(max);

/** The fields we read; unknown fields are accepted and dropped (RFC 7591 §2: ignore what you do not understand). */
export const clientMetadataSchema = z.looseObject({
  redirect_uris: z.array(z.string(), { error: 'redirect_uris must be an array of strings' }).optional(),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
  client_name: text(200).optional(),
  client_uri: text(2000).optional(),
  logo_uri: text(2000).optional(),
  scope: text(1000).optional(),
  contacts: z.array(text(320)).max(10).optional(),
  tos_uri: text(2000).optional(),
  policy_uri: text(2000).optional(),
  software_id: text(200).optional(),
  software_version: text(100).optional(),
});

export type ClientMetadataInput = z.infer<typeof clientMetadataSchema>;

/** A client as the authorization server sees it, whichever way it became known. */
export interface ClientRecord {
  id: string;
  name: string | undefined;
  redirectUris: string[];
  authMethod: AuthMethod;
  secretHash: string | null;
  grantTypes: string[];
  scope: string | undefined;
  isMetadataDocument: boolean;
  /** The metadata echoed back in the registration response (and kept in the row). */
  metadata: Record<string, unknown>;
}

/** Strips control characters from names shown on the consent page. */
function displayName(name: string | undefined): string | undefined {
  const clean = name?.replace(/[\p{Cc}\p{Cf}]/gu, '').trim();
  return clean ? clean : undefined;
}

/**
 * Validates metadata into the parts of a `ClientRecord` (without id and secret). `kind` decides the defaults:
 * DCR defaults to `client_secret_basic` (RFC 7591 §2); a metadata document cannot hold a shared secret, so it
 * must be a public client. Both default `grant_types` to code + refresh (real clients expect refresh tokens).
 */
export function validateClientMetadata(raw: unknown, kind: 'dcr' | 'document') {
  const parsed = clientMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidClientMetadata(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  const m = parsed.data;
  const redirectUris = m.redirect_uris ?? [];
  if (redirectUris.length === 0) throw new InvalidRedirectUri('redirect_uris must list at least one redirect URI');
  if (redirectUris.length > MAX_REDIRECT_URIS) throw new InvalidRedirectUri(`at most ${MAX_REDIRECT_URIS} redirect URIs may be registered`);
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new InvalidRedirectUri(`redirect URI ${JSON.stringify(uri.slice(0, 200))} is not allowed: ${problem}`);
  }

  const authMethod = (m.token_endpoint_auth_method ?? (kind === 'dcr' ? 'client_secret_basic' : 'none')) as AuthMethod;
  if (!AUTH_METHODS.includes(authMethod)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method ${JSON.stringify(authMethod)} is not supported; use one of ${AUTH_METHODS.join(', ')}`);
  }
  if (kind === 'document' && authMethod !== 'none') {
    throw new InvalidClientMetadata('a client metadata document must use token_endpoint_auth_method "none" (it cannot hold a shared secret)');
  }

  const grantTypes = m.grant_types ?? [...GRANT_TYPES];
  const unsupported = grantTypes.filter((g) => !(GRANT_TYPES as readonly string[]).includes(g));
  if (unsupported.length) throw new InvalidClientMetadata(`grant_types not supported: ${unsupported.join(', ')}`);
  if (!grantTypes.includes('authorization_code')) throw new InvalidClientMetadata('grant_types must include authorization_code');

  const responseTypes = m.response_types ?? ['code'];
  if (responseTypes.some((r) => r !== 'code')) throw new InvalidClientMetadata('response_types may only contain "code"');

  const metadata: Record<string, unknown> = {
    redirect_uris: redirectUris,
    token_endpoint_auth_method: authMethod,
    grant_types: grantTypes,
    response_types: responseTypes,
  };
  for (const key of ['client_name', 'client_uri', 'logo_uri', 'scope', 'contacts', 'tos_uri', 'policy_uri', 'software_id', 'software_version'] as const) {
    if (m[key] !== undefined) metadata[key] = m[key];
  }
  return {
    name: displayName(m.client_name),
    redirectUris,
    authMethod,
    grantTypes,
    scope: m.scope,
    metadata,
  };
}
