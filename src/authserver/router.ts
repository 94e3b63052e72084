/**
 * The built-in authorization server as one Express router (mounted by `createApp` when AUTH_MODE=builtin):
 * metadata, registration, authorize → login → consent, token, revocation, and the pages' stylesheet. Options are
 * checked here, once; everything below takes its dependencies explicitly.
 */
import express, { Router, type ErrorRequestHandler } from 'express';
import cookieParser from 'cookie-parser';
import type { Config } from '../config/config.js';
import { isLoopbackUrl } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import type { UserDirectory } from '../teams/users.js';
import type { KeyStore } from './signing-keys.js';
import { createUpstreamOidc, type UpstreamOidc } from './upstream-oidc.js';
import { authorizationEndpoint } from './authorization-endpoint.js';
import { createAuthorizationCodes } from './authorization-codes.js';
import { createClientRegistry } from './client-registry.js';
import { consentRouter } from './consent-endpoint.js';
import { createConsentStore } from './consent-store.js';
import { STYLESHEET, STYLESHEET_PATH } from './html.js';
import type { InteractiveDeps } from './interactive-flow.js';
import { loginRouter } from './login-endpoints.js';
import { createTransactionCookie } from './login-transaction.js';
import { metadataRouter } from './metadata.js';
import { oauthJsonErrors } from './oauth-errors.js';
import { sendErrorPage, sendUnavailablePage } from './pages.js';
import { createLimiters, rateLimitsFromConfig, type RateLimits } from './rate-limits.js';
import type { RateLimitCounters } from '../http/rate-limit-counters.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { registrationRouter } from './registration-endpoint.js';
import { revocationRouter } from './revocation-endpoint.js';
import { tokenRouter } from './token-endpoint.js';
import { isDatabaseUnavailable } from '../errors.js';

export interface AuthServerOptions {
  /**
   * TEST ONLY. Lets Client ID Metadata Document URLs point at private, loopback and link-local addresses and use
   * plain http there. Never set it in production: it turns the gateway into a proxy into its own network.
   */
  allowPrivateCimdHosts?: boolean;
  /** Replaces the upstream OpenID Connect login built from `config.loginOidc` (tests, custom wiring). */
  upstreamOidc?: UpstreamOidc;
  /** Overrides of the configured rate limits (tests prove the limits with small numbers). */
  rateLimits?: Partial<RateLimits>;
}

export interface AuthServerDeps {
  config: Config;
  /** The database: the authorization server keeps its own tables (clients, consents, codes, refresh tokens). */
  db: Pick<Database, 'prisma'>;
  keys: KeyStore;
  teams: TeamDirectory;
  users: UserDirectory;
  logger: Logger;
  encryptionKey: Buffer;
  clock: () => number;
  /** The gateway's rate-limit counters (shared across replicas). */
  rateLimitCounters: RateLimitCounters;
  fetch?: typeof fetch;
  options?: AuthServerOptions;
}

/** Upstream login from LOGIN_OIDC_*; plain http is accepted only for a loopback issuer (local IdPs, tests). */
function upstreamFrom(deps: AuthServerDeps): UpstreamOidc | undefined {
  if (deps.options?.upstreamOidc) return deps.options.upstreamOidc;
  const oidc = deps.config.loginOidc;
  if (!oidc) return undefined;
  return createUpstreamOidc({
    issuer: oidc.issuer,
    clientId: oidc.clientId,
    clientSecret: oidc.clientSecret,
    redirectUri: `${deps.config.publicUrl}/login/oidc/callback`,
    allowInsecureHttp: isLoopbackUrl(oidc.issuer),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
}

function pageErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendErrorPage(res, status, 'Invalid request', 'The form could not be read. Go back to the application and connect again.');
    }
    if (isDatabaseUnavailable(err)) {
      (req.log ?? logger).warn({ err }, 'authorization page: database unavailable');
      return sendUnavailablePage(res, String(req.id ?? 'unknown'));
    }
    (req.log ?? logger).error({ err }, 'authorization page failed');
    sendErrorPage(res, 500, 'Something went wrong', `The gateway could not complete this step (request id ${String(req.id ?? 'unknown')}).`);
  };
}

export function authServerRouter(deps: AuthServerDeps): Router {
  const { config, clock, logger } = deps;
  const { prisma } = deps.db;
  if (config.authMode !== 'builtin') throw new Error('authServerRouter: AUTH_MODE must be builtin');
  if (deps.encryptionKey.length !== 32) throw new Error('authServerRouter: the encryption key must be 32 bytes');
  const options = deps.options ?? {};

  const limiters = createLimiters(deps.rateLimitCounters, { ...rateLimitsFromConfig(config), ...options.rateLimits });
  const clients = createClientRegistry({ prisma, clock, allowPrivateCimdHosts: options.allowPrivateCimdHosts === true });
  const refreshTokens = createRefreshTokens({ prisma, clock });
  const codes = createAuthorizationCodes({ prisma, clock, refreshTokens });
  const transactions = createTransactionCookie({ encryptionKey: deps.encryptionKey, publicUrl: config.publicUrl, clock });
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });
  const interactive: InteractiveDeps = {
    config,
    prisma,
    logger,
    clients,
    teams: deps.teams,
    users: deps.users,
    consents: createConsentStore(prisma),
    codes,
    transactions,
    upstream: upstreamFrom(deps),
  };

  const router = Router();
  router.use(metadataRouter(config.publicUrl));
  router.get(STYLESHEET_PATH, (_req, res) => {
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=86400' }).send(STYLESHEET);
  });

  const api = Router();
  api.use(registrationRouter({ clients, limiters }));
  api.use(tokenRouter({ config, prisma, keys: deps.keys, teams: deps.teams, clients, codes, refreshTokens, limiters }, form));
  api.use(revocationRouter({ clients, refreshTokens, limiters }, form));
  api.use(oauthJsonErrors(logger));
  router.use(api);

  const pages = Router();
  pages.use(['/authorize', '/login', '/consent'], limiters.interactivePerIp, cookieParser());
  pages.get('/authorize', authorizationEndpoint({ config, clients, teams: deps.teams, transactions, logger }));
  pages.use(loginRouter(interactive, form));
  pages.use(consentRouter(interactive, form));
  pages.use(pageErrors(logger));
  router.use(pages);
  return router;
}
