/**
 * `createApp(deps)`: the whole gateway as an Express app plus the services behind it, without listening.
 * Tests build as many isolated apps as they like; `main.ts` wires one to a socket. The composition root: it hands
 * the database to each area's factory and builds the services once (`createServices`); the admin API and the console
 * get the services, never the database.
 */
import type { UpstreamTimeouts } from '../toolservers/upstream-client.js';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { mcpFastLane } from './mcp-fast-lane.js';
import helmet from 'helmet';
import cors, { type CorsOptions } from 'cors';
import { fixedHeaders } from './fixed-headers.js';
import type { IncomingMessage } from 'node:http';
import { requestLog } from '../observability/request-log.js';
import { httpMetrics } from '../observability/http-metrics.js';
import { isLoopbackUrl, type Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createAuditLog, type AuditLog } from '../observability/audit.js';
import { createSecretBox, type SecretBox } from '../security/secret-box.js';
import type { KeyStore } from '../authserver/signing-keys.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import { bearerAuth } from '../auth/bearer-auth.js';
import { protectedResourceRouter } from '../auth/protected-resource.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import type { UserDirectory } from '../teams/users.js';
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
import { createUpstreamOAuth } from '../toolservers/oauth/upstream-oauth.js';
import { upstreamOAuthRouter } from '../toolservers/oauth/upstream-oauth-router.js';
import { consoleRouter } from '../console/console-router.js';
import { hostAndOriginCheck, isAllowedOrigin } from './host-origin.js';
import { operationsRouter } from './operations-router.js';
import { createRateLimitCounters, type RateLimitCounters } from './rate-limit-counters.js';
import { createRateLimitSync } from './rate-limit-sync.js';
import { createEndpointLimits } from './rate-limit-endpoints.js';
import { createRequestDrain, type RequestDrain } from './request-drain.js';
import { createListingCache } from '../toolservers/listing-cache.js';
import { NotFound } from '../errors.js';
import { errorRenderer } from './errors.js';
import { jsonRpcErrorRenderer } from '../mcp/jsonrpc-errors.js';
import { createUpstreamEras } from '../toolservers/upstream-era.js';
import { createClusterBus, type ClusterBus } from '../cluster/bus.js';
import { createRequestStates } from '../mcp/request-state.js';
import { createResumableStreams, type ResumableStreams } from '../cluster/resumable-streams.js';
import { createServices, createStores, type Services } from '../services.js';

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
  /** How long a call whose response stream was cut waits for its client to resume it (default `RESUME_GRACE_MS`). */
  resumeGraceMs?: number;
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
  /** How this replica talks to the others (`cluster/bus.ts`). */
  readonly bus: ClusterBus;
  /** Resumable response streams and the event store (`cluster/resumable-streams.ts`). */
  readonly streams: ResumableStreams;
  readonly audit: AuditLog;
  /** Teams, members, tool servers, sessions, users, audit, keys as plain functions (`src/services.ts`). */
  readonly services: Services;
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

/** The MCP endpoints (`/mcp`, `/t/{team}/mcp`), with or without a query: their errors are JSON-RPC bodies. */
const MCP_ENDPOINT = /^\/(?:t\/[^/?]+\/)?mcp\/?(?:\?|$)/;

const EXPOSED_HEADERS = ['Mcp-Session-Id', 'Mcp-Protocol-Version', 'WWW-Authenticate', 'Retry-After'];

/** `Mcp-Param-<name>` headers (a tool's `x-mcp-header` parameters, 2026-07-28) named in a preflight's request headers. */
const PARAM_HEADER = /^mcp-param-[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/**
 * CORS for browser-based clients. The allowed headers are a fixed list, plus — in a preflight only — the
 * `Mcp-Param-*` headers it asks for: their names come from tool schemas, so no fixed list can hold them.
 */
function corsOptions(config: Config): (req: IncomingMessage, cb: (err: Error | null, options?: CorsOptions) => void) => void {
  const base = {
    origin: (origin: string | undefined, cb: (err: Error | null, allow?: boolean) => void) => cb(null, origin === undefined || isAllowedOrigin(origin, config.publicUrl, config.corsOrigins)),
    exposedHeaders: EXPOSED_HEADERS,
    // Mcp-Method / Mcp-Name: the request metadata headers every 2026-07-28 request carries; traceparent & co: W3C trace context.
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'Mcp-Method', 'Mcp-Name', 'Last-Event-ID', 'traceparent', 'tracestate', 'baggage', config.chatIdHeader],
    methods: ['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS'],
    maxAge: 600,
  } satisfies CorsOptions;
  return (req, cb) => {
    const asked = req.method === 'OPTIONS' ? req.headers['access-control-request-headers'] : undefined;
    const params = asked?.split(',').map((h) => h.trim()).filter((h) => PARAM_HEADER.test(h));
    cb(null, params?.length ? { ...base, allowedHeaders: [...base.allowedHeaders, ...params] } : base);
  };
}

export function createApp(deps: AppDeps): App {
  const { config, db, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const box = createSecretBox(deps.encryptionKey);
  const { keys, teams, users } = createStores({ db, box, clock });
  const verifier = createTokenVerifier({ config, keys, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.jwksCooldownMs ? { jwksCooldownMs: deps.jwksCooldownMs } : {}) });
  const audit = createAuditLog(db.sql, logger, { clock, metrics });
  const upstreamNetwork = createUpstreamNetwork({ logger });
  const upstreamOAuth = createUpstreamOAuth({ db, box, publicUrl: config.publicUrl, logger, clock, fetchFor: (t) => upstreamNetwork.fetchFor(t) });
  const store = createSessionStore(db, { idleTtlMs: config.sessionIdleTtlMs, maxAgeMs: config.sessionMaxAgeMs }, clock);
  const bus = createClusterBus({ db, logger, clock });
  const streams = createResumableStreams({ db, bus, logger, ...(deps.resumeGraceMs !== undefined ? { graceMs: deps.resumeGraceMs } : {}) });
  const sessions = createSessionRuntime({
    bus,
    streams,
    db,
    store,
    logger,
    metrics,
    audit,
    cacheSize: config.sessionCacheSize,
    cacheTtlMs: config.sessionCacheTtlMs,
    clock,
    upstream: { keys, box, publicUrl: config.publicUrl, clock, network: upstreamNetwork, listings: createListingCache(), eras: createUpstreamEras(), oauth: upstreamOAuth, ...(deps.upstreamTimeouts ? { timeouts: deps.upstreamTimeouts } : {}) },
  });
  const rateCounters = createRateLimitCounters({ clock });
  // The embedded database serves one process, whose counters are already the whole truth.
  const rateSync = db.shared ? createRateLimitSync({ counters: rateCounters, sql: db.sql, logger, clock, intervalMs: config.rateLimits.syncIntervalMs }) : undefined;
  const limits = createEndpointLimits(rateCounters, config.rateLimits);
  const authenticate = limits.authenticate(bearerAuth(verifier, metrics));
  const drain = createRequestDrain();
  const services = createServices({ config, db, box, teams, users, sessions, audit, logger, clock, encryptionKey: deps.encryptionKey, upstreamRevoker: (id, teamId) => upstreamOAuth.revoker(id, teamId) });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  // Every request passes these, in this order (the MCP POST route too, through `mcp-fast-lane.ts`).
  const everyRequest: RequestHandler[] = [
    requestLog(logger),
    httpMetrics(metrics),
    drain.middleware,
    // Set from a list made once for requests without Origin (`fixed-headers.ts`); run as they are for the others.
    fixedHeaders([
      helmet({
        // Discovery documents and the MCP endpoint are fetched cross-origin by browser-based clients.
        crossOriginResourcePolicy: { policy: 'cross-origin' },
        contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      }),
      cors(corsOptions(config)),
    ]),
    hostAndOriginCheck(config),
  ];
  for (const m of everyRequest) app.use(m);
  // Per source address, only what comes without credentials (failed authentications are counted by `authenticate`).
  app.use(['/t/:team/mcp', '/mcp', '/t/:team/sessions', '/t/:team/connections'], limits.preauth);
  // First of the routers: the MCP endpoint is the hot path, and every router ahead of it is walked on each call.
  const mcp = mcpRouter({ config, teams, users, sessions, authenticate, limitCaller: limits.mcpCaller, bus, requestStates: createRequestStates(deps.encryptionKey), logger });
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
        db,
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
  app.use('/admin/v1', adminRouter({ config, services, verifier }));
  app.use('/console', consoleRouter({ config, services, logger, clock, encryptionKey: deps.encryptionKey }));
  app.use(jwksRouter(keys));
  app.use(protectedResourceRouter({ config, teams }));
  app.use(
    userSessionsRouter({
      listOwn: services.sessions.listOwn,
      pipeline: [resolveTeam(teams), authenticateForTeam(config, authenticate), identify(config, teams, users), limits.apiCaller],
    }),
  );
  app.use(
    upstreamOAuthRouter({
      oauth: upstreamOAuth,
      db,
      logger,
      secureCookies: config.publicUrl.startsWith('https:'),
      pipeline: [resolveTeam(teams), authenticateForTeam(config, authenticate), identify(config, teams, users), limits.apiCaller],
    }),
  );
  app.use((req, _res, next) => next(new NotFound('not_found', `No route for ${req.method} ${req.path}`)));
  // Each edge says a domain error its own way: JSON-RPC bodies on the MCP endpoints, the JSON API's elsewhere.
  const renderApiError = errorRenderer(logger);
  const renderMcpError = jsonRpcErrorRenderer(logger);
  const renderError: ErrorRequestHandler = (err, req, res, next) => (MCP_ENDPOINT.test(req.originalUrl) ? renderMcpError : renderApiError)(err, req, res, next);
  app.use(renderError);
  const listener = mcpFastLane(app, [...everyRequest, limits.preauth, ...mcp.postChain], renderMcpError);

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
    bus,
    streams,
    audit,
    services,
    rateLimits: { counters: rateCounters, sync: async () => rateSync?.sync() },
    drain,
    async start() {
      rateSync?.start();
      await bus.start();
      unlisten = await sessions.listen();
      sweeper = startSweeper({ db, store, runtime: sessions, logger, clock, events: streams.store, intervalMs: Math.min(60_000, Math.max(1_000, config.sessionIdleTtlMs / 4)) });
    },
    async close(deadline = Date.now() + 10_000) {
      sweeper?.stop();
      await unlisten?.();
      await bus.close();
      await untilDeadline(sessions.shutdown(), deadline);
      await untilDeadline(upstreamNetwork.close(), deadline);
      await audit.close(deadline);
      // Hand this process's last counts to the replicas that stay up.
      await untilDeadline(rateSync?.stop() ?? Promise.resolve(), deadline);
    },
  };
}
