/**
 * The console's two cookies. Both are HS256 JWTs under keys derived from the encryption key (like the login
 * transaction's), HttpOnly, SameSite=Lax, Secure and `__Host-` prefixed when PUBLIC_URL is https:
 *
 * - the sign-in cookie (10 minutes) carries the OAuth `state`, the PKCE verifier and the console page to return to
 *   from `/console/login` to `/console/callback`;
 * - the session cookie (8 hours) carries the signed-in user's id and the CSRF token every console form echoes
 *   (a synchroniser token: another site can make a browser post a form, but cannot read the token).
 *
 * Only the user id is taken from the session cookie; what the user may do is read from the database on every
 * request (`userPrincipal`), so removing someone from ADMIN_EMAILS or demoting a team admin takes effect at once.
 * Signed, not encrypted: nothing in either cookie is secret from the browser that holds it.
 */
import { hkdfSync } from 'node:crypto';
import type { Request, Response } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { randomToken, safeEqual } from '../security/secret-box.js';

export const SIGN_IN_SECONDS = 600;
export const CONSOLE_SESSION_SECONDS = 8 * 3600;

const signInSchema = z.object({ state: z.string().min(1), verifier: z.string().min(1), next: z.string() });
const sessionSchema = z.object({ userId: z.string().min(1), csrf: z.string().min(1) });

export type SignIn = z.infer<typeof signInSchema>;
export type ConsoleSession = z.infer<typeof sessionSchema>;

export interface ConsoleCookies {
  startSignIn(res: Response, signIn: SignIn): Promise<void>;
  readSignIn(req: Request): Promise<SignIn | undefined>;
  clearSignIn(res: Response): void;
  /** A new session for `userId` with a fresh CSRF token. */
  startSession(res: Response, userId: string): Promise<ConsoleSession>;
  /** The session in the request's cookie, or undefined when missing, expired or tampered with. */
  readSession(req: Request): Promise<ConsoleSession | undefined>;
  clearSession(res: Response): void;
  /** Whether a submitted form's CSRF token is this session's. */
  checkCsrf(session: ConsoleSession, submitted: unknown): boolean;
}

interface CookieKind<T> {
  name: string;
  typ: string;
  seconds: number;
  schema: z.ZodType<T>;
  key: Uint8Array;
}

export function createConsoleCookies(opts: { encryptionKey: Buffer; publicUrl: string; clock: () => number }): ConsoleCookies {
  const secure = new URL(opts.publicUrl).protocol === 'https:';
  const prefix = secure ? '__Host-' : '';
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', opts.encryptionKey, 'switchboard', info, 32));
  const signIn: CookieKind<SignIn> = { name: `${prefix}sb_console_signin`, typ: 'sb-console-signin+jwt', seconds: SIGN_IN_SECONDS, schema: signInSchema, key: derive('console-sign-in-cookie v1') };
  const session: CookieKind<ConsoleSession> = { name: `${prefix}sb_console`, typ: 'sb-console+jwt', seconds: CONSOLE_SESSION_SECONDS, schema: sessionSchema, key: derive('console-session-cookie v1') };
  const issuer = opts.publicUrl;
  const now = () => Math.floor(opts.clock() / 1000);
  const attributes = { httpOnly: true, sameSite: 'lax', secure, path: '/' } as const;

  async function write<T extends object>(res: Response, kind: CookieKind<T>, value: T): Promise<void> {
    const jwt = await new SignJWT({ v: value })
      .setProtectedHeader({ alg: 'HS256', typ: kind.typ })
      .setIssuer(issuer)
      .setIssuedAt(now())
      .setExpirationTime(now() + kind.seconds)
      .sign(kind.key);
    res.cookie(kind.name, jwt, { ...attributes, maxAge: kind.seconds * 1000 });
  }

  async function read<T>(req: Request, kind: CookieKind<T>): Promise<T | undefined> {
    const value = (req.cookies as Record<string, unknown> | undefined)?.[kind.name];
    if (typeof value !== 'string' || value.length > 4096) return undefined;
    try {
      const { payload } = await jwtVerify(value, kind.key, { issuer, algorithms: ['HS256'], typ: kind.typ, currentDate: new Date(opts.clock()) });
      const parsed = kind.schema.safeParse(payload.v);
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    startSignIn: (res, value) => write(res, signIn, value),
    readSignIn: (req) => read(req, signIn),
    clearSignIn: (res) => void res.clearCookie(signIn.name, attributes),
    async startSession(res, userId) {
      const value = { userId, csrf: randomToken(24) };
      await write(res, session, value);
      return value;
    },
    readSession: (req) => read(req, session),
    clearSession: (res) => void res.clearCookie(session.name, attributes),
    checkCsrf: (s, submitted) => typeof submitted === 'string' && submitted.length > 0 && safeEqual(submitted, s.csrf),
  };
}
