/**
 * The JSON API's error catalogue and the one error renderer. OAuth endpoints render their own RFC-shaped errors
 * (`authserver/oauth-errors.ts`) and MCP endpoints JSON-RPC errors (`mcp/jsonrpc-errors.ts`); anything else that
 * escapes a handler ends here: known errors with their status, unknown ones as a bare 500 with a request id.
 */
import { TokenVerificationUnavailableError } from '../auth/token-errors.js';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';

/**
 * Seconds a client is told to wait (`Retry-After`) when a dependency such as the database is down: long enough for
 * a blip to pass, short enough that a person retrying by hand does not notice. Every edge (JSON API, OAuth, bearer
 * challenge, pages) says the same.
 */
export const RETRY_AFTER_SECONDS = 5;

export const API_ERROR_CODES = {
  bad_request: { status: 400, description: 'The request is malformed (invalid JSON, wrong content type).' },
  invalid_body: { status: 400, description: 'The JSON body failed validation; `details` lists each field.' },
  invalid_query: { status: 400, description: 'A query parameter failed validation; `details` lists each.' },
  unauthorized: { status: 401, description: 'No valid credentials were presented.' },
  forbidden: { status: 403, description: 'The credentials are valid but may not do this.' },
  not_found: { status: 404, description: 'No such resource (or it belongs to someone else).' },
  invalid_path: { status: 400, description: 'A path parameter is malformed (e.g. not a UUID, not a valid slug or name).' },
  team_not_found: { status: 404, description: 'No team has this slug.' },
  user_not_found: { status: 404, description: 'No user has this id (for a team admin: among the members of the teams they administer).' },
  member_not_found: { status: 404, description: 'The user is not a member of this team.' },
  invitation_not_found: { status: 404, description: 'The team has no pending invitation for this e-mail address.' },
  tool_server_not_found: { status: 404, description: 'The team has no tool server with this name.' },
  session_not_found: { status: 404, description: 'No session has this id (or it is outside the teams you administer).' },
  method_not_allowed: { status: 405, description: 'The path does not support this method.' },
  conflict: { status: 409, description: 'The resource already exists or changed meanwhile.' },
  session_closed: { status: 409, description: 'The session is already closed; `closeReason` in the session says why.' },
  payload_too_large: { status: 413, description: 'The body exceeds the size limit.' },
  unprocessable: { status: 422, description: 'The request is well-formed but breaks a rule (e.g. a name clash).' },
  rate_limited: { status: 429, description: 'Too many requests; retry after the `Retry-After` seconds.' },
  internal: { status: 500, description: 'An unexpected fault; the log has details under the request id.' },
  unavailable: { status: 503, description: 'A dependency (the database) is unavailable; retry later.' },
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = API_ERROR_CODES[code].status;
  }
  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}

/** body-parser's errors carry `type` and `status`; they are the client's fault and say so. */
function fromBodyParser(err: unknown): ApiError | undefined {
  const e = err as { type?: string; status?: number; limit?: number; expose?: boolean };
  if (e?.type === 'entity.too.large') return new ApiError('payload_too_large', `The body is larger than ${e.limit} bytes`);
  if (e?.type === 'entity.parse.failed') return new ApiError('bad_request', 'The body is not valid JSON');
  if (typeof e?.type === 'string' && e.status && e.status < 500) return new ApiError('bad_request', 'The body could not be read');
  // The router's "Failed to decode param" (broken percent-encoding in the path).
  if (err instanceof URIError && e.status === 400) return new ApiError('bad_request', 'The path is not valid percent-encoding');
  // http-errors raised by body-parser's decompression and similar (e.g. a body that claims gzip but is not).
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new ApiError('bad_request', 'The body could not be read');
  if (isDataException(err)) return new ApiError('bad_request', 'A value in the request cannot be stored or compared (e.g. a NUL character, a date or number out of range, a malformed id)');
  return undefined;
}

/**
 * True when PostgreSQL refused a value with a class 22 "data exception" (NUL byte in text, date/time out of range,
 * malformed uuid): such values come from the request, so they are the client's fault, not a fault of the gateway.
 */
export function isDataException(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; originalCode?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
  if ([e.code, e.originalCode].some((c) => typeof c === 'string' && /^22[0-9A-Z]{3}$/.test(c))) return true;
  return [e.cause, e.meta?.driverAdapterError].some((c) => isDataException(c, depth + 1));
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', 'P1001', 'P1002', 'P1017', 'P2024']);
const UNREACHABLE_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database|ECONNREFUSED/i;

/** True when `err` (or anything in its cause chain) says the database cannot be reached right now. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; errors?: unknown[] };
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  return [e.cause, e.meta?.driverAdapterError, ...(Array.isArray(e.errors) ? e.errors : [])].some((c) => isDatabaseUnavailable(c, depth + 1));
}

export function errorRenderer(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (!res.headersSent && isDatabaseUnavailable(err)) {
      (req.log ?? logger).warn({ err }, 'database unavailable');
      res.status(503).set('Retry-After', String(RETRY_AFTER_SECONDS)).json(new ApiError('unavailable', 'The database is unavailable; retry shortly').toJSON());
      return;
    }
    // The admin API verifies its tokens itself: keys that cannot be had right now (JWKS or database down) are an
    // outage to retry, like the MCP endpoints' 503, not an internal error.
    if (!res.headersSent && err instanceof TokenVerificationUnavailableError) {
      (req.log ?? logger).warn({ err }, 'access token could not be verified');
      res.status(503).set('Retry-After', String(RETRY_AFTER_SECONDS)).json(new ApiError('unavailable', 'The access token cannot be verified right now; retry shortly').toJSON());
      return;
    }
    const known = err instanceof ApiError ? err : fromBodyParser(err);
    if (res.headersSent) {
      logger.error({ err, reqId: req.id }, 'error after response started');
      res.end();
      return;
    }
    if (known) {
      res.status(known.status).json(known.toJSON());
      return;
    }
    (req.log ?? logger).error({ err }, 'unhandled error');
    res.status(500).json(new ApiError('internal', `Internal error (request id ${String(req.id ?? 'unknown')})`).toJSON());
  };
}
