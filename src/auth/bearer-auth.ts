/**
 * Express wiring of the resource server: the SDK's `requireBearerAuth` around our jose verifier, per endpoint
 * (each team endpoint has its own audience and protected-resource metadata URL).
 */
import type { RequestHandler } from 'express';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { Metrics } from '../observability/metrics.js';
import type { TokenVerifier } from './token-verifier.js';
import { TokenRejectedError } from './token-errors.js';

export interface ProtectedEndpoint {
  /** The resource identifier (RFC 8707), e.g. `https://gw.example.com/t/acme/mcp`. */
  resource: string;
  /** Its RFC 9728 metadata URL, advertised in `WWW-Authenticate`. */
  resourceMetadataUrl: string;
}

export function bearerAuth(verifier: TokenVerifier, metrics: Metrics): (endpoint: ProtectedEndpoint) => RequestHandler {
  return (endpoint) => {
    const sdkMiddleware = requireBearerAuth({
      resourceMetadataUrl: endpoint.resourceMetadataUrl,
      verifier: {
        verifyAccessToken: async (token) => {
          try {
            return await verifier.verify(token, endpoint.resource);
          } catch (err) {
            if (err instanceof TokenRejectedError) metrics.tokenFailures.inc({ reason: err.reason });
            throw err;
          }
        },
      },
    });
    return (req, res, next) => {
      // RFC 6750 §3.1: a request without any credentials gets a challenge without an error code.
      if (!req.headers.authorization) {
        metrics.tokenFailures.inc({ reason: 'missing' });
        res
          .status(401)
          .set('WWW-Authenticate', `Bearer resource_metadata="${endpoint.resourceMetadataUrl}"`)
          .json({ error: 'invalid_request', error_description: 'An access token is required: send Authorization: Bearer <token>' });
        return;
      }
      return sdkMiddleware(req, res, next);
    };
  };
}
