/**
 * Verifies a JWT access token with jose: signature against the issuer's keys, `iss`, `aud`, `exp`/`nbf` with a
 * small skew, and an algorithm allow-list (never `none`, never HMAC — a public key must not double as a secret).
 * Knows nothing of HTTP; the Express wiring is in `bearer-auth.ts`.
 */
import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { classifyJoseError, TokenRejectedError } from './token-errors.js';

export const CLOCK_SKEW_SECONDS = 30;

export interface VerifyAccessTokenOptions {
  issuer: string;
  audience: string;
  algorithms: string[];
  getKey: JWTVerifyGetKey;
  /** Required JWT `typ` header (RFC 9068 `at+jwt`), when the issuer is known to set it. */
  typ?: string;
}

/** Claims the gateway relies on, attached to `AuthInfo.extra`. */
export interface TokenIdentity {
  [key: string]: unknown;
  iss: string;
  sub: string;
  email: string | undefined;
  /**
   * The token's `email_verified` claim is `true` (the boolean): only then is an external issuer's `email` trusted —
   * stored, granting ADMIN_EMAILS rights, claiming team invitations.
   */
  emailVerified: boolean;
}

/** Throws `TokenRejectedError` (a bad token) or `TokenVerificationUnavailableError` (no keys to check it with). */
export async function verifyAccessToken(token: string, opts: VerifyAccessTokenOptions): Promise<AuthInfo> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, opts.getKey, {
      issuer: opts.issuer,
      audience: opts.audience,
      algorithms: opts.algorithms,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'sub'],
      ...(opts.typ ? { typ: opts.typ } : {}),
    }));
  } catch (err) {
    throw classifyJoseError(err);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw new TokenRejectedError('claims', 'The access token has no subject');
  }
  const clientId = [payload.client_id, payload.azp, payload.cid].find((v): v is string => typeof v === 'string') ?? 'unknown';
  const scope = typeof payload.scope === 'string' ? payload.scope : Array.isArray(payload.scp) ? payload.scp.join(' ') : '';
  const identity: TokenIdentity = {
    iss: payload.iss!,
    sub: payload.sub,
    email: typeof payload.email === 'string' ? payload.email.toLowerCase() : undefined,
    emailVerified: payload.email_verified === true,
  };
  return {
    token,
    clientId,
    scopes: scope.split(' ').filter(Boolean),
    expiresAt: payload.exp!,
    resource: new URL(opts.audience),
    extra: identity,
  };
}
