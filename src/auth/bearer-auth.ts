/**
 * Express wiring of the resource server, per endpoint (each team endpoint has its own audience and protected-resource
 * metadata URL): take the bearer token → verify it → `req.auth`. A refused token gets 401 with an RFC 6750 §3
 * challenge naming the RFC 9728 metadata; a token that cannot be checked right now (JWKS down, database down while
 * reloading keys) gets 503 with `Retry-After` and a log line with the request id. This is the SDK's
 * `requireBearerAuth` with that one difference: the SDK answers any unexpected verifier error with a bare 500 and
 * logs nothing, and a client may take a 4xx/5xx on its token as a reason to sign in again.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Metrics } from '../observability/metrics.js';
import type { TokenVerifier } from './token-verifier.js';
import { TokenRejectedError, TokenVerificationUnavailableError } from './token-errors.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified access token of a request that passed `bearerAuth` (the SDK's transports read it too). */
    auth?: AuthInfo;
  }
}

export interface ProtectedEndpoint {
  /** The resource identifier (RFC 8707), e.g. `https://gw.example.com/t/acme/mcp`. */
  resource: string;
  /** Its RFC 9728 metadata URL, advertised in `WWW-Authenticate`. */
  resourceMetadataUrl: string;
}

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, the token. */
const BEARER = /^Bearer +(\S+) *$/i;

/** RFC 6750 §3.1: a request without any credentials gets a challenge without an error code. */
function challengeMissing(res: Response, endpoint: ProtectedEndpoint): void {
  res
    .status(401)
    .set('WWW-Authenticate', `Bearer resource_metadata="${endpoint.resourceMetadataUrl}"`)
    .json({ error: 'invalid_request', error_description: 'An access token is required: send Authorization: Bearer <token>' });
}

function challengeInvalid(res: Response, endpoint: ProtectedEndpoint, message: string): void {
  res
    .status(401)
    .set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${message}", resource_metadata="${endpoint.resourceMetadataUrl}"`)
    .json({ error: 'invalid_token', error_description: message });
}

function answerUnavailable(req: Request, res: Response, err: TokenVerificationUnavailableError): void {
  const requestId = String(req.id ?? 'unknown');
  req.log.warn({ err: err.cause, reqId: requestId }, 'access token could not be verified (key source unavailable)');
  res
    .status(503)
    .set('Retry-After', String(RETRY_AFTER_SECONDS))
    .json({ error: 'temporarily_unavailable', error_description: `The access token cannot be verified right now; retry shortly (request id ${requestId})` });
}

/** The verified token, or undefined after answering (401 refused, 503 unavailable). */
async function verifyRequest(req: Request, res: Response, endpoint: ProtectedEndpoint, verifier: TokenVerifier, metrics: Metrics): Promise<AuthInfo | undefined> {
  const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
  if (token === undefined) {
    metrics.tokenFailures.inc({ reason: 'malformed' });
    challengeInvalid(res, endpoint, "Invalid Authorization header format, expected 'Bearer TOKEN'");
    return undefined;
  }
  try {
    const info = await verifier.verify(token, endpoint.resource);
    // jose allows `exp` a small clock skew; a token past it is refused here, as the SDK's middleware did.
    if (info.expiresAt === undefined || info.expiresAt < Date.now() / 1000) throw new TokenRejectedError('expired', 'The access token has expired');
    return info;
  } catch (err) {
    if (err instanceof TokenRejectedError) {
      metrics.tokenFailures.inc({ reason: err.reason });
      challengeInvalid(res, endpoint, err.message);
      return undefined;
    }
    if (err instanceof TokenVerificationUnavailableError) {
      answerUnavailable(req, res, err);
      return undefined;
    }
    throw err;
  }
}

export function bearerAuth(verifier: TokenVerifier, metrics: Metrics): (endpoint: ProtectedEndpoint) => RequestHandler {
  return (endpoint) => async (req, res, next) => {
    if (!req.headers.authorization) {
      metrics.tokenFailures.inc({ reason: 'missing' });
      return challengeMissing(res, endpoint);
    }
    const info = await verifyRequest(req, res, endpoint, verifier, metrics);
    if (!info) return;
    req.auth = info;
    next();
  };
}
