/**
 * A limiter: one ceiling (`RateRule`) over one counter bucket, and the Express middleware around it. Per request
 * it costs a key, a Map lookup and an increment — no hashing, no promise, no header unless the request is refused
 * (a refusal carries `Retry-After` and the IETF `RateLimit`/`RateLimit-Policy` headers). Counters are shared across
 * replicas by `rate-limit-sync.ts`.
 */
import { isIPv6 } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { LRUCache } from 'lru-cache';
import type { RateRule } from '../config/config.js';
import type { CounterBucket, RateLimitCounters } from './rate-limit-counters.js';

export interface Limiter {
  readonly name: string;
  readonly rule: RateRule;
  /** Counts one request for `key`; false when it is over the ceiling (the caller refuses it). */
  admit(key: string): boolean;
  /** Sets `Retry-After` (seconds to the window's end) and the `RateLimit`/`RateLimit-Policy` headers. */
  setRefusalHeaders(res: Response): void;
}

/** A limiter named `name` (its counters' bucket) enforcing `rule`; undefined when the rule is off (`limit` 0). */
export function createLimiter(counters: RateLimitCounters, name: string, rule: RateRule): Limiter | undefined {
  if (rule.limit === 0) return undefined;
  const bucket: CounterBucket = counters.bucket(name, rule.windowMs);
  const policy = `"${name}"; q=${rule.limit}; w=${Math.ceil(rule.windowMs / 1000)}`;
  return {
    name,
    rule,
    admit: (key) => bucket.hit(key) <= rule.limit,
    setRefusalHeaders(res) {
      const seconds = Math.max(1, Math.ceil(bucket.msToWindowEnd() / 1000));
      res.set({ 'Retry-After': String(seconds), RateLimit: `"${name}"; r=0; t=${seconds}`, 'RateLimit-Policy': policy });
    },
  };
}

export type RefuseHandler = (req: Request, res: Response, next: (err?: unknown) => void) => void;

/**
 * Middleware over `limiter`: counts each request under `key(req, res)` (undefined lets it through uncounted) and
 * answers an over-the-ceiling one with `refuse`. No limiter (rule off) → a pass-through.
 */
export function rateLimit(limiter: Limiter | undefined, key: (req: Request, res: Response) => string | undefined, refuse: RefuseHandler): RequestHandler {
  if (!limiter) return (_req, _res, next) => next();
  return (req, res, next) => {
    const k = key(req, res);
    if (k === undefined || limiter.admit(k)) return next();
    limiter.setRefusalHeaders(res);
    refuse(req, res, next);
  };
}

// IPv6 clients get a whole /56 each (as express-rate-limit does), or one host could rotate through its prefix.
// Normalising an IPv6 address allocates, so the result is remembered.
const ipv6Keys = new LRUCache<string, string>({ max: 10_000 });

/** The key of the request's source address (`req.ip`, which honours TRUST_PROXY). */
export function ipKey(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  if (!ip.includes(':') || !isIPv6(ip)) return ip;
  let k = ipv6Keys.get(ip);
  if (k === undefined) {
    k = ipKeyGenerator(ip);
    ipv6Keys.set(ip, k);
  }
  return k;
}
