/**
 * Authorization server metadata (RFC 8414) at `/.well-known/oauth-authorization-server`, and the same document at
 * `/.well-known/openid-configuration` for clients that only look there (with the OIDC discovery fields their
 * parsers require; no ID tokens are issued — `openid` is not among the scopes). Clients discover every endpoint
 * path from here.
 */
import { Router } from 'express';
import { SCOPES_SUPPORTED } from '../auth/protected-resource.js';
import { SIGNING_ALG } from './signing-keys.js';
import { AUTH_METHODS, GRANT_TYPES } from './client-metadata.js';

export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANT_TYPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    // No `service_documentation`: the gateway serves no page about itself (its root is a 404); the member is optional.
  };
}

export function metadataRouter(issuer: string): Router {
  const router = Router();
  const oauth = authorizationServerMetadata(issuer);
  const openid = { ...oauth, subject_types_supported: ['public'], id_token_signing_alg_values_supported: [SIGNING_ALG] };
  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(oauth);
  });
  router.get('/.well-known/openid-configuration', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(openid);
  });
  return router;
}
