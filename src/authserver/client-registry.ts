/**
 * The clients the authorization server knows, persisted in `oauth_clients`: dynamically registered ones
 * (RFC 7591; secrets hashed, never expiring) and Client ID Metadata Documents (cached rows keyed by their URL,
 * refreshed when their cache lifetime is over — on every replica, since the cache is the table).
 */
import type { PrismaClient } from '../db/database.js';
import type { OAuthClient, Prisma } from '../generated/prisma/client.js';
import { hashSecret, randomToken } from '../security/secret-box.js';
import { validateClientMetadata, type AuthMethod, type ClientRecord } from './client-metadata.js';
import { fetchClientMetadataDocument, isClientIdUrl } from './client-metadata-document.js';
import { OAuthError } from './oauth-errors.js';

const CACHE_UNTIL = 'x_switchboard_cache_until';

export interface Registration {
  record: ClientRecord;
  /** The plain secret for confidential clients: returned once, stored only as a hash. */
  secret: string | undefined;
  issuedAt: Date;
}

export interface ClientRegistry {
  /** Registers a client from RFC 7591 metadata; throws `InvalidClientMetadata` / `InvalidRedirectUri`. */
  register(metadata: unknown): Promise<Registration>;
  /**
   * The client named `clientId`, or undefined. Metadata-document clients are fetched when unknown and, with
   * `refresh`, refetched when their cache lifetime is over (throws `InvalidClientMetadata` when that fails).
   */
  find(clientId: string, opts?: { refresh?: boolean }): Promise<ClientRecord | undefined>;
}

/**
 * The client, or undefined when it is unknown or its metadata document cannot be used (`find` throws an
 * `OAuthError` for that). Anything else — an unreachable database above all — propagates: an outage must never
 * read as "no such client", which makes MCP clients discard their registration.
 */
export async function findUsableClient(clients: ClientRegistry, clientId: string): Promise<ClientRecord | undefined> {
  try {
    return await clients.find(clientId);
  } catch (err) {
    if (err instanceof OAuthError) return undefined;
    throw err;
  }
}

function toRecord(row: OAuthClient): ClientRecord {
  const metadata = { ...(row.metadata as Record<string, unknown>) };
  delete metadata[CACHE_UNTIL];
  return {
    id: row.id,
    name: row.name ?? undefined,
    redirectUris: row.redirectUris,
    authMethod: row.tokenEndpointAuthMethod as AuthMethod,
    secretHash: row.secretHash,
    grantTypes: row.grantTypes,
    scope: row.scope ?? undefined,
    isMetadataDocument: row.isMetadataDocument,
    metadata,
  };
}

export function createClientRegistry(deps: { prisma: PrismaClient; clock: () => number; allowPrivateCimdHosts: boolean }): ClientRegistry {
  const { prisma, clock } = deps;
  const inFlight = new Map<string, Promise<ClientRecord>>();

  async function fetchDocument(url: string): Promise<ClientRecord> {
    const { validated: v, cacheMs } = await fetchClientMetadataDocument(url, { allowPrivateHosts: deps.allowPrivateCimdHosts });
    const data = {
      name: v.name ?? null,
      redirectUris: v.redirectUris,
      tokenEndpointAuthMethod: v.authMethod,
      grantTypes: v.grantTypes,
      scope: v.scope ?? null,
      metadata: { ...v.metadata, client_id: url, [CACHE_UNTIL]: clock() + cacheMs } as Prisma.InputJsonObject,
      isMetadataDocument: true,
      fetchedAt: new Date(clock()),
      secretHash: null,
    };
    const row = await prisma.oAuthClient.upsert({ where: { id: url }, create: { id: url, ...data }, update: data });
    return toRecord(row);
  }

  /** One fetch per URL at a time in this process; concurrent authorizations share it. */
  function refetch(url: string): Promise<ClientRecord> {
    let pending = inFlight.get(url);
    if (!pending) {
      pending = fetchDocument(url).finally(() => inFlight.delete(url));
      inFlight.set(url, pending);
    }
    return pending;
  }

  return {
    async register(raw) {
      const v = validateClientMetadata(raw, 'dcr');
      const id = `sb-${randomToken(16)}`;
      const secret = v.authMethod === 'none' ? undefined : randomToken(32);
      const row = await prisma.oAuthClient.create({
        data: {
          id,
          secretHash: secret ? hashSecret(secret) : null,
          name: v.name ?? null,
          redirectUris: v.redirectUris,
          tokenEndpointAuthMethod: v.authMethod,
          grantTypes: v.grantTypes,
          scope: v.scope ?? null,
          metadata: v.metadata as Prisma.InputJsonObject,
          isMetadataDocument: false,
        },
      });
      return { record: toRecord(row), secret, issuedAt: row.createdAt };
    },

    async find(clientId, opts = {}) {
      // PostgreSQL cannot store or compare a NUL character; no client id holds one.
      if (clientId.length === 0 || clientId.length > 2000 || clientId.includes('\0')) return undefined;
      const row = await prisma.oAuthClient.findUnique({ where: { id: clientId } });
      if (!isClientIdUrl(clientId, deps.allowPrivateCimdHosts)) return row && !row.isMetadataDocument ? toRecord(row) : undefined;
      if (row?.isMetadataDocument) {
        const until = Number((row.metadata as Record<string, unknown>)[CACHE_UNTIL]);
        if (!opts.refresh || until > clock()) return toRecord(row);
      }
      return refetch(clientId);
    },
  };
}
