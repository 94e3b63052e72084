/**
 * Wires the gateway: load config → open db → migrate → createApp → listen → graceful shutdown.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackUrl, type Config } from './config/config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrator.js';
import { createLogger, type Logger } from './observability/logger.js';
import { resolveEncryptionKey } from './security/secret-box.js';
import { createApp, type App } from './http/app.js';
import { ensureDemoTeam } from './teams/bootstrap.js';
import { teamResource } from './auth/protected-resource.js';

export interface RunningGateway {
  app: App;
  server: http.Server;
  url: string;
  stop(reason?: string): Promise<void>;
}

/**
 * Opens the database the configuration names (embedded PGlite when DATABASE_URL is unset, refused with
 * `EmbeddedDatabaseBusyError` while another process holds it) and migrates it.
 */
export async function openAndMigrate(config: Config, logger: Logger): Promise<Database> {
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    onError: (err) => logger.warn({ err }, 'database connection error'),
  });
  try {
    const applied = await migrate(db.sql, { log: (m) => logger.info(m) });
    if (applied.length) logger.info({ applied }, 'database migrated');
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

export async function startGateway(config: Config, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  if (config.devLogin && !isLoopbackUrl(config.publicUrl)) {
    logger.warn('DEV_LOGIN is on for a public URL: anyone can log in as any e-mail address, including those in ADMIN_EMAILS');
  }
  const db = await openAndMigrate(config, logger);
  const encryptionKey = resolveEncryptionKey(config.encryptionKey, config.dataDir);
  if (await ensureDemoTeam(db.prisma)) logger.info('created team "demo" with the built-in demo tool pack');
  const app = createApp({ config, db, logger, encryptionKey });
  await app.keys.jwks(); // create or load the signing key before the first request
  await app.start();

  const server = http.createServer(app.express);
  // SSE streams stay open; keep-alive sockets must not hold shutdown hostage.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  db.advertise(url);

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop') => (stopping ??= shutDown({ app, server, db, logger, graceMs: config.shutdownGraceMs, reason }));
  return { app, server, url, stop };
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

/** Prints where to connect; what a person starting the gateway wants to see first. */
export function describeEndpoints(config: Config, listenUrl: string): string {
  return [
    `Switchboard is listening on ${listenUrl} (public URL ${config.publicUrl})`,
    `  MCP endpoint (team demo): ${teamResource(config.publicUrl, 'demo')}`,
    `  Database: ${config.databaseUrl ? 'PostgreSQL' : `embedded (${config.dataDir})`} · auth: ${config.authMode}${config.devLogin ? ' with dev login' : ''}`,
    `  Health: ${config.publicUrl}/ready · metrics: ${config.publicUrl}/metrics`,
  ].join('\n');
}
