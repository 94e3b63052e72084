/**
 * `POST /token` (RFC 6749 §3.2, OAuth 2.1): parse → authenticate the client → per-client limit → load the grant
 * (code or refresh token) → per-user limit → issue → render. Codes are PKCE- and redirect-bound and single use;
 * refresh tokens rotate on every use; access tokens are ES256 JWTs whose `aud` is the team resource (or the admin
 * API's, `PUBLIC_URL/admin`).
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { PrismaClient } from '../db/database.js';
import type { AuthorizationCode, RefreshToken } from '../generated/prisma/client.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import { issueAccessToken } from './access-token.js';
import type { KeyStore } from './signing-keys.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import { pkceMatches } from './authorization-codes.js';
import { authenticateClientStep } from './client-auth.js';
import { parseFormParams } from './form-params.js';
import type { ClientRecord } from './client-metadata.js';
import type { ClientRegistry } from './client-registry.js';
import { InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget, OAuthError, UnauthorizedClient, UnsupportedGrantType } from './oauth-errors.js';
import type { Limiters } from './rate-limits.js';
import type { RefreshTokens } from './refresh-tokens.js';
import { matchRedirectUri } from './redirect-uris.js';
import { resolveResource } from './resource-indicator.js';
import { scopeCovers } from './scopes.js';
import { DomainError } from '../errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to type `res.locals`
  namespace Express {
    interface Locals {
      /** The grant a `/token` request redeems (`loadGrant`). */
      grant?: Grant;
    }
  }
}

/** Access tokens live an hour at most (docs/interface.md §3); clients refresh well before. */
export const ACCESS_TOKEN_SECONDS = 3600;

const tokenParams = z.object({
  grant_type: z.string({ error: 'grant_type is required' }),
  code: z.string().optional(),
  redirect_uri: z.string().optional(),
  code_verifier: z.string().optional(),
  refresh_token: z.string().optional(),
  resource: z.string().optional(),
  scope: z.string().optional(),
});
type TokenParams = z.infer<typeof tokenParams>;

type Grant = { kind: 'code'; row: AuthorizationCode } | { kind: 'refresh'; row: RefreshToken; scope: string };

export interface TokenDeps {
  config: Config;
  prisma: PrismaClient;
  keys: KeyStore;
  teams: TeamDirectory;
  clients: ClientRegistry;
  codes: AuthorizationCodes;
  refreshTokens: RefreshTokens;
  limiters: Limiters;
}

/** The code's bindings: its client, its redirect URI, its resource, and the PKCE verifier. */
async function loadCode(p: TokenParams, client: ClientRecord, codes: AuthorizationCodes): Promise<Grant> {
  if (!p.code) throw new InvalidRequest('code is required');
  if (!p.code_verifier) throw new InvalidRequest('code_verifier is required (PKCE)');
  const row = await codes.lookup(p.code);
  if (row.clientId !== client.id) throw new InvalidGrant('The authorization code was issued to another client');
  const redirect = p.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (redirect === undefined || redirect !== row.redirectUri || !matchRedirectUri(redirect, client.redirectUris)) {
    throw new InvalidGrant('redirect_uri does not match the authorization request');
  }
  if (p.resource !== undefined && p.resource !== row.resource) throw new OAuthError('invalid_target', 'resource differs from the authorization request');
  if (!pkceMatches(p.code_verifier, row.codeChallenge)) throw new InvalidGrant('The code_verifier does not match the code_challenge (PKCE)');
  return { kind: 'code', row };
}

async function loadRefresh(p: TokenParams, client: ClientRecord, refreshTokens: RefreshTokens): Promise<Grant> {
  if (!client.grantTypes.includes('refresh_token')) throw new UnauthorizedClient('This client did not register the refresh_token grant');
  if (!p.refresh_token) throw new InvalidRequest('refresh_token is required');
  const row = await refreshTokens.lookup(p.refresh_token, client.id);
  if (p.resource !== undefined && p.resource !== row.resource) throw new OAuthError('invalid_target', 'resource differs from the one this refresh token was issued for');
  if (p.scope !== undefined && !scopeCovers(row.scope, p.scope)) throw new InvalidScope('The requested scope exceeds the original grant');
  return { kind: 'refresh', row, scope: p.scope ?? row.scope };
}

function loadGrant(deps: TokenDeps): RequestHandler {
  return async (_req, res, next) => {
    const p = res.locals.params as TokenParams;
    const client = res.locals.client!;
    let grant: Grant;
    if (p.grant_type === 'authorization_code') grant = await loadCode(p, client, deps.codes);
    else if (p.grant_type === 'refresh_token') grant = await loadRefresh(p, client, deps.refreshTokens);
    else throw new UnsupportedGrantType('grant_type must be authorization_code or refresh_token');
    res.locals.grant = grant;
    res.locals.userId = grant.row.userId;
    next();
  };
}

/**
 * The team behind the grant's resource, with the user still admitted to it (membership may have been removed). An
 * admin-API grant has no team to check: the admin API judges the user's rights on every call.
 */
async function checkAccess(grant: Grant, deps: TokenDeps): Promise<{ email: string | null }> {
  const target = await resolveResource(grant.row.resource, deps.config.publicUrl, deps.teams).catch((err: unknown) => {
    // Only "no such team" condemns the grant; a database hiccup must not revoke a refresh-token family.
    if (err instanceof InvalidTarget) throw new InvalidGrant('The team of this grant no longer exists');
    throw err;
  });
  const user = await deps.prisma.user.findUnique({ where: { id: grant.row.userId }, select: { email: true } });
  if (!user) throw new InvalidGrant('The user of this grant no longer exists');
  if (target.kind === 'admin') return user;
  try {
    await deps.teams.admit(target.team, grant.row.userId);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'forbidden') throw new InvalidGrant('The user is no longer a member of this team');
    throw err;
  }
  return user;
}

function issue(deps: TokenDeps): RequestHandler {
  return async (req, res) => {
    const client = res.locals.client!;
    const grant = res.locals.grant!;
    const user = await checkAccess(grant, deps).catch(async (err: unknown) => {
      if (grant.kind === 'refresh' && err instanceof InvalidGrant) await deps.refreshTokens.revokeFamily(grant.row.familyId);
      throw err;
    });
    const { row } = grant;
    const scope = grant.kind === 'refresh' ? grant.scope : row.scope;
    const refreshToken =
      grant.kind === 'refresh'
        ? await deps.refreshTokens.rotate(grant.row, scope)
        : await deps.codes.redeem(grant.row, (familyId, tx) =>
            client.grantTypes.includes('refresh_token')
              ? deps.refreshTokens.issue({ familyId, clientId: client.id, userId: row.userId, resource: row.resource, scope }, tx)
              : Promise.resolve(undefined),
          );
    const accessToken = await issueAccessToken(deps.keys, {
      issuer: deps.config.publicUrl,
      subject: row.userId,
      audience: row.resource,
      clientId: client.id,
      scope,
      email: user.email,
      ttlSeconds: ACCESS_TOKEN_SECONDS,
    });
    // One `info` line per grant (refusals are logged with the request): who, which client, for what; no token.
    req.log.info(
      { grant: grant.kind === 'refresh' ? 'refresh_token' : 'authorization_code', userId: row.userId, clientId: client.id, resource: row.resource, scope, withRefreshToken: refreshToken !== undefined },
      'token granted',
    );
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_SECONDS,
      scope,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    });
  };
}

export function tokenRouter(deps: TokenDeps, form: RequestHandler): Router {
  const router = Router();
  // The per-client ceiling counts only requests that carry a valid grant: a public client is identified by its id
  // alone, so counting before the grant is checked let anyone who knew the id spend that client's budget (gateway-wide,
  // across replicas) and lock all its users out. Requests with bad grants are bounded per address by `tokenPerIp`.
  router.post('/token', deps.limiters.tokenPerIp, form, parseFormParams(tokenParams), authenticateClientStep(deps.clients), loadGrant(deps), deps.limiters.tokenPerClient, deps.limiters.tokenPerUser, issue(deps));
  return router;
}
