/**
 * DNS-rebinding protection (Host) and the browser Origin check of docs/interface.md §3: both 403 when not allowed.
 * A loopback PUBLIC_URL allows any loopback host and port, so local tools and tests on ephemeral ports work.
 */
import type { RequestHandler } from 'express';
import { isLoopbackUrl } from '../config/config.js';
import { Forbidden } from '../errors.js';

const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;
const PROBES = new Set(['/health', '/ready', '/metrics']);
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export function isAllowedOrigin(origin: string, publicUrl: string, corsOrigins: readonly string[]): boolean {
  return origin === new URL(publicUrl).origin || corsOrigins.includes(origin) || LOOPBACK_ORIGIN.test(origin);
}

export function hostAndOriginCheck(opts: { publicUrl: string; corsOrigins: readonly string[] }): RequestHandler {
  const publicHost = new URL(opts.publicUrl).host;
  const loopback = isLoopbackUrl(opts.publicUrl);
  return (req, _res, next) => {
    // Orchestrators probe with the pod address as Host; probes reveal nothing worth rebinding for.
    if (PROBES.has(req.path)) return next();
    const host = req.headers.host ?? '';
    if (host !== publicHost && !(loopback && LOOPBACK.test(host))) {
      return next(new Forbidden(`Host ${JSON.stringify(host)} is not served here; use ${opts.publicUrl}`));
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !isAllowedOrigin(origin, opts.publicUrl, opts.corsOrigins)) {
      return next(new Forbidden(`Origin ${JSON.stringify(origin)} is not allowed; add it to CORS_ORIGINS`));
    }
    next();
  };
}
