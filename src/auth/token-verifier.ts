/**
 * Picks the keys and rules for verifying access tokens: the built-in issuer's own keys (`AUTH_MODE=builtin`) or
 * an external issuer's JWKS, discovered from its metadata and cached by jose (refetched on an unknown `kid`).
 */
import { LRUCache } from 'lru-cache';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey, type JSONWebKeySet } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Config } from '../config/config.js';
import type { KeyStore } from '../authserver/signing-keys.js';
import { SIGNING_ALG } from '../authserver/signing-keys.js';
import { verifyAccessToken } from './verify-access-token.js';

/**
 * Verified tokens are remembered this long (at most; never past their `exp`), so a session's requests do not each
 * pay an ES256/RS256 verification. Keyed by the exact token string and the audience it was checked against; only
 * successes are kept. Access tokens are JWTs checked without the database, so revocation is unchanged; what this
 * delays is noticing a signing key that disappeared from the issuer's keys (already cached for minutes by jose for
 * external issuers, and loaded once per process for the built-in one).
 */
export const VERIFIED_TOKEN_TTL_MS = 30_000;
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

const EXTERNAL_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface TokenVerifier {
  /**
   * Verifies `token` for `audience` (a resource identifier); throws `TokenRejectedError` for a bad token and
   * `TokenVerificationUnavailableError` when the keys cannot be had (JWKS or database down). `exactAudience`: ignore
   * the AUTH_AUDIENCE override (the admin API must never accept the MCP endpoints' shared audience).
   */
  verify(token: string, audience: string, opts?: { exactAudience?: boolean }): Promise<AuthInfo>;
}

export function createTokenVerifier(deps: {
  config: Pick<Config, 'authMode' | 'authIssuer' | 'authJwksUrl' | 'authAudience'>;
  keys: KeyStore;
  fetch?: typeof fetch;
  jwksCooldownMs?: number;
}): TokenVerifier {
  const { config } = deps;
  const getKey =
    config.authMode === 'builtin' ? localKeys(deps.keys) : remoteKeys(config.authIssuer, config.authJwksUrl, deps.fetch ?? fetch, deps.jwksCooldownMs ?? 30_000);
  const algorithms = config.authMode === 'builtin' ? [SIGNING_ALG] : EXTERNAL_ALGORITHMS;
  const verified = new LRUCache<string, { info: AuthInfo; until: number }>({ max: VERIFIED_TOKEN_CACHE_SIZE });
  return {
    async verify(token, audience, opts) {
      const expected = config.authMode === 'external' && config.authAudience && !opts?.exactAudience ? config.authAudience : audience;
      const key = `${expected}\n${token}`;
      // jose checks `exp` against the wall clock, and so does this cache.
      const now = Date.now();
      const hit = verified.get(key);
      if (hit && now < hit.until) return { ...hit.info, scopes: [...hit.info.scopes] };
      if (hit) verified.delete(key);
      const info = await verifyAccessToken(token, {
        issuer: config.authIssuer,
        audience: expected,
        algorithms,
        getKey,
        // The built-in issuer marks access tokens `at+jwt` (RFC 9068); the tokens it mints for tool servers are
        // plain JWTs, so one can never be replayed here as an access token.
        ...(config.authMode === 'builtin' ? { typ: 'at+jwt' } : {}),
      });
      const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, (info.expiresAt ?? 0) * 1000);
      if (until > now) verified.set(key, { info, until });
      return { ...info, scopes: [...info.scopes] };
    },
  };
}

/** The built-in issuer's keys; an unknown `kid` reloads them once (another replica may have rotated). */
function localKeys(keys: KeyStore): JWTVerifyGetKey {
  let cached: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined;
  const current = async () => {
    const jwks = (await keys.jwks()) as JSONWebKeySet;
    if (cached?.jwks !== jwks) cached = { jwks, getKey: createLocalJWKSet(jwks) };
    return cached.getKey;
  };
  return async (header, token) => {
    try {
      return await (await current())(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      await keys.refresh();
      return (await current())(header, token);
    }
  };
}

/** The external issuer's JWKS: `AUTH_JWKS_URL`, or `jwks_uri` from its RFC 8414 / OpenID discovery document. */
function remoteKeys(issuer: string, jwksUrl: string | undefined, fetchFn: typeof fetch, cooldownMs: number): JWTVerifyGetKey {
  let remote: Promise<JWTVerifyGetKey> | undefined;
  const resolve = async () => {
    const url = jwksUrl ?? (await discoverJwksUri(issuer, fetchFn));
    // jose refetches on an unknown `kid` at most once per cooldown, so forged kids cannot hammer the issuer.
    return createRemoteJWKSet(new URL(url), { cooldownDuration: cooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
  };
  return async (header, token) => {
    remote ??= resolve().catch((err) => {
      remote = undefined; // retry discovery on the next token
      throw err;
    });
    return (await remote)(header, token);
  };
}

export async function discoverJwksUri(issuer: string, fetchFn: typeof fetch = fetch): Promise<string> {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const candidates = [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}/.well-known/openid-configuration${path}`,
    `${u.origin}${path}/.well-known/openid-configuration`,
  ];
  for (const url of candidates) {
    const res = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    if (!res?.ok) continue;
    const doc = (await res.json().catch(() => undefined)) as { issuer?: string; jwks_uri?: string } | undefined;
    if (doc?.jwks_uri && doc.issuer === issuer) return doc.jwks_uri;
  }
  throw new Error(`could not discover jwks_uri for issuer ${issuer}; set AUTH_JWKS_URL`);
}
