/**
 * Test gateways on ephemeral ports: a real HTTP server whose PUBLIC_URL is its own address, so real SDK clients,
 * OAuth redirects and resource identifiers all line up.
 */
import type http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import type { Database } from '../../src/db/database.js';
import { createApp, type App, type AppDeps } from '../../src/http/app.js';
import { createHttpServer, useExpressPrototypes } from '../../src/http/mcp-fast-lane.js';
import { createLogger } from '../../src/observability/logger.js';
import { ensureDemoTeam } from '../../src/teams/bootstrap.js';
import { issueAccessToken } from '../../src/authserver/access-token.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';
import { teamResource } from '../../src/auth/protected-resource.js';
import { startTracing, stopTracing } from '../../src/observability/tracing.js';

/** Captures every log line, so tests can assert that no secret is ever logged. */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  text() {
    return this.lines.join('\n');
  }
}

export interface TestGateway {
  app: App;
  url: string;
  server: http.Server;
  logs: LogCapture;
  /** Stops listening and releases the app (not the database). */
  close(): Promise<void>;
}

export const TEST_ENCRYPTION_KEY = randomBytes(32);

export async function startTestGateway(
  db: Database,
  opts: {
    env?: Record<string, string>;
    clock?: () => number;
    encryptionKey?: Buffer;
    demo?: boolean;
    jwksCooldownMs?: number;
    /** Options of the authorization server (e.g. the test-only `allowPrivateCimdHosts`). */
    authServer?: AppDeps['authServer'];
    /** A fixed port (for a gateway whose URL another fixture must know before it starts). */
    port?: number;
    upstreamTimeouts?: AppDeps['upstreamTimeouts'];
    resumeGraceMs?: number;
  } = {},
): Promise<TestGateway> {
  const server = createHttpServer();
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({ PUBLIC_URL: url, PORT: String(port), LOG_LEVEL: 'debug', ...opts.env });
  const logs = new LogCapture();
  const logger = createLogger({ level: config.logLevel, destination: logs });
  if (opts.demo !== false) await ensureDemoTeam(db.prisma);
  // As main.ts does: tracing (OTEL_* in `env`) is on before the app is built.
  if (config.tracing) await startTracing(config.tracing, logger);
  const app = createApp({
    config,
    db,
    logger,
    encryptionKey: opts.encryptionKey ?? TEST_ENCRYPTION_KEY,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.jwksCooldownMs ? { jwksCooldownMs: opts.jwksCooldownMs } : {}),
    ...(opts.authServer ? { authServer: opts.authServer } : {}),
    ...(opts.upstreamTimeouts ? { upstreamTimeouts: opts.upstreamTimeouts } : {}),
    ...(opts.resumeGraceMs !== undefined ? { resumeGraceMs: opts.resumeGraceMs } : {}),
  });
  await app.keys.jwks(); // as main.ts does: the signing key exists before the first request
  await app.start();
  useExpressPrototypes(server, app.express);
  server.on('request', app.listener);
  return {
    app,
    url,
    server,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.close();
      if (config.tracing) await stopTracing();
    },
  };
}

/** An access token from the gateway's built-in issuer for a local user with this e-mail. */
export async function tokenFor(
  gw: TestGateway,
  opts: { email: string; team?: string; clientId?: string; ttlSeconds?: number; audience?: string },
): Promise<{ token: string; userId: string }> {
  const user = await gw.app.users.upsert(LOCAL_ISSUER, opts.email, opts.email);
  const token = await issueAccessToken(gw.app.keys, {
    issuer: gw.app.config.publicUrl,
    subject: user.id,
    audience: opts.audience ?? teamResource(gw.app.config.publicUrl, opts.team ?? 'demo'),
    clientId: opts.clientId ?? 'test-client',
    scope: 'mcp',
    email: opts.email,
    ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}),
  });
  return { token, userId: user.id };
}

/**
 * The usual per-file setup: a fresh database and a test gateway on it before the file's tests, both released
 * after. Read `t.gw` and `t.tdb` inside tests (they are set by `beforeAll`); a test that restarts the gateway
 * assigns the new one to `t.gw` so it is the one closed.
 */
export function useTestGateway(opts: Parameters<typeof startTestGateway>[1] = {}): { gw: TestGateway; tdb: TestDatabase } {
  const t = {} as { gw: TestGateway; tdb: TestDatabase };
  beforeAll(async () => {
    t.tdb = await createTestDatabase();
    t.gw = await startTestGateway(t.tdb.db, opts);
  });
  afterAll(async () => {
    await t.gw?.close();
    await t.tdb?.drop();
  });
  return t;
}
