/**
 * Rate limits of the authorization server, all in one table. ChatGPT and Claude reach us from a few shared egress
 * addresses, so per-IP ceilings are generous and the tighter limits are per client (a `client_id`, or for
 * registration the client software: its name and redirect URIs) and per user. Every ceiling comes from the
 * environment (`TOKEN_*`, `REGISTRATION_*`, `LOGIN_IP_RATE_LIMIT`; 0 = off), and the counters are shared by all
 * replicas (`http/rate-limit-sync.ts`), so the ceilings hold for the whole gateway, not per process.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Config, RateRule } from '../config/config.js';
import type { RateLimitCounters } from '../http/rate-limit-counters.js';
import { createLimiter, ipKey, rateLimit, type RefuseHandler } from '../http/rate-limit.js';
import { TooManyRequests } from './oauth-errors.js';
import { sendErrorPage } from './pages.js';

export type Limit = RateRule;

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

/** The authorization server's ceilings as configured. */
export function rateLimitsFromConfig(config: Config): RateLimits {
  const r = config.rateLimits;
  return {
    registrationPerIp: r.registrationIp,
    registrationPerSoftware: r.registrationSoftware,
    tokenPerIp: r.tokenIp,
    tokenPerClient: r.tokenClient,
    tokenPerUser: r.tokenUser,
    interactivePerIp: r.loginIp,
  };
}

type KeyFn = (req: Request, res: Response) => string | undefined;

function limiter(counters: RateLimitCounters, name: string, l: Limit, key: KeyFn, reject: RefuseHandler): RequestHandler {
  return rateLimit(createLimiter(counters, name, l), key, reject);
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
export function createLimiters(counters: RateLimitCounters, l: RateLimits): Limiters {
  return {
    registrationPerIp: limiter(counters, 'reg-ip', l.registrationPerIp, ipKey, json('client registrations from this address')),
    registrationPerSoftware: limiter(counters, 'reg-sw', l.registrationPerSoftware, softwareKey, json('registrations of this client software')),
    tokenPerIp: limiter(counters, 'tok-ip', l.tokenPerIp, ipKey, json('token requests from this address')),
    tokenPerClient: limiter(counters, 'tok-client', l.tokenPerClient, (_req, res) => res.locals.client?.id, json('token requests for this client')),
    tokenPerUser: limiter(counters, 'tok-user', l.tokenPerUser, (_req, res) => res.locals.userId, json('token requests for this user')),
    interactivePerIp: limiter(counters, 'page-ip', l.interactivePerIp, ipKey, (_req, res) =>
      sendErrorPage(res, 429, 'Too many requests', 'Too many sign-in attempts from your network. Wait a minute and try again.'),
    ),
  };
}
