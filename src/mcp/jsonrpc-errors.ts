/** JSON-RPC error bodies for the MCP endpoint (the transport's own errors use the same shape). */
import type { ErrorRequestHandler, Response } from 'express';
import { asDomainError, type DomainError, Internal, isDatabaseUnavailable, RETRY_AFTER_SECONDS, Unavailable } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { TokenVerificationUnavailableError } from '../auth/token-errors.js';
import { tracingOn, traceAnswer } from '../observability/tracing.js';

export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  INTERNAL_ERROR: -32603,
  /** Transport-level errors (no session id, session not found), as the SDK uses. */
  SERVER_ERROR: -32000,
  SESSION_NOT_FOUND: -32001,
} as const;

export function sendJsonRpcError(res: Response, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (tracingOn) traceAnswer(res, { error: { code } });
  res.status(status).set(headers).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** The JSON-RPC error code for a domain error's HTTP status (the SDK's transport uses -32000 for its own refusals). */
function jsonRpcCode(err: DomainError): number {
  if (err.code === 'session_not_found') return JSONRPC.SESSION_NOT_FOUND;
  if (err.status === 400) return JSONRPC.INVALID_REQUEST;
  if (err.status >= 500 && err.status !== 503) return JSONRPC.INTERNAL_ERROR;
  return JSONRPC.SERVER_ERROR;
}

/**
 * The MCP endpoint's edge of the domain errors (`errors.ts`): whatever refuses an MCP request — an unknown team, a
 * foreign Origin, a rate limit, a shutdown, the database being down — answers with the catalogue's HTTP status and a
 * JSON-RPC error body (`data.reason` is the catalogue code), as the transport's own errors do. What is not a domain
 * error is a fault: 500 with the request id, details in the log. A bearer-token refusal keeps its OAuth shape
 * (RFC 6750 `WWW-Authenticate`, from `auth/bearer-auth.ts`).
 */
export function jsonRpcErrorRenderer(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      logger.error({ err, reqId: req.id }, 'error after response started');
      res.end();
      return;
    }
    let known = asDomainError(err);
    if (!known) {
      (req.log ?? logger).error({ err }, 'unhandled error');
      known = new Internal(`Internal error (request id ${String(req.id ?? 'unknown')})`);
    } else if (known instanceof Unavailable) {
      if (isDatabaseUnavailable(err)) (req.log ?? logger).warn({ err }, 'database unavailable');
      else if (err instanceof TokenVerificationUnavailableError) (req.log ?? logger).warn({ err }, 'access token could not be verified');
    }
    const headers: Record<string, string> = known.status === 503 && !res.hasHeader('retry-after') ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
    if (tracingOn) traceAnswer(res, { error: { code: jsonRpcCode(known) } });
    res
      .status(known.status)
      .set(headers)
      .json({ jsonrpc: '2.0', error: { code: jsonRpcCode(known), message: known.message, data: { reason: known.code, ...(known.details !== undefined ? { details: known.details } : {}) } }, id: null });
  };
}
