/**
 * The login transaction: everything between `/authorize` and the redirect back to the client lives in one short-
 * lived, signed, HttpOnly, SameSite=Lax cookie (a HS256 JWT under a key derived from the encryption key) — the
 * validated authorization request, the CSRF token its forms must echo, the user once logged in, and the upstream
 * OIDC state. Nothing about the user travels in URLs, and no server-side session table is needed.
 */
import { hkdfSync } from 'node:crypto';
import type { Request, Response } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { randomToken, safeEqual } from '../security/secret-box.js';

export const LOGIN_TRANSACTION_SECONDS = 600;
/** Browsers drop cookies over 4096 bytes; stay clearly below. */
const MAX_COOKIE_BYTES = 3800;

const authorizationRequestSchema = z.object({
  clientId: z.string(),
  redirectUri: z.string(),
  state: z.string().optional(),
  codeChallenge: z.string(),
  /** A resource `resolveResource` accepted: a team endpoint or the admin API. */
  resource: z.string(),
  scope: z.string(),
  forceConsent: z.boolean(),
});

const transactionSchema = z.object({
  csrf: z.string(),
  request: authorizationRequestSchema,
  userId: z.string().optional(),
  upstream: z.record(z.string(), z.string()).optional(),
});

export type AuthorizationRequest = z.infer<typeof authorizationRequestSchema>;
export type LoginTransaction = z.infer<typeof transactionSchema>;

export interface TransactionCookie {
  /** A new transaction for a validated request (fresh CSRF token). */
  start(res: Response, request: AuthorizationRequest): Promise<LoginTransaction>;
  save(res: Response, tx: LoginTransaction): Promise<void>;
  /** The transaction in the request's cookie, or undefined when missing, expired or tampered with. */
  read(req: Request): Promise<LoginTransaction | undefined>;
  clear(res: Response): void;
  /** Whether a submitted form's CSRF token belongs to this transaction. */
  checkCsrf(tx: LoginTransaction, submitted: unknown): boolean;
  /** Whether a transaction would fit in a cookie. */
  fits(request: AuthorizationRequest): boolean;
}

export function createTransactionCookie(opts: { encryptionKey: Buffer; publicUrl: string; clock: () => number }): TransactionCookie {
  const key = new Uint8Array(hkdfSync('sha256', opts.encryptionKey, 'switchboard', 'login-transaction-cookie v1', 32));
  const secure = new URL(opts.publicUrl).protocol === 'https:';
  // __Host- binds the cookie to this exact origin (no Domain, Path=/, Secure), so a sibling subdomain cannot plant it.
  const name = secure ? '__Host-sb_login' : 'sb_login';
  const issuer = opts.publicUrl;
  const now = () => Math.floor(opts.clock() / 1000);

  const sign = (tx: LoginTransaction) =>
    new SignJWT({ tx })
      .setProtectedHeader({ alg: 'HS256', typ: 'sb-login+jwt' })
      .setIssuer(issuer)
      .setIssuedAt(now())
      .setExpirationTime(now() + LOGIN_TRANSACTION_SECONDS)
      .sign(key);

  const write = async (res: Response, tx: LoginTransaction) => {
    res.cookie(name, await sign(tx), { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: LOGIN_TRANSACTION_SECONDS * 1000 });
  };

  return {
    async start(res, request) {
      const tx: LoginTransaction = { csrf: randomToken(24), request };
      await write(res, tx);
      return tx;
    },
    save: write,
    async read(req) {
      const value = (req.cookies as Record<string, unknown> | undefined)?.[name];
      if (typeof value !== 'string' || value.length > MAX_COOKIE_BYTES * 2) return undefined;
      try {
        const { payload } = await jwtVerify(value, key, { issuer, algorithms: ['HS256'], typ: 'sb-login+jwt', currentDate: new Date(opts.clock()) });
        const parsed = transactionSchema.safeParse(payload.tx);
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined;
      }
    },
    clear(res) {
      res.clearCookie(name, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
    },
    checkCsrf(tx, submitted) {
      return typeof submitted === 'string' && submitted.length > 0 && safeEqual(submitted, tx.csrf);
    },
    fits(request) {
      // JSON → base64url grows by 4/3; the header, claims, signature and the user id/upstream state add < 700 bytes.
      return (Buffer.byteLength(JSON.stringify(request)) * 4) / 3 + 700 < MAX_COOKIE_BYTES;
    },
  };
}
