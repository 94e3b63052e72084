/** JWT access tokens of the built-in issuer (ES256, `kid`, ≤ 1 h, `aud` = the resource). */
import type { KeyStore } from './signing-keys.js';

export const MAX_ACCESS_TOKEN_SECONDS = 3600;

export interface AccessTokenClaims {
  issuer: string;
  subject: string;
  audience: string;
  clientId: string;
  scope: string;
  email: string | null;
  ttlSeconds?: number;
}

export async function issueAccessToken(keys: KeyStore, c: AccessTokenClaims): Promise<string> {
  const ttl = Math.min(c.ttlSeconds ?? MAX_ACCESS_TOKEN_SECONDS, MAX_ACCESS_TOKEN_SECONDS);
  return keys.sign(
    {
      iss: c.issuer,
      sub: c.subject,
      aud: c.audience,
      client_id: c.clientId,
      scope: c.scope,
      ...(c.email ? { email: c.email } : {}),
      jti: crypto.randomUUID(),
    },
    { expiresInSeconds: ttl, typ: 'at+jwt' },
  );
}
