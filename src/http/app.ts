/**
 * `createApp(deps)`: the whole gateway as an Express app plus the services behind it, without listening.
 * Tests build as many isolated apps as they like; `main.ts` wires one to a socket.
 */
import type { UpstreamTimeouts } from '../toolservers/upstream-client.js';
import express, { type Express, type RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { mcpFastLane } from './mcp-fast-lane.js';
import helmet from 'helmet';
import cors from 'cors';
import { requestLog } from '../observability/request-log.js';
import { isLoopbackUrl, type Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createAuditLog, type AuditLog } from '../observability/audit.js';
import { createSecretBox, type SecretBox } from '../security/secret-box.js';
import { createKeyStore, type KeyStore } from '../authserver/signing-keys.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import { bearerAuth } from '../auth/bearer-auth.js';
import { protectedResourceRouter } from '../auth/protected-resource.js';
import { createTeamDirectory, type TeamDirectory } from '../teams/team-directory.js';
import { createUserDirectory, type UserDirectory } from '../teams/users.js';
import { createSessionStore, type SessionStore } from '../sessions/session-store.js';
import { userSessionsRouter } from '../sessions/user-sessions-router.js';
import { startSweeper, type Sweeper } from '../sessions/sweeper.js';
import { createSessionRuntime, type SessionRuntime } from '../mcp/session-runtime.js';
import { createUpstreamNetwork } from '../toolservers/upstream-network.js';
import { mcpRouter, resolveTeam, authenticateForTeam, identify } from '../mcp/mcp-endpoint.js';
import { jwksRouter } from '../authserver/jwks-router.js';
import { devTokenRouter } from '../authserver/dev-token-router.js';
import { authServerRouter, type AuthServerOptions } from '../authserver/router.js';
import { adminRouter } from '../admin/admin-router.js';
import { consoleRouter } from '../console/console-router.js';
import { errorRenderer, ApiError } from './errors.js';
import { hostAndOriginCheck, isAllowedOrigin } from './host-origin.js';
import { operationsRouter } from './operations-router.js';
import { createRateLimitCounters, type RateLimitCounters } from './rate-limit-counters.js';
import { createRateLimitSync } from './rate-limit-sync.js';
import { createEndpointLimits } from './rate-limit-endpoints.js';
import { createRequestDrain, type RequestDrain } from './request-drain.js';
import { createListingCache } from '../toolservers/listing-cache.js';

export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  /** The 32-byte key that seals secrets at rest (see `resolveEncryptionKey`). */
  encryptionKey: Buffer;
  clock?: () => number;
  metrics?: Metrics;
  fetch?: typeof fetch;
  /** Minimum time between JWKS refetches of an external issuer (default 30 s; tests shorten it). */
  jwksCooldownMs?: number;
  /** Options of the built-in authorization server (test-only switches among them); see `AuthServerOptions`. */
  authServer?: AuthServerOptions;
  /** How long a tool server may take (defaults: `DEFAULT_UPSTREAM_TIMEOUTS`; tests shorten them). */
  upstreamTimeouts?: Partial<UpstreamTimeouts>;
}

export interface App {
  readonly express: Express;
  /** What an HTTP server should call for each request: Express, with the MCP POST route served without its router. */
  readonly listener: RequestListener;
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly box: SecretBox;
  readonly keys: KeyStore;
  readonly verifier: TokenVerifier;
  readonly teams: TeamDirectory;
  readonly users: UserDirectory;
  readonly store: SessionStore;
  readonly sessions: SessionRuntime;
  readonly audit: AuditLog;
  /** Rate-limit counters; `sync()` shares them with the other replicas now (a no-op on the embedded database). */
  readonly rateLimits: { readonly counters: RateLimitCounters; sync(): Promise<void> };
  /** Requests in flight, and how they are refused once a graceful shutdown begins (see `main.ts`). */
  readonly drain: RequestDrain;
  /** Starts background work: the session sweeper and cross-replica close notifications. */
  start(): Promise<void>;
  /**
   * Stops background work, releases in-memory sessions (rows stay open: clients resume elsewhere) and writes the
   * audit records still waiting, giving up on them at `deadline` (epoch ms; default 10 s from now).
   */
  close(deadline?: number): Promise<void>;
}

/** Waits for `work`, but not past `deadline` (epoch ms): shutdown must end within its grace period. */
async function untilDeadline(work: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
  clearTimeout(timer);
}

const EXPOSED_HEADERS = ['Mcp-Session-Id', 'Mcp-Protocol-Version', 'WWW-Authenticate', 'Retry-After'];

export function createApp(deps: AppDeps): App {
  const { config, db, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const box = createSecretBox(deps.encryptionKey);
  const keys = createKeyStore({ prisma: db.prisma, box, clock });
  const verifier = createTokenVerifier({ config, keys, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.jwksCooldownMs ? { jwksCooldownMs: deps.jwksCooldownMs } : {}) });
  const teams = createTeamDirectory(db);
  const users = createUserDirectory(db.prisma, db.sql);
  const audit = createAuditLog(db.sql, logger, { clock, metrics });
  const upstreamNetwork = createUpstreamNetwork({ logger });
  const store = createSessionStore(db, { idleTtlMs: config.sessionIdleTtlMs, maxAgeMs: config.sessionMaxAgeMs }, clock);
  const sessions = createSessionRuntime({
    db,
    store,
    logger,
    metrics,
    audit,
    cacheSize: config.sessionCacheSize,
    cacheTtlMs: config.sessionCacheTtlMs,
    clock,
    upstream: { keys, box, publicUrl: config.publicUrl, clock, network: upstreamNetwork, listings: createListingCache(), ...(deps.upstreamTimeouts ? { timeouts: deps.upstreamTimeouts } : {}) },
  });
  const rateCounters = createRateLimitCounters({ clock });
  // The embedded database serves one process, whose counters are already the whole truth.
  const rateSync = db.shared ? createRateLimitSync({ counters: rateCounters, sql: db.sql, logger, clock, intervalMs: config.rateLimits.syncIntervalMs }) : undefined;
  const limits = createEndpointLimits(rateCounters, config.rateLimits);
  const authenticate = limits.authenticate(bearerAuth(verifier, metrics));
  const drain = createRequestDrain();

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  // Every request passes these, in this order (the MCP POST route too, through `mcp-fast-lane.ts`).
  const everyRequest: RequestHandler[] = [
    requestLog(logger),
    (req, res, next) => {
      const end = metrics.httpDuration.startTimer();
      res.once('finish', () => {
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
        end({ method: req.method, route });
      });
      next();
    },
    drain.middleware,
    helmet({
      // Discovery documents and the MCP endpoint are fetched cross-origin by browser-based clients.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    }),
    cors({
      origin: (origin, cb) => cb(null, origin === undefined || isAllowedOrigin(origin, config.publicUrl, config.corsOrigins)),
      exposedHeaders: EXPOSED_HEADERS,
      allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'Last-Event-ID', config.chatIdHeader],
      methods: ['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS'],
      maxAge: 600,
    }),
    hostAndOriginCheck(config),
  ];
  for (const m of everyRequest) app.use(m);
  // Per source address, only what comes without credentials (failed authentications are counted by `authenticate`).
  app.use(['/t/:team/mcp', '/mcp', '/t/:team/sessions'], limits.preauth);
  // First of the routers: the MCP endpoint is the hot path, and every router ahead of it is walked on each call.
  const mcp = mcpRouter({ config, teams, users, sessions, authenticate, limitCaller: limits.mcpCaller });
  app.use(mcp.router);

  app.use(operationsRouter({ db, metrics }));
  // [authserver] the built-in authorization server mounts here (issue #3)
  // Local development only: behind a reverse proxy on the same host every caller would look local.
  if (config.devLogin && config.authMode === 'builtin' && isLoopbackUrl(config.publicUrl)) {
    app.use(devTokenRouter({ config, db, encryptionKey: deps.encryptionKey }));
  }
  if (config.authMode === 'builtin') {
    app.use(
      authServerRouter({
        config,
        prisma: db.prisma,
        keys,
        teams,
        users,
        logger,
        encryptionKey: deps.encryptionKey,
        clock,
        rateLimitCounters: rateCounters,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        ...(deps.authServer ? { options: deps.authServer } : {}),
      }),
    );
  }
  // [admin] the admin REST API mounts here (issue #5)
  app.use('/admin/v1', adminRouter({ config, db, box, teams, users, sessions, audit, logger, clock, verifier }));
  app.use('/console', consoleRouter({ config, db, box, teams, users, sessions, audit, logger, clock, encryptionKey: deps.encryptionKey }));
  app.use(jwksRouter(keys));
  app.use(protectedResourceRouter({ config, teams }));
  app.use(
    userSessionsRouter({
      prisma: db.prisma,
      pipeline: [resolveTeam(teams), authenticateForTeam(config, authenticate), identify(config, teams, users), limits.apiCaller],
    }),
  );
  app.use((req, _res, next) => next(new ApiError('not_found', `No route for ${req.method} ${req.path}`)));
  const renderError = errorRenderer(logger);
  app.use(renderError);
  const listener = mcpFastLane(app, [...everyRequest, limits.preauth, ...mcp.postChain], renderError);

  let sweeper: Sweeper | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  return {
    express: app,
    listener,
    config,
    db,
    logger,
    metrics,
    box,
    keys,
    verifier,
    teams,
    users,
    store,
    sessions,
    audit,
    rateLimits: { counters: rateCounters, sync: async () => rateSync?.sync() },
    drain,
    async start() {
      rateSync?.start();
      unlisten = await sessions.listen();
      sweeper = startSweeper({ db, store, runtime: sessions, logger, clock, intervalMs: Math.min(60_000, Math.max(1_000, config.sessionIdleTtlMs / 4)) });
    },
    async close(deadline = Date.now() + 10_000) {
      sweeper?.stop();
      await unlisten?.();
      await untilDeadline(sessions.shutdown(), deadline);
      await untilDeadline(upstreamNetwork.close(), deadline);
      await audit.close(deadline);
      // Hand this process's last counts to the replicas that stay up.
      await untilDeadline(rateSync?.stop() ?? Promise.resolve(), deadline);
    },
  };
}
