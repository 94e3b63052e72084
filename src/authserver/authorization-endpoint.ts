/**
 * `GET /authorize` (RFC 6749 §4.1.1 with PKCE, RFC 8707, RFC 9207). Pipeline: parse → find client → check
 * redirect URI → validate the rest → start the login transaction → on to login. Until the redirect URI is known to
 * belong to the client, errors are an HTML page (never a redirect: that would be an open redirector); after that,
 * errors go back to the client with `error`, `state` and `iss`.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import type { ClientRecord } from './client-metadata.js';
import type { ClientRegistry } from './client-registry.js';
import type { AuthorizationRequest, TransactionCookie } from './login-transaction.js';
import { InvalidRequest, LoginRequired, OAuthError, TemporarilyUnavailable, UnsupportedResponseType, UnauthorizedClient } from './oauth-errors.js';
import { matchRedirectUri } from './redirect-uris.js';
import { resolveResource } from './resource-indicator.js';
import { grantedScope } from './scopes.js';
import { redirectWithError, type ResponseTarget } from './authorization-response.js';
import { sendErrorPage, sendUnavailablePage } from './pages.js';
import { isDatabaseUnavailable } from '../errors.js';

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** Keeps the login-transaction cookie under the browsers' 4 KB limit. */
const MAX_STATE = 1024;

const authorizeQuery = z.object({
  client_id: z.string().optional(),
  redirect_uri: z.string().optional(),
  response_type: z.string().optional(),
  state: z.string().optional(),
  code_challenge: z.string().optional(),
  code_challenge_method: z.string().optional(),
  resource: z.string().optional(),
  scope: z.string().optional(),
  prompt: z.string().optional(),
});
type AuthorizeQuery = z.infer<typeof authorizeQuery>;

/** An error shown as a page because the redirect URI cannot be trusted (yet). */
class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 6749 §3.1: parameters must not repeat; a repeated one is reported after the redirect URI is trusted. */
function parse(query: Record<string, unknown>): { q: AuthorizeQuery; repeated: string[] } {
  const repeated = Object.entries(query).filter(([, v]) => Array.isArray(v)).map(([k]) => k);
  const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const single = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, typeof first(v) === 'string' ? first(v) : undefined]));
  return { q: authorizeQuery.parse(single), repeated };
}

async function findClient(q: AuthorizeQuery, repeated: string[], clients: ClientRegistry): Promise<ClientRecord> {
  if (repeated.includes('client_id')) throw new PageError(400, 'Invalid request', 'The client_id parameter is repeated.');
  if (!q.client_id) throw new PageError(400, 'Invalid request', 'The authorization request has no client_id.');
  let client: ClientRecord | undefined;
  try {
    client = await clients.find(q.client_id, { refresh: true });
  } catch (err) {
    if (err instanceof OAuthError && err.expose) throw new PageError(400, 'Unknown application', err.message);
    throw err;
  }
  if (!client) throw new PageError(400, 'Unknown application', 'This application is not registered with the gateway. Remove the connection in the application and add it again.');
  return client;
}

function checkRedirect(q: AuthorizeQuery, repeated: string[], client: ClientRecord): string {
  if (repeated.includes('redirect_uri')) throw new PageError(400, 'Invalid request', 'The redirect_uri parameter is repeated.');
  if (q.redirect_uri === undefined) {
    // RFC 6749 §4.1.1 leaves it optional when exactly one URI is registered; loopback ones need their port.
    if (client.redirectUris.length === 1) return client.redirectUris[0]!;
    throw new PageError(400, 'Invalid redirect', 'The authorization request has no redirect_uri and the application registered several.');
  }
  if (!matchRedirectUri(q.redirect_uri, client.redirectUris)) {
    throw new PageError(400, 'Invalid redirect', 'The redirect URI in this request is not registered for this application, so the gateway will not send you there.');
  }
  return q.redirect_uri;
}

async function validate(q: AuthorizeQuery, repeated: string[], client: ClientRecord, redirectUri: string, deps: AuthorizeDeps): Promise<AuthorizationRequest> {
  if (repeated.length) throw new InvalidRequest(`Parameters must not repeat: ${repeated.join(', ')}`);
  if ((q.state?.length ?? 0) > MAX_STATE || (q.scope?.length ?? 0) > MAX_STATE) throw new InvalidRequest(`state and scope may have at most ${MAX_STATE} characters`);
  if (q.response_type !== 'code') throw new UnsupportedResponseType('response_type must be "code"');
  if (!client.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('This client may not use the authorization code grant');
  if (!q.code_challenge) throw new InvalidRequest('PKCE is required: send code_challenge and code_challenge_method=S256');
  if (q.code_challenge_method !== 'S256') throw new InvalidRequest('code_challenge_method must be S256');
  if (!CODE_CHALLENGE.test(q.code_challenge)) throw new InvalidRequest('code_challenge must be the base64url SHA-256 of the code verifier (43 characters)');
  if (!q.resource) throw new OAuthError('invalid_target', 'The resource parameter (RFC 8707) is required: send the MCP endpoint URL');
  const prompt = (q.prompt ?? '').split(' ').filter(Boolean);
  // We keep no user session between authorizations, so there is never a login to reuse silently.
  if (prompt.includes('none')) throw new LoginRequired('The user must log in; prompt=none cannot be honoured');
  // The login and consent steps resolve the resource again: the team may be gone by then.
  const { resource } = await resolveResource(q.resource, deps.config.publicUrl, deps.teams);
  return {
    clientId: client.id,
    redirectUri,
    ...(q.state !== undefined ? { state: q.state } : {}),
    codeChallenge: q.code_challenge,
    resource,
    scope: grantedScope(q.scope),
    forceConsent: prompt.includes('consent'),
  };
}

export interface AuthorizeDeps {
  config: Config;
  clients: ClientRegistry;
  teams: TeamDirectory;
  transactions: TransactionCookie;
  logger: Logger;
}

export function authorizationEndpoint(deps: AuthorizeDeps): RequestHandler {
  const issuer = deps.config.publicUrl;
  return async (req, res) => {
    let target: ResponseTarget | undefined;
    try {
      const { q, repeated } = parse(req.query as Record<string, unknown>);
      const client = await findClient(q, repeated, deps.clients);
      target = { redirectUri: checkRedirect(q, repeated, client), state: q.state };
      const request = await validate(q, repeated, client, target.redirectUri, deps);
      if (!deps.transactions.fits(request)) throw new InvalidRequest('The authorization request is too large');
      await deps.transactions.start(res, request);
      res.set('Cache-Control', 'no-store').redirect(302, '/login');
    } catch (err) {
      if (err instanceof PageError) return sendErrorPage(res, err.status, err.title, err.message);
      if (err instanceof OAuthError && target) return redirectWithError(res, target, err, issuer);
      // An outage is not the client's fault and not final: RFC 6749's temporarily_unavailable, or a page to reload.
      if (isDatabaseUnavailable(err)) {
        (req.log ?? deps.logger).warn({ err }, 'authorization request: database unavailable');
        if (target) return redirectWithError(res, target, new TemporarilyUnavailable(), issuer);
        return sendUnavailablePage(res, String(req.id ?? 'unknown'));
      }
      (req.log ?? deps.logger).error({ err }, 'authorization request failed');
      if (target) return redirectWithError(res, target, new OAuthError('server_error', 'The gateway could not process the request'), issuer);
      sendErrorPage(res, 500, 'Something went wrong', `The gateway could not process the request (request id ${String(req.id ?? 'unknown')}).`);
    }
  };
}
