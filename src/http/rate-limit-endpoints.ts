/**
 * The limits of the MCP and user endpoints. ChatGPT and Claude reach the gateway from a few shared egress
 * addresses, so the per-address limit counts only what an address does without valid credentials — requests
 * without a token, and tokens that fail — and authenticated traffic is governed per user and per OAuth client.
 *
 * Requests that carry a token are never refused by the per-address limit: one address's failures must not lock
 * out its other users, and answering a bad token (401) costs no more than refusing it (429).
 */
import type { RequestHandler } from 'express';
import type { ProtectedEndpoint } from '../auth/bearer-auth.js';
import type { RateLimitConfig } from '../config/config.js';
import { JSONRPC, sendJsonRpcError } from '../mcp/jsonrpc-errors.js';
import { createLimiter, ipKey, rateLimit, type Limiter, type RefuseHandler } from './rate-limit.js';
import type { RateLimitCounters } from './rate-limit-counters.js';
import { RateLimited } from '../errors.js';

type Authenticate = (endpoint: ProtectedEndpoint) => RequestHandler;

export interface EndpointLimits {
  /** Before authentication: counts and refuses requests without credentials per source address. */
  preauth: RequestHandler;
  /** Wraps the bearer authentication so that a failure (401) counts against the source address. */
  authenticate(authenticate: Authenticate): Authenticate;
  /** After the user is known: per-user and per-OAuth-client ceilings, refused as JSON-RPC errors (MCP). */
  mcpCaller: RequestHandler;
  /** The same ceilings for the JSON API (`GET /t/{team}/sessions`), refused with the API's error shape. */
  apiCaller: RequestHandler;
}

const apiRefusal =
  (message: string): RefuseHandler =>
  (_req, _res, next) =>
    next(new RateLimited(message));

/** The per-user and per-client checks for an identified caller, with `refuse(what)` answering a refusal. */
function callerLimits(user: Limiter | undefined, client: Limiter | undefined, refuse: (what: string) => RefuseHandler): RequestHandler {
  const perUser = rateLimit(user, (_req, res) => res.locals.principal!.user.id, refuse(`at most ${user?.rule.limit} per ${windowText(user)} per user`));
  const perClient = rateLimit(
    client,
    // Per team: one ChatGPT or Claude client serves every team of the gateway, and one team must not starve another.
    (_req, res) => {
      const p = res.locals.principal!;
      return `${p.team.id} ${p.clientId}`;
    },
    refuse(`at most ${client?.rule.limit} per ${windowText(client)} for this application in this team`),
  );
  return (req, res, next) => perUser(req, res, (err?: unknown) => (err === undefined ? perClient(req, res, next) : next(err)));
}

/** "minute", "15 minutes", "30 seconds": the window as a refusal message names it. */
function windowText(l: Limiter | undefined): string {
  const ms = l?.rule.windowMs ?? 60_000;
  return ms === 60_000 ? 'minute' : ms % 60_000 === 0 ? `${ms / 60_000} minutes` : `${ms / 1000} seconds`;
}

export function createEndpointLimits(counters: RateLimitCounters, rules: RateLimitConfig): EndpointLimits {
  const ip = createLimiter(counters, 'ip', rules.preauthIp);
  const user = createLimiter(counters, 'user', rules.user);
  const client = createLimiter(counters, 'client', rules.client);
  const ipRefusal = apiRefusal('Too many unauthenticated requests from this address; slow down');
  return {
    preauth: rateLimit(ip, (req) => (req.headers.authorization === undefined ? ipKey(req) : undefined), ipRefusal),
    authenticate(authenticate) {
      if (!ip) return authenticate;
      return (endpoint) => {
        const inner = authenticate(endpoint);
        return async (req, res, next) => {
          // Requests without credentials were counted before authentication.
          if (req.headers.authorization === undefined) return inner(req, res, next);
          let passed = false;
          await inner(req, res, (err?: unknown) => {
            passed = err === undefined;
            next(err);
          });
          if (!passed && res.statusCode === 401) ip.admit(ipKey(req));
        };
      };
    },
    mcpCaller: callerLimits(user, client, (what) => (_req, res) => sendJsonRpcError(res, 429, JSONRPC.SERVER_ERROR, `Too many requests: ${what}`)),
    apiCaller: callerLimits(user, client, (what) => apiRefusal(`Too many requests: ${what}`)),
  };
}
