/**
 * A user's tokens at an `oauth` tool server (`upstream_connections`): sealed with ENCRYPTION_KEY, bound to (user,
 * team, tool server) and to the URL they were issued for (`resource`), opened only to be sent to that URL.
 *
 * Refreshing happens under the row's lock (`SELECT … FOR UPDATE` in a transaction): of two replicas that find the
 * token expiring, the second waits, sees the row changed and uses the first one's result, so a rotated refresh
 * token is used once. A refresh the authorization server refuses (`invalid_grant`: revoked, expired, reused) deletes
 * the connection: the caller asks the user to connect again; nothing retries it.
 *
 * A connection the user or an admin removes is also revoked at the authorization server (RFC 7009), when it has a
 * revocation endpoint: the refresh token (which ends the grant and its access tokens there), else the access token.
 * Best effort — the row is gone whatever the upstream answers, and what it answered is logged, never the token.
 */
import { OAuthError, refreshAuthorization, selectClientAuthMethod } from '@modelcontextprotocol/client';
import * as oidc from 'openid-client';
import type { PrismaClient } from '../../db/database.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { Logger } from '../../observability/logger.js';
import type { UpstreamClientRecord } from './upstream-registration.js';

/**
 * Tokens are refreshed this long before they expire, so none expires in flight — or, for a token issued for less
 * than twice that, once half its lifetime is gone (else a short-lived token would be refreshed on every request).
 */
export const REFRESH_MARGIN_MS = 60_000;

export interface ConnectionKey {
  teamId: string;
  userId: string;
  toolServerId: string;
  /** The tool server's URL: tokens issued for another URL are never sent. */
  url: string;
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string | undefined;
  expires_in?: number | undefined;
  scope?: string | undefined;
}

/** A connection just deleted, as its row held it: what revoking it at the upstream needs. */
export interface RemovedConnection {
  teamId: string;
  userId: string;
  toolServerId: string;
  accessTokenEncrypted: string;
  refreshTokenEncrypted: string | null;
}

/** How long revoking a removed connection may take before the gateway gives up on it. */
export const REVOKE_TIMEOUT_MS = 5_000;

export interface UpstreamTokens {
  /**
   * A usable access token: the stored one, or a refreshed one when it is expiring or `force` (the upstream answered
   * 401 to `rejected`). Undefined: no connection (any more).
   */
  accessToken(key: ConnectionKey, opts?: { rejected?: string }): Promise<{ token: string; expiresAt: number | undefined } | undefined>;
  /** Stores the tokens of a completed authorization (replacing any earlier connection). */
  save(key: ConnectionKey, tokens: TokenSet): Promise<void>;
  /**
   * Revokes a removed connection's tokens at the tool server's authorization server. `revoked`: it accepted;
   * `unsupported`: it has no revocation endpoint; `failed`: it refused or could not be reached (logged).
   */
  revoke(removed: RemovedConnection): Promise<RevokeOutcome>;
  /** `revoke` for many connections of one tool server, with its registration read now (before it changes or goes). */
  revoker(toolServerId: string, teamId: string): Promise<(removed: RemovedConnection) => Promise<RevokeOutcome>>;
}

export type RevokeOutcome = 'revoked' | 'unsupported' | 'failed';

interface Row {
  id: string;
  access_token_encrypted: string;
  refresh_token_encrypted: string | null;
  expires_at: Date | null;
  /** When the current tokens were stored (issued, as far as the gateway knows). */
  updated_at: Date;
}

export function createUpstreamTokens(deps: {
  prisma: PrismaClient;
  box: SecretBox;
  logger: Logger;
  clock: () => number;
  /** The tool server's registration, for the refresh request. */
  client(toolServerId: string, teamId: string): Promise<UpstreamClientRecord & { fetchFn: (url: string | URL, init?: RequestInit) => Promise<Response> }>;
}): UpstreamTokens {
  const { prisma, box, clock } = deps;
  const where = (k: ConnectionKey) => ({ userId_teamId_toolServerId: { userId: k.userId, teamId: k.teamId, toolServerId: k.toolServerId } });
  const expiresAtOf = (t: TokenSet) => (typeof t.expires_in === 'number' && t.expires_in > 0 ? new Date(clock() + t.expires_in * 1000) : null);
  const fresh = (r: { expires_at: Date | null; updated_at: Date }) => {
    if (r.expires_at === null) return true;
    const expires = r.expires_at.getTime();
    const margin = Math.max(0, Math.min(REFRESH_MARGIN_MS, (expires - r.updated_at.getTime()) / 2));
    return expires - margin > clock();
  };

  return {
    async accessToken(key, opts = {}) {
      const row = await prisma.upstreamConnection.findUnique({ where: where(key) });
      if (!row) return undefined;
      if (row.resource !== key.url) {
        // The tool server moved: tokens for the old URL must not reach the new one.
        await prisma.upstreamConnection.deleteMany({ where: { id: row.id, teamId: key.teamId, userId: key.userId } });
        return undefined;
      }
      const current = { id: row.id, access_token_encrypted: row.accessTokenEncrypted, refresh_token_encrypted: row.refreshTokenEncrypted, expires_at: row.expiresAt, updated_at: row.updatedAt };
      const token = box.open(current.access_token_encrypted);
      if (token !== opts.rejected && fresh(current)) return { token, expiresAt: current.expires_at?.getTime() };
      return refresh(key, current, opts.rejected);
    },

    async save(key, tokens) {
      const data = {
        resource: key.url,
        accessTokenEncrypted: box.seal(tokens.access_token),
        refreshTokenEncrypted: tokens.refresh_token ? box.seal(tokens.refresh_token) : null,
        expiresAt: expiresAtOf(tokens),
        scope: tokens.scope ?? null,
      };
      await prisma.upstreamConnection.upsert({ where: where(key), create: { teamId: key.teamId, userId: key.userId, toolServerId: key.toolServerId, ...data }, update: data });
    },

    async revoke(removed) {
      return (await revoker(removed.toolServerId, removed.teamId))(removed);
    },

    revoker,
  };

  /**
   * Revokes connections of one tool server with its registration as it is now (looked up once): usable after the
   * tool server has changed or gone. A registration that cannot be read makes every revocation `failed` (logged).
   */
  async function revoker(toolServerId: string, teamId: string): Promise<(removed: RemovedConnection) => Promise<RevokeOutcome>> {
    let reg: Awaited<ReturnType<typeof deps.client>>;
    try {
      reg = await deps.client(toolServerId, teamId);
    } catch (err) {
      return async (removed) => failed(removed, err);
    }
    // Both kinds of discovered metadata (RFC 8414, OpenID) may carry it; the SDK types only the first with it.
    const metadata = reg.metadata as { issuer: string; revocation_endpoint?: string; revocation_endpoint_auth_methods_supported?: string[]; token_endpoint_auth_methods_supported?: string[] };
    const endpoint = metadata.revocation_endpoint;
    if (!endpoint) return async () => 'unsupported';
    // openid-client does the request (client authentication, form, error parsing); the fetch is the SSRF-checked one.
    const secret = reg.client.client_secret;
    const method = secret ? selectClientAuthMethod(reg.client, metadata.revocation_endpoint_auth_methods_supported ?? metadata.token_endpoint_auth_methods_supported ?? []) : 'none';
    const auth = secret && method === 'client_secret_basic' ? oidc.ClientSecretBasic(secret) : secret && method === 'client_secret_post' ? oidc.ClientSecretPost(secret) : oidc.None();
    const config = new oidc.Configuration(metadata as oidc.ServerMetadata, reg.client.client_id, undefined, auth);
    const fetchFn = reg.fetchFn;
    config[oidc.customFetch] = (url, init) => fetchFn(url, { ...(init as RequestInit), signal: AbortSignal.timeout(REVOKE_TIMEOUT_MS) });
    // Plain http only where the tool server itself is (an operator-approved server on a private network).
    if (new URL(endpoint).protocol === 'http:') oidc.allowInsecureRequests(config);
    return async (removed) => {
      try {
        const refresh = removed.refreshTokenEncrypted;
        await oidc.tokenRevocation(config, box.open(refresh ?? removed.accessTokenEncrypted), { token_type_hint: refresh ? 'refresh_token' : 'access_token' });
        deps.logger.info({ toolServerId: removed.toolServerId, userId: removed.userId }, 'removed connection revoked at the upstream');
        return 'revoked';
      } catch (err) {
        return failed(removed, err);
      }
    };
  }

  function failed(removed: RemovedConnection, err: unknown): RevokeOutcome {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
    deps.logger.warn({ toolServerId: removed.toolServerId, userId: removed.userId, reason }, 'removed connection could not be revoked at the upstream');
    return 'failed';
  }

  async function refresh(key: ConnectionKey, seen: Row, rejected: string | undefined) {
    const reg = await deps.client(key.toolServerId, key.teamId);
    return prisma.$transaction(
      async (tx) => {
        const [row] = await tx.$queryRaw<Row[]>`
          SELECT id, access_token_encrypted, refresh_token_encrypted, expires_at, updated_at FROM upstream_connections
          WHERE id = ${seen.id}::uuid AND team_id = ${key.teamId}::uuid AND user_id = ${key.userId}::uuid FOR UPDATE`;
        if (!row) return undefined;
        // Someone refreshed while this waited for the lock: theirs is the current token.
        const token = box.open(row.access_token_encrypted);
        if (row.access_token_encrypted !== seen.access_token_encrypted && token !== rejected && fresh(row)) return { token, expiresAt: row.expires_at?.getTime() };
        if (!row.refresh_token_encrypted) {
          await tx.upstreamConnection.delete({ where: { id: row.id } });
          return undefined;
        }
        let tokens: TokenSet;
        try {
          tokens = await refreshAuthorization(reg.issuer, {
            metadata: reg.metadata,
            clientInformation: reg.client,
            refreshToken: box.open(row.refresh_token_encrypted),
            resource: new URL(key.url),
            fetchFn: reg.fetchFn,
          });
        } catch (err) {
          if (!(err instanceof OAuthError) || (err.code !== 'invalid_grant' && err.code !== 'unauthorized_client')) throw err;
          deps.logger.info({ toolServerId: key.toolServerId, userId: key.userId, code: err.code }, 'upstream refused to refresh a connection; it was removed');
          await tx.upstreamConnection.delete({ where: { id: row.id } });
          return undefined;
        }
        const expiresAt = expiresAtOf(tokens);
        await tx.upstreamConnection.update({
          where: { id: row.id },
          data: {
            accessTokenEncrypted: box.seal(tokens.access_token),
            // Rotation honoured: a new refresh token replaces the old one, which is never used again.
            refreshTokenEncrypted: tokens.refresh_token ? box.seal(tokens.refresh_token) : row.refresh_token_encrypted,
            expiresAt,
            ...(tokens.scope ? { scope: tokens.scope } : {}),
          },
        });
        return { token: tokens.access_token, expiresAt: expiresAt?.getTime() };
      },
      { timeout: 30_000, maxWait: 30_000 },
    );
  }
}
