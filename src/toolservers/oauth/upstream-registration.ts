/**
 * How the gateway finds and registers at a tool server's authorization server (MCP authorization spec, client side):
 * probe the tool server for its 401 and `WWW-Authenticate: … resource_metadata=…` (RFC 9728 §5.1), read the protected
 * resource metadata (falling back to its well-known URL) and the authorization server's metadata (RFC 8414 / OIDC
 * discovery), then pick a client id: the pre-registered one configured on the tool server, else the gateway's Client
 * ID Metadata Document when the server advertises `client_id_metadata_document_supported`, else dynamic registration
 * (RFC 7591). The result is stored per tool server (`upstream_oauth_clients`) and rediscovered when its URL changes.
 *
 * The SDK's client helpers (`@modelcontextprotocol/client`) do the discovery and registration; they fetch through
 * the tool server's upstream network fetch, so every URL discovery yields — metadata, registration, token
 * endpoints — is held to the tool server's address rules (public addresses only unless a platform admin approved
 * it). Written here by hand: the probe (the helpers start from a 401 they were given) and the scheme rule on
 * discovered endpoints (https, or http only for a tool server that is itself on local http).
 */
import { discoverOAuthServerInfo, extractWWWAuthenticateParams, registerClient, type AuthorizationServerMetadata, type OAuthClientInformationMixed } from '@modelcontextprotocol/client';
import type { PrismaClient } from '../../db/database.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { SecretBox } from '../../security/secret-box.js';
import { UpstreamOAuthSetupError } from './connect-required.js';
import { readOAuthOptions } from './oauth-auth-config.js';

export const CLIENT_METADATA_PATH = '/oauth/upstream/client-metadata.json';
export const CALLBACK_PATH = '/oauth/upstream/callback';

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** An `oauth` tool server as registration needs it. */
export interface OAuthToolServer {
  id: string;
  teamId: string;
  name: string;
  url: string;
  authOptions: unknown;
  secretEncrypted: string | null;
  allowPrivateAddresses: boolean;
}

/** The stored registration, opened. */
export interface UpstreamClientRecord {
  metadata: AuthorizationServerMetadata;
  issuer: string;
  client: OAuthClientInformationMixed;
  scope: string | undefined;
}

/** The gateway's Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document): its URL is its client id. */
export function clientMetadataDocument(publicUrl: string) {
  return {
    client_id: `${publicUrl}${CLIENT_METADATA_PATH}`,
    client_name: 'Switchboard',
    client_uri: publicUrl,
    redirect_uris: [`${publicUrl}${CALLBACK_PATH}`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

export interface RegistrationDeps {
  prisma: PrismaClient;
  box: SecretBox;
  publicUrl: string;
  fetchFor(target: { allowPrivateAddresses: boolean }): Fetch;
}

/** The tool server's registration: stored, or discovered and registered now (and stored). */
export async function upstreamClient(deps: RegistrationDeps, ts: OAuthToolServer): Promise<UpstreamClientRecord> {
  const stored = await deps.prisma.upstreamOAuthClient.findUnique({ where: { toolServerId: ts.id } });
  const options = readOAuthOptions(ts.authOptions);
  const wanted = options.clientId ? 'preregistered' : undefined;
  if (stored && stored.teamId === ts.teamId && stored.url === ts.url && (wanted === undefined ? stored.registration !== 'preregistered' : stored.clientId === options.clientId)) {
    return opened(deps.box, stored, options.scopes, ts);
  }
  const fetchFn = deps.fetchFor({ allowPrivateAddresses: ts.allowPrivateAddresses });
  const metadata = await discover(ts, fetchFn);
  let registration: string;
  let clientId: string;
  let clientSecretEncrypted: string | null = null;
  if (options.clientId) {
    registration = 'preregistered';
    clientId = options.clientId;
  } else if (metadata.client_id_metadata_document_supported === true) {
    registration = 'cimd';
    clientId = clientMetadataDocument(deps.publicUrl).client_id;
  } else if (metadata.registration_endpoint) {
    checkEndpoint(ts, metadata.registration_endpoint, 'registration_endpoint');
    const { client_id: _ignored, ...clientMetadata } = clientMetadataDocument(deps.publicUrl);
    let full;
    try {
      full = await registerClient(metadata.issuer, { metadata, clientMetadata: { ...clientMetadata, token_endpoint_auth_method: 'client_secret_basic' }, fetchFn });
    } catch (err) {
      throw new UpstreamOAuthSetupError(`the authorization server of tool server ${ts.name} refused to register the gateway`, { cause: err });
    }
    registration = 'dcr';
    clientId = full.client_id;
    if (full.client_secret) clientSecretEncrypted = deps.box.seal(full.client_secret);
  } else {
    throw new UpstreamOAuthSetupError(
      `the authorization server of tool server ${ts.name} supports neither client ID metadata documents nor dynamic registration: configure auth.clientId`,
    );
  }
  const data = { teamId: ts.teamId, url: ts.url, metadata: metadata as unknown as Prisma.InputJsonObject, registration, clientId, clientSecretEncrypted };
  const row = await deps.prisma.upstreamOAuthClient.upsert({ where: { toolServerId: ts.id }, create: { toolServerId: ts.id, ...data }, update: data });
  return opened(deps.box, row, options.scopes, ts);
}

function opened(box: SecretBox, row: { metadata: unknown; registration: string; clientId: string; clientSecretEncrypted: string | null }, scopes: string[] | undefined, ts: OAuthToolServer): UpstreamClientRecord {
  const metadata = row.metadata as AuthorizationServerMetadata;
  const secret = row.registration === 'preregistered' ? ts.secretEncrypted : row.clientSecretEncrypted;
  const client: OAuthClientInformationMixed = { client_id: row.clientId, ...(secret ? { client_secret: box.open(secret) } : {}) };
  return { metadata, issuer: metadata.issuer, client, scope: scopes?.length ? scopes.join(' ') : undefined };
}

/** Probe → protected-resource metadata → authorization-server metadata, every URL checked. */
async function discover(ts: OAuthToolServer, fetchFn: Fetch): Promise<AuthorizationServerMetadata> {
  let resourceMetadataUrl: URL | undefined;
  try {
    const probe = await fetchFn(ts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
      redirect: 'manual',
    });
    await probe.body?.cancel();
    if (probe.status === 401) resourceMetadataUrl = extractWWWAuthenticateParams(probe).resourceMetadataUrl;
  } catch (err) {
    throw new UpstreamOAuthSetupError(`tool server ${ts.name} could not be reached`, { cause: err });
  }
  if (resourceMetadataUrl) checkEndpoint(ts, resourceMetadataUrl.href, 'resource_metadata');
  let info;
  try {
    info = await discoverOAuthServerInfo(ts.url, { fetchFn, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}) });
  } catch (err) {
    throw new UpstreamOAuthSetupError(`the OAuth metadata of tool server ${ts.name} could not be read`, { cause: err });
  }
  const resource = info.resourceMetadata?.resource;
  if (resource !== undefined && !coversUrl(resource, ts.url)) {
    throw new UpstreamOAuthSetupError(`tool server ${ts.name} names another resource (${resource}) in its metadata`);
  }
  const metadata = info.authorizationServerMetadata;
  if (!metadata) throw new UpstreamOAuthSetupError(`the authorization server of tool server ${ts.name} publishes no metadata`);
  if (!metadata.code_challenge_methods_supported?.includes('S256')) {
    throw new UpstreamOAuthSetupError(`the authorization server of tool server ${ts.name} does not support PKCE with S256`);
  }
  checkEndpoint(ts, metadata.issuer, 'issuer');
  checkEndpoint(ts, metadata.authorization_endpoint, 'authorization_endpoint');
  checkEndpoint(ts, metadata.token_endpoint, 'token_endpoint');
  return metadata;
}

/** RFC 9728 §3.3: the metadata's resource must identify the tool server (the same URL, or a prefix of its path). */
function coversUrl(resource: string, url: string): boolean {
  const r = URL.parse(resource);
  const u = URL.parse(url);
  if (!r || !u || r.origin !== u.origin) return false;
  const base = r.pathname.endsWith('/') ? r.pathname : `${r.pathname}/`;
  return u.pathname === r.pathname || u.pathname.startsWith(base);
}

/** Discovered endpoints are https; http only for a tool server itself on local http (development and tests). */
function checkEndpoint(ts: OAuthToolServer, raw: string, what: string): void {
  const u = URL.parse(raw);
  const localHttp = new URL(ts.url).protocol === 'http:';
  if (!u || (u.protocol !== 'https:' && !(u.protocol === 'http:' && localHttp)) || u.username || u.password) {
    throw new UpstreamOAuthSetupError(`tool server ${ts.name}: its ${what} is not an https URL`);
  }
}
