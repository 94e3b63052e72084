/**
 * The JSON API edge of the domain errors (`errors.ts`): their wire shape, `{"error": {"code", "message", "details"}}`
 * with the catalogue's status, and the one error renderer of the Express app. OAuth endpoints render their own
 * RFC-shaped errors (`authserver/oauth-errors.ts`) and the MCP endpoint JSON-RPC errors (`mcp/jsonrpc-errors.ts`);
 * anything else that escapes a handler ends here: known errors with their status, unknown ones as a bare 500 with a
 * request id.
 */
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { TokenVerificationUnavailableError } from '../auth/token-errors.js';
import { asDomainError, type DomainError, Internal, isDatabaseUnavailable, RETRY_AFTER_SECONDS, Unavailable } from '../errors.js';

/** A domain error as the JSON APIs say it. */
export function apiErrorBody(err: DomainError): { error: { code: string; message: string; details?: unknown } } {
  return { error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } };
}

export function errorRenderer(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      logger.error({ err, reqId: req.id }, 'error after response started');
      res.end();
      return;
    }
    const known = asDomainError(err);
    if (!known) {
      (req.log ?? logger).error({ err }, 'unhandled error');
      res.status(500).json(apiErrorBody(new Internal(`Internal error (request id ${String(req.id ?? 'unknown')})`)));
      return;
    }
    // A dependency that is down (the database; the keys to check an admin token with) is an outage to retry.
    if (known instanceof Unavailable) {
      if (isDatabaseUnavailable(err)) (req.log ?? logger).warn({ err }, 'database unavailable');
      else if (err instanceof TokenVerificationUnavailableError) (req.log ?? logger).warn({ err }, 'access token could not be verified');
      if (!res.hasHeader('retry-after')) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    }
    res.status(known.status).json(apiErrorBody(known));
  };
}
