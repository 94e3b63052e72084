/**
 * Wires the gateway: load config → listen (answering 503 "starting") → open db → migrate → createApp → serve →
 * graceful shutdown. The port is taken first so that a taken PORT fails in a second, not after the migrations.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackUrl, type Config } from './config/config.js';
import { databaseStartupError, dataDirStartupError, listenStartupError } from './config/startup-error.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrator.js';
import { createLogger, type Logger } from './observability/logger.js';
import { resolveEncryptionKey } from './security/secret-box.js';
import { createApp, type App } from './http/app.js';
import { createHttpServer, useExpressPrototypes } from './http/mcp-fast-lane.js';
import { ensureDemoTeam } from './teams/bootstrap.js';
import { teamResource } from './auth/protected-resource.js';
import { DEFAULT_TEAM } from './teams/team-directory.js';
import { startTracing, stopTracing } from './observability/tracing.js';
import { describeTracesUrl } from './config/tracing-config.js';

export interface RunningGateway {
  app: App;
  server: http.Server;
  url: string;
  /** The teams that existed once started (the first few by age, and how many in all), for the banner. */
  teams: TeamsAtStart;
  stop(reason?: string): Promise<void>;
}

export interface TeamsAtStart {
  readonly slugs: readonly string[];
  readonly total: number;
}

/** Failures a person can fix by changing a variable become one `StartupError` line; anything else is left as is. */
function explainOpenFailure(err: unknown, config: Config): unknown {
  return (config.databaseUrl ? databaseStartupError(err, config.databaseUrl) : dataDirStartupError(err, config.dataDir)) ?? err;
}

/**
 * Opens the database the configuration names (embedded PGlite when DATABASE_URL is unset, refused with
 * `EmbeddedDatabaseBusyError` while another process holds it) and migrates it. A database that cannot be reached
 * or used is a `StartupError` naming DATABASE_URL (or DATA_DIR).
 */
export async function openAndMigrate(config: Config, logger: Logger): Promise<Database> {
  let db: Database;
  try {
    db = await openDatabase({
      url: config.databaseUrl,
      dataDir: config.dataDir,
      onError: (err) => logger.warn({ err }, 'database connection error'),
    });
  } catch (err) {
    throw explainOpenFailure(err, config);
  }
  try {
    const applied = await migrate(db.sql, { log: (m) => logger.info(m) });
    if (applied.length) logger.info({ applied }, 'database migrated');
    return db;
  } catch (err) {
    await db.close();
    throw explainOpenFailure(err, config);
  }
}

/** Answers every request while the gateway is still migrating and loading: not yet, try again in a moment. */
function answerStarting(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"status":"starting"}');
}

/** Binds HOST:PORT before any other work, so a taken port is said at once; a bind failure is a `StartupError`. */
async function listen(config: Config): Promise<http.Server> {
  const server = createHttpServer(answerStarting);
  // SSE streams stay open; keep-alive sockets must not hold shutdown hostage.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenStartupError(err, config.host, config.port) ?? err));
    server.listen(config.port, config.host, () => resolve());
  });
  return server;
}

async function teamsAtStart(db: Database): Promise<TeamsAtStart> {
  const [rows, total] = await Promise.all([db.prisma.team.findMany({ select: { slug: true }, orderBy: { createdAt: 'asc' }, take: 3 }), db.prisma.team.count()]);
  return { slugs: rows.map((r) => r.slug), total };
}

export async function startGateway(config: Config, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  if (config.devLogin && !isLoopbackUrl(config.publicUrl)) {
    logger.warn('DEV_LOGIN is on for a public URL: anyone can log in as any e-mail address, including those in ADMIN_EMAILS');
  }
  const server = await listen(config);
  let db: Database | undefined;
  try {
    // Before the database (its queries are traced) and the app (whose MCP chain includes tracing only when it is on).
    if (config.tracing) await startTracing(config.tracing, logger);
    db = await openAndMigrate(config, logger);
    const encryptionKey = resolveEncryptionKey(config.encryptionKey, config.dataDir);
    if (config.demoTeam && (await ensureDemoTeam(db.prisma))) logger.info('created team "demo" with the built-in demo tool pack');
    const teams = await teamsAtStart(db);
    const app = createApp({ config, db, logger, encryptionKey });
    await app.keys.jwks(); // create or load the signing key before the first request
    await app.start();
    useExpressPrototypes(server, app.express);
    server.off('request', answerStarting);
    server.on('request', app.listener);

    const address = server.address() as AddressInfo;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
    db.advertise(url);

    let stopping: Promise<void> | undefined;
    const opened = db;
    const stop = (reason = 'stop') =>
      (stopping ??= shutDown({ app, server, db: opened, logger, graceMs: config.shutdownGraceMs, reason }).finally(() => (config.tracing ? stopTracing() : undefined)));
    return { app, server, url, teams, stop };
  } catch (err) {
    server.close();
    await db?.close();
    if (config.tracing) await stopTracing();
    throw err;
  }
}

/** Time kept back from the in-flight requests' share of the grace period for writing audit records and closing. */
const closeReserveMs = (graceMs: number) => Math.min(1_000, graceMs / 5);

/**
 * Graceful shutdown, over within `graceMs`: stop accepting connections and refuse new requests on open ones (a
 * balancer retries them elsewhere), end long-lived GET streams, let in-flight requests finish, and only then release
 * the sessions (their rows stay open, so clients resume on another replica), write the audit records and close the
 * database. Closing sessions first would cut the tool calls in flight.
 */
async function shutDown(p: { app: App; server: http.Server; db: Database; logger: Logger; graceMs: number; reason: string }): Promise<void> {
  const { app, server, db, logger } = p;
  const deadline = Date.now() + p.graceMs;
  logger.info({ reason: p.reason, inFlight: app.drain.inFlight, graceMs: p.graceMs }, 'shutting down: refusing new requests, finishing those in flight');
  app.drain.begin();
  server.close();
  server.closeIdleConnections();
  if (!(await app.drain.settled(deadline - closeReserveMs(p.graceMs)))) {
    logger.warn({ inFlight: app.drain.inFlight }, 'in-flight requests did not finish within SHUTDOWN_GRACE; closing their connections');
  }
  server.closeAllConnections(); // what is left: idle keep-alive sockets, streams still being set up, overdue requests
  await app.close(deadline);
  await Promise.race([db.close(), new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref())]);
  logger.info('stopped');
}

/** The MCP endpoints of the teams that exist (never one that does not), or how to create the first team. */
function describeTeams(publicUrl: string, teams: TeamsAtStart): string[] {
  if (teams.total === 0) return ['  No team yet: create one with `switchboard teams create <slug>` (or set DEMO_TEAM=true for the demo team)'];
  const lines = teams.slugs.map((slug) => `  MCP endpoint (team ${slug}): ${teamResource(publicUrl, slug)}${slug === DEFAULT_TEAM ? ` (also ${teamResource(publicUrl, undefined)})` : ''}`);
  if (teams.total > teams.slugs.length) lines.push(`  … and ${teams.total - teams.slugs.length} more team(s): ${publicUrl}/t/<slug>/mcp`);
  return lines;
}

/** Prints where to connect; what a person starting the gateway wants to see first. */
export function describeEndpoints(config: Config, gateway: Pick<RunningGateway, 'url' | 'teams'>): string {
  return [
    `Switchboard is listening on ${gateway.url} (public URL ${config.publicUrl})`,
    ...describeTeams(config.publicUrl, gateway.teams),
    `  Database: ${config.databaseUrl ? 'PostgreSQL' : `embedded (${config.dataDir})`} · auth: ${config.authMode}${config.devLogin ? ' with dev login' : ''}`,
    `  Health: ${config.publicUrl}/ready · metrics: ${config.publicUrl}/metrics`,
    ...(config.tracing ? [`  Tracing: OTLP ${config.tracing.protocol} to ${describeTracesUrl(config.tracing.url)} (sampler ${config.tracing.sampler})`] : []),
  ].join('\n');
}
