/**
 * The gateway under test, in its own process (so `/proc` tells its CPU apart from the load generator's): the app
 * built as `src/main.ts` builds it, on a fresh PostgreSQL database, with one remote tool server (auth `none`,
 * `prefix: false`) pointed at `BENCH_UPSTREAM_URL` and every rate limit off; with `BENCH_TRACING` on, OpenTelemetry
 * tracing exporting to the runner's sink at `BENCH_OTLP_URL` (`otlp-sink.ts`). Bench-only commands over IPC mint
 * tokens, report heap after full GCs, and start/stop V8's CPU profiler around a load phase.
 * Run with `--expose-gc`.
 *
 * Replicas (`BENCH_REPLICAS`): the first process makes the database, the team and its tool server; the others get
 * `BENCH_JOIN_DATABASE` (its name) and join it. All of them get the balancer's URL as `BENCH_PUBLIC_URL` (tokens
 * name it as issuer and audience) and one `BENCH_ENCRYPTION_KEY` (the signing keys and tool-server secrets in the
 * database are sealed with it).
 */
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { benchDatabase, joinBenchDatabase } from './harness.js';
import { serveBenchCommands } from './ipc.js';
import { benchTracingEnv } from './otlp-sink.js';
import { appModule } from './gateway-code.js';
import type * as ConfigModule from '../src/config/config.js';
import type * as AppModule from '../src/http/app.js';
import type * as McpFastLaneModule from '../src/http/mcp-fast-lane.js';
import type * as LoggerModule from '../src/observability/logger.js';
import type * as TeamAdminModule from '../src/teams/team-admin.js';
import type * as ToolServerConfigModule from '../src/toolservers/tool-server-config.js';
import type * as AccessTokenModule from '../src/authserver/access-token.js';
import type * as UsersModule from '../src/teams/users.js';
import type * as ProtectedResourceModule from '../src/auth/protected-resource.js';
import type * as TracingModule from '../src/observability/tracing.js';

// The app, from the code this process runs (`gateway-code.ts`: `dist/` as `npm start` runs it, or `src/`).
const { loadConfig } = await appModule<typeof ConfigModule>('config/config');
const { createApp } = await appModule<typeof AppModule>('http/app');
const { createHttpServer, useExpressPrototypes } = await appModule<typeof McpFastLaneModule>('http/mcp-fast-lane');
const { createLogger } = await appModule<typeof LoggerModule>('observability/logger');
const { createTeam } = await appModule<typeof TeamAdminModule>('teams/team-admin');
const { addToolServer } = await appModule<typeof ToolServerConfigModule>('toolservers/tool-server-config');
const { issueAccessToken } = await appModule<typeof AccessTokenModule>('authserver/access-token');
const { LOCAL_ISSUER } = await appModule<typeof UsersModule>('teams/users');
const { teamResource } = await appModule<typeof ProtectedResourceModule>('auth/protected-resource');
const { startTracing, stopTracing } = await appModule<typeof TracingModule>('observability/tracing');

const BENCH_TEAM = 'bench';

const upstreamUrl = process.env.BENCH_UPSTREAM_URL;
if (!upstreamUrl) throw new Error('BENCH_UPSTREAM_URL is required');

const joining = process.env.BENCH_JOIN_DATABASE;
const { db, name: database, drop } = joining ? { db: await joinBenchDatabase(joining), name: joining, drop: undefined } : await benchDatabase();
const encryptionKey = process.env.BENCH_ENCRYPTION_KEY ? Buffer.from(process.env.BENCH_ENCRYPTION_KEY, 'hex') : randomBytes(32);
if (encryptionKey.length !== 32) throw new Error('BENCH_ENCRYPTION_KEY must be 32 bytes in hex');
const server = createHttpServer();
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
server.keepAliveTimeout = 120_000;
const own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
// What clients reach: this process, or the balancer in front of the replicas.
const url = process.env.BENCH_PUBLIC_URL ?? own;
const config = loadConfig({
  PUBLIC_URL: url,
  LOG_LEVEL: 'warn',
  USER_RATE_LIMIT: '0',
  CLIENT_RATE_LIMIT: '0',
  PREAUTH_IP_RATE_LIMIT: '0',
  // Every session the bench opens stays in memory, so heap per idle session is measured, not eviction.
  SESSION_CACHE_SIZE: '1000000',
  SESSION_CACHE_TTL: '1h',
  SESSION_IDLE_TTL: '1h',
  ...benchTracingEnv(process.env.BENCH_TRACING, process.env.BENCH_OTLP_URL, process.env.BENCH_TRACING_RATIO, process.env.BENCH_TRACING_PROTOCOL),
});
const logger = createLogger({ level: 'warn' });
// As main.ts: tracing starts before the app is built (the MCP chain has its tracing steps only when it is on).
if (config.tracing) await startTracing(config.tracing, logger);
const app = createApp({ config, db, logger, encryptionKey });
await app.keys.jwks();
await app.start();
useExpressPrototypes(server, app.express);
server.on('request', app.listener);
if (!joining) {
  const team = await createTeam(db.prisma, { slug: BENCH_TEAM, name: 'Bench' });
  await addToolServer(db.prisma, app.box, team.id, { name: 'up', kind: 'remote', url: upstreamUrl, prefix: false, auth: { mode: 'none' } });
}

/** Tokens for `count` users that exist (as after an OAuth login) but have never reached the MCP endpoint. */
async function tokens({ prefix, count }: { prefix: string; count: number }): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 16) {
    const batch = Array.from({ length: Math.min(16, count - i) }, async (_, j) => {
      const email = `${prefix}-${i + j}@bench.example`;
      const user = await app.users.upsert(LOCAL_ISSUER, email, email);
      return issueAccessToken(app.keys, { issuer: url, subject: user.id, audience: teamResource(url, BENCH_TEAM), clientId: 'bench', scope: 'mcp', email });
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Heap after sockets closed by the load generator had a moment to go and a few full collections. */
async function heap(): Promise<{ heapUsed: number; rss: number; sessions: number }> {
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, sessions: app.sessions.size };
}

const profiler = new Session();
async function profileStart(): Promise<void> {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
async function profileStop({ path }: { path: string }): Promise<string> {
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  await writeFile(path, JSON.stringify(profile));
  return path;
}

serveBenchCommands(
  { url, endpoint: `${own}/t/${BENCH_TEAM}/mcp`, database, gc: typeof globalThis.gc === 'function' },
  { tokens, heap, profileStart, profileStop },
  async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close();
    await stopTracing();
    // The first replica drops the database (its replicas have stopped by then); the others only disconnect.
    await (drop ? drop() : db.close());
  },
);
