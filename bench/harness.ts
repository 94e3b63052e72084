/**
 * Bench harness: a fresh PostgreSQL database and an in-process gateway on an ephemeral port, plus small timing
 * helpers. Loops are bounded in count and time and talk to 127.0.0.1 only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config/config.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { createApp, type App } from '../src/http/app.js';
import { createLogger } from '../src/observability/logger.js';
import { ensureDemoTeam } from '../src/teams/bootstrap.js';
import { issueAccessToken } from '../src/authserver/access-token.js';
import { LOCAL_ISSUER } from '../src/teams/users.js';
import { teamResource } from '../src/auth/protected-resource.js';

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export async function benchDatabase(): Promise<{ db: Database; drop(): Promise<void> }> {
  const name = `sb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), poolSize: 10 });
  await migrate(db.sql);
  return {
    db,
    async drop() {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

export async function benchGateway(db: Database, env: Record<string, string> = {}): Promise<{ app: App; url: string; close(): Promise<void> }> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({ PUBLIC_URL: url, LOG_LEVEL: 'warn', USER_RATE_LIMIT: '0', ...env });
  await ensureDemoTeam(db.prisma);
  const app = createApp({ config, db, logger: createLogger({ level: 'warn' }), encryptionKey: randomBytes(32) });
  await app.keys.jwks();
  server.on('request', app.express);
  return {
    app,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.close();
    },
  };
}

export async function benchToken(app: App, email: string, team = 'demo'): Promise<string> {
  const user = await app.users.upsert(LOCAL_ISSUER, email, email);
  return issueAccessToken(app.keys, {
    issuer: app.config.publicUrl,
    subject: user.id,
    audience: teamResource(app.config.publicUrl, team),
    clientId: 'bench',
    scope: 'mcp',
    email,
  });
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `task` from `concurrency` workers for `ms` (and at most `maxOps`); returns per-op latencies in ms. */
export async function load(task: () => Promise<void>, opts: { concurrency: number; ms: number; maxOps: number }) {
  const latencies: number[] = [];
  const until = performance.now() + opts.ms;
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < until && started < opts.maxOps) {
        started++;
        const s = performance.now();
        await task();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
