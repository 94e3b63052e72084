/**
 * The authorization server's error catalogue: every OAuth error is a named class carrying its RFC code and HTTP
 * status (oidc-provider style). JSON endpoints render them as `{ error, error_description }`; the authorization
 * endpoint turns them into error redirects (with `iss`) or, when the redirect cannot be trusted, an HTML page.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from '../observability/logger.js';
import { isDatabaseUnavailable, isDataException, RETRY_AFTER_SECONDS } from '../errors.js';

export const OAUTH_ERROR_CODES = {
  invalid_request: { status: 400, rfc: 'RFC 6749 §4.1.2.1, §5.2' },
  invalid_client: { status: 401, rfc: 'RFC 6749 §5.2' },
  invalid_grant: { status: 400, rfc: 'RFC 6749 §5.2' },
  unauthorized_client: { status: 400, rfc: 'RFC 6749 §5.2' },
  unsupported_grant_type: { status: 400, rfc: 'RFC 6749 §5.2' },
  unsupported_response_type: { status: 400, rfc: 'RFC 6749 §4.1.2.1' },
  unsupported_token_type: { status: 400, rfc: 'RFC 7009 §2.2.1' },
  invalid_scope: { status: 400, rfc: 'RFC 6749 §5.2' },
  invalid_target: { status: 400, rfc: 'RFC 8707 §2' },
  access_denied: { status: 403, rfc: 'RFC 6749 §4.1.2.1' },
  login_required: { status: 400, rfc: 'OIDC Core §3.1.2.6' },
  consent_required: { status: 400, rfc: 'OIDC Core §3.1.2.6' },
  invalid_redirect_uri: { status: 400, rfc: 'RFC 7591 §3.2.2' },
  invalid_client_metadata: { status: 400, rfc: 'RFC 7591 §3.2.2' },
  too_many_requests: { status: 429, rfc: 'RFC 6585 §4' },
  server_error: { status: 500, rfc: 'RFC 6749 §4.1.2.1' },
  temporarily_unavailable: { status: 503, rfc: 'RFC 6749 §4.1.2.1' },
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_CODES;

export class OAuthError extends Error {
  readonly status: number;
  /** Whether `message` may go to the client as `error_description` (server faults never expose theirs). */
  readonly expose: boolean;
  constructor(
    readonly code: OAuthErrorCode,
    message: string,
    opts: { expose?: boolean; status?: number } = {},
  ) {
    super(message);
    this.name = 'OAuthError';
    this.status = opts.status ?? OAUTH_ERROR_CODES[code].status;
    this.expose = opts.expose ?? this.status < 500;
  }
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.expose ? this.message : 'The server could not complete the request' };
  }
}

export class InvalidRequest extends OAuthError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}
export class InvalidClient extends OAuthError {
  constructor(message = 'Client authentication failed') {
    super('invalid_client', message);
  }
}
export class InvalidGrant extends OAuthError {
  constructor(message: string) {
    super('invalid_grant', message);
  }
}
export class UnauthorizedClient extends OAuthError {
  constructor(message: string) {
    super('unauthorized_client', message);
  }
}
export class UnsupportedGrantType extends OAuthError {
  constructor(message: string) {
    super('unsupported_grant_type', message);
  }
}
export class UnsupportedResponseType extends OAuthError {
  constructor(message: string) {
    super('unsupported_response_type', message);
  }
}
export class InvalidScope extends OAuthError {
  constructor(message: string) {
    super('invalid_scope', message);
  }
}
export class InvalidTarget extends OAuthError {
  constructor(message: string) {
    super('invalid_target', message);
  }
}
export class AccessDenied extends OAuthError {
  constructor(message: string) {
    super('access_denied', message);
  }
}
export class LoginRequired extends OAuthError {
  constructor(message: string) {
    super('login_required', message);
  }
}
export class InvalidRedirectUri extends OAuthError {
  constructor(message: string) {
    super('invalid_redirect_uri', message);
  }
}
export class InvalidClientMetadata extends OAuthError {
  constructor(message: string) {
    super('invalid_client_metadata', message);
  }
}
export class TooManyRequests extends OAuthError {
  constructor(message: string) {
    super('too_many_requests', message);
  }
}
export class ServerError extends OAuthError {
  constructor(message: string) {
    super('server_error', message);
  }
}
/**
 * RFC 6749 §4.1.2.1: the server cannot serve right now (the database is unreachable). Never `invalid_client` or
 * `invalid_grant` for an outage: MCP clients throw their registration or tokens away on those.
 */
export class TemporarilyUnavailable extends OAuthError {
  constructor(message = 'The authorization server is temporarily unavailable; retry shortly') {
    super('temporarily_unavailable', message, { expose: true });
  }
}

/**
 * Sends an OAuth error as JSON; `invalid_client` gets the RFC 6749 §5.2 Basic challenge, a 503 its `Retry-After`.
 */
export function sendOAuthError(res: Response, err: OAuthError): void {
  if (err.code === 'invalid_client') res.set('WWW-Authenticate', 'Basic realm="switchboard", charset="UTF-8"');
  if (err.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(err.status).set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(err.toJSON());
}

/**
 * Error handler for the JSON endpoints (token, revocation, registration): OAuth errors as they are, body-parser
 * failures as `invalid_request`, an unreachable database as `temporarily_unavailable` (503, `Retry-After`), anything
 * else a bare `server_error` with the details in the log.
 */
export function oauthJsonErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof OAuthError) return sendOAuthError(res, err);
    const parserError = err as { type?: string; status?: number };
    if (typeof parserError?.type === 'string' && parserError.status && parserError.status < 500) {
      return sendOAuthError(res, new InvalidRequest(parserError.type === 'entity.too.large' ? 'The request body is too large' : 'The request body could not be parsed'));
    }
    // A value PostgreSQL refuses (e.g. a NUL character in client metadata) is the client's fault, not ours.
    if (isDataException(err)) return sendOAuthError(res, new InvalidRequest('A parameter holds a value that cannot be stored (e.g. a NUL character)'));
    if (isDatabaseUnavailable(err)) {
      (req.log ?? logger).warn({ err }, 'authorization server: database unavailable');
      return sendOAuthError(res, new TemporarilyUnavailable(`The authorization server cannot reach its database; retry shortly (request id ${String(req.id ?? 'unknown')})`));
    }
    (req.log ?? logger).error({ err }, 'authorization server fault');
    sendOAuthError(res, new OAuthError('server_error', `Internal error (request id ${String(req.id ?? 'unknown')})`, { expose: true }));
  };
}
