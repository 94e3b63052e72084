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

export async function startGateway(config: Config, opts: { logger?: Logger; drainMs?: number } = {}): Promise<RunningGateway> {
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
  const stop = (reason = 'stop') =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: no new connections, finishing in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await app.close(); // ends open streams; sessions stay resumable on any replica
      const drained = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.drainMs ?? 10_000).unref())]);
      if (!drained) {
        logger.warn('in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
      }
      await app.audit.flush(); // what the requests finished during the drain recorded
      await db.close(); // releases the embedded database's lock
      logger.info('stopped');
    })());
  return { app, server, url, stop };
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
