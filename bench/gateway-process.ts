/**
 * The gateway under test, in its own process (so `/proc` tells its CPU apart from the load generator's): the app
 * built as `src/main.ts` builds it, on a fresh PostgreSQL database, with one remote tool server (auth `none`,
 * `prefix: false`) pointed at `BENCH_UPSTREAM_URL` and every rate limit off. Bench-only commands over IPC mint
 * tokens, report heap after full GCs, and start/stop V8's CPU profiler around a load phase.
 * Run with `--expose-gc`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../src/config/config.js';
import { createApp } from '../src/http/app.js';
import { createLogger } from '../src/observability/logger.js';
import { createTeam } from '../src/teams/team-admin.js';
import { addToolServer } from '../src/toolservers/tool-server-config.js';
import { issueAccessToken } from '../src/authserver/access-token.js';
import { LOCAL_ISSUER } from '../src/teams/users.js';
import { teamResource } from '../src/auth/protected-resource.js';
import { benchDatabase } from './harness.js';
import { serveBenchCommands } from './ipc.js';

const BENCH_TEAM = 'bench';

const upstreamUrl = process.env.BENCH_UPSTREAM_URL;
if (!upstreamUrl) throw new Error('BENCH_UPSTREAM_URL is required');

const { db, name: database, drop } = await benchDatabase();
const server = http.createServer();
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
server.keepAliveTimeout = 120_000;
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
});
const app = createApp({ config, db, logger: createLogger({ level: 'warn' }), encryptionKey: randomBytes(32) });
await app.keys.jwks();
await app.start();
server.on('request', app.listener);
const team = await createTeam(db.prisma, { slug: BENCH_TEAM, name: 'Bench' });
await addToolServer(db.prisma, app.box, team.id, { name: 'up', kind: 'remote', url: upstreamUrl, prefix: false, auth: { mode: 'none' } });

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
  { url, endpoint: `${url}/t/${BENCH_TEAM}/mcp`, database, gc: typeof globalThis.gc === 'function' },
  { tokens, heap, profileStart, profileStop },
  async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close();
    await drop();
  },
);
