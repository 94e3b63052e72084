/**
 * Rate limits of the authorization server, all in one table. ChatGPT and Claude reach us from a few shared egress
 * addresses, so per-IP ceilings are generous and the tighter limits are per client (a `client_id`, or for
 * registration the client software: its name and redirect URIs) and per user. Counters live in each process's
 * memory: with N replicas the effective ceilings are up to N times these. Documented in docs/authorization-server.md.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { TooManyRequests } from './oauth-errors.js';
import { sendErrorPage } from './pages.js';

export interface Limit {
  windowMs: number;
  limit: number;
}

export interface RateLimits {
  /** POST /register per source address. */
  registrationPerIp: Limit;
  /** POST /register per client software (client_name + redirect_uris). */
  registrationPerSoftware: Limit;
  /** POST /token and /revoke per source address. */
  tokenPerIp: Limit;
  /** POST /token and /revoke per authenticated client_id (one DCR or CIMD client may serve thousands of users). */
  tokenPerClient: Limit;
  /** POST /token per user behind the code or refresh token. */
  tokenPerUser: Limit;
  /** GET /authorize, the login and consent pages per source address. */
  interactivePerIp: Limit;
}

export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  registrationPerIp: { windowMs: 15 * 60_000, limit: 1000 },
  registrationPerSoftware: { windowMs: 15 * 60_000, limit: 300 },
  tokenPerIp: { windowMs: 60_000, limit: 3000 },
  tokenPerClient: { windowMs: 60_000, limit: 1200 },
  tokenPerUser: { windowMs: 60_000, limit: 60 },
  interactivePerIp: { windowMs: 60_000, limit: 600 },
});

type KeyFn = (req: Request, res: Response) => string | undefined;

function limiter(name: string, l: Limit, key: KeyFn | undefined, reject: (req: Request, res: Response, next: (err?: unknown) => void) => void): RequestHandler {
  return rateLimit({
    windowMs: l.windowMs,
    limit: l.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: name,
    ...(key ? { keyGenerator: (req: Request, res: Response) => `${name}:${key(req, res) ?? 'unknown'}`, skip: (req: Request, res: Response) => key(req, res) === undefined } : {}),
    handler: (req, res, next) => reject(req, res, next),
  });
}

const json = (what: string) => (_req: Request, _res: Response, next: (err?: unknown) => void) =>
  next(new TooManyRequests(`Too many ${what}; retry after the Retry-After seconds`));

/** Client software identity for registration limits: the same app registering from many addresses. */
function softwareKey(req: Request): string | undefined {
  const body = req.body as { client_name?: unknown; redirect_uris?: unknown } | undefined;
  if (!body || typeof body !== 'object') return undefined;
  const uris = Array.isArray(body.redirect_uris) ? body.redirect_uris.map(String).sort() : [];
  return createHash('sha256').update(JSON.stringify([String(body.client_name ?? ''), uris])).digest('base64url');
}

export interface Limiters {
  registrationPerIp: RequestHandler;
  registrationPerSoftware: RequestHandler;
  tokenPerIp: RequestHandler;
  tokenPerClient: RequestHandler;
  tokenPerUser: RequestHandler;
  interactivePerIp: RequestHandler;
}

/** Builds the limiters; `res.locals.client` / `res.locals.userId` must be set by the steps before the keyed ones. */
export function createLimiters(overrides: Partial<RateLimits> = {}): Limiters {
  const l = { ...DEFAULT_RATE_LIMITS, ...overrides };
  return {
    registrationPerIp: limiter('reg-ip', l.registrationPerIp, undefined, json('client registrations from this address')),
    registrationPerSoftware: limiter('reg-sw', l.registrationPerSoftware, softwareKey, json('registrations of this client software')),
    tokenPerIp: limiter('tok-ip', l.tokenPerIp, undefined, json('token requests from this address')),
    tokenPerClient: limiter('tok-client', l.tokenPerClient, (_req, res) => (res.locals.client as { id: string } | undefined)?.id, json('token requests for this client')),
    tokenPerUser: limiter('tok-user', l.tokenPerUser, (_req, res) => res.locals.userId as string | undefined, json('token requests for this user')),
    interactivePerIp: limiter('page-ip', l.interactivePerIp, undefined, (_req, res) =>
      sendErrorPage(res, 429, 'Too many requests', 'Too many sign-in attempts from your network. Wait a minute and try again.'),
    ),
  };
}
