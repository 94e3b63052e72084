/**
 * The bench's own processes, for real (`bench/ipc.ts` forks them as `npm run bench` does): the upstream, two gateway
 * processes on one PostgreSQL database — the second joining the first's (`BENCH_JOIN_DATABASE`), both with the
 * balancer's URL and one encryption key — behind nginx as the round-robin balancer, and the load generator driving
 * `tools/call` and the events phase through it. Then `npm run bench:cluster-db` with tiny counts. Needs
 * TEST_DATABASE_URL, and nginx for the balancer (the bench installs it; this test does not).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkBenchChild, type BenchChild } from '../../bench/ipc.js';
import { freePort, startBalancer, type Nginx } from '../../bench/nginx.js';
import { TEST_DATABASE_URL } from '../helpers/database.js';

const nginxFound = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim() !== '' || existsSync('/usr/sbin/nginx');
const root = path.resolve(import.meta.dirname, '../..');

type GatewayReady = { endpoint: string; database: string };
type Drive = { ops: number; errors: number; errorSamples: string[] };

describe.skipIf(!TEST_DATABASE_URL || !nginxFound)('bench processes: gateway replicas behind nginx, and the events phase (needs TEST_DATABASE_URL and nginx)', () => {
  const children: BenchChild<unknown>[] = [];
  let upstream: BenchChild<{ url: string }>;
  let first: BenchChild<GatewayReady>;
  let second: BenchChild<GatewayReady>;
  let loadgen: BenchChild<{ pid: number }>;
  let balancer: Nginx;
  let token: string;

  beforeAll(async () => {
    const env = { BENCH_DATABASE_URL: TEST_DATABASE_URL!, BENCH_TRACING: 'off' };
    upstream = await forkBenchChild('./upstream-process.ts', { env: { ...env, BENCH_UPSTREAM_ERA: 'legacy' } });
    children.push(upstream);
    const port = await freePort();
    const gatewayEnv = { ...env, BENCH_UPSTREAM_URL: upstream.ready.url, BENCH_ENCRYPTION_KEY: randomBytes(32).toString('hex'), BENCH_PUBLIC_URL: `http://127.0.0.1:${port}` };
    first = await forkBenchChild('./gateway-process.ts', { env: gatewayEnv });
    second = await forkBenchChild('./gateway-process.ts', { env: { ...gatewayEnv, BENCH_JOIN_DATABASE: first.ready.database } });
    children.unshift(first);
    children.unshift(second);
    balancer = await startBalancer([first.ready.endpoint, second.ready.endpoint], port);
    loadgen = await forkBenchChild('./loadgen-process.ts', { env });
    children.unshift(loadgen);
    token = (await first.call<string[]>('tokens', { prefix: 'test', count: 1 }))[0]!;
  }, 180_000);

  afterAll(async () => {
    // The joining replica and the load generator first: the first replica drops the database.
    for (const c of children) await c.stop().catch(() => undefined);
    await balancer?.stop();
  }, 60_000);

  it('serves tools/call through the balancer from both replicas, which share one database', async () => {
    expect(second.ready.database).toBe(first.ready.database);
    expect(balancer.url).toMatch(/\/t\/bench\/mcp$/);
    await loadgen.call('prepareCalls', { key: 'gw', era: 'legacy', url: balancer.url, auth: token, sessions: 4, warmupMs: 0, firstWarmupMs: 0 });
    const run = await loadgen.call<Drive>('runCalls', { key: 'gw', ms: 1500 });
    expect(run.errorSamples).toEqual([]);
    expect(run.ops).toBeGreaterThan(0);
    // Round robin without affinity: both processes hold sessions they were sent requests for.
    const held = await Promise.all([first, second].map((g) => g.call<{ sessions: number }>('heap')));
    expect(held.map((h) => h.sessions > 0)).toEqual([true, true]);
  }, 60_000);

  it('the events phase: every stream dropped after its first event is resumed whole, from the event store', async () => {
    const release = new URL('/release', upstream.ready.url).href;
    await loadgen.call('prepareStreams', { key: 'ev', url: balancer.url, auth: token, sessions: 3, count: 6, release, warmupMs: 0 });
    const run = await loadgen.call<Drive & { events: number }>('runStreams', { key: 'ev', count: 6, release, ms: 1500 });
    expect(run.errorSamples).toEqual([]);
    expect(run.ops).toBeGreaterThan(0);
    // The first event on the dropped stream, five more and the answer on the resumed one.
    expect(run.events).toBe(run.ops * 7);
    const url = new URL(TEST_DATABASE_URL!);
    url.pathname = `/${first.ready.database}`;
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    try {
      const { rows } = await db.query<{ streams: number; events: number }>('SELECT count(DISTINCT stream_id)::int AS streams, count(*)::int AS events FROM events');
      // Each call's events from the first on were stored (the first kept in memory, saved when the stream was cut).
      expect(rows[0]!.streams).toBeGreaterThanOrEqual(run.ops);
      expect(rows[0]!.events).toBeGreaterThanOrEqual(run.ops * 7);
    } finally {
      await db.end();
    }
  }, 60_000);
});

describe.skipIf(!TEST_DATABASE_URL)('npm run bench:cluster-db (needs TEST_DATABASE_URL)', () => {
  it('measures event-store writes and the NOTIFY ceiling on a fresh database, and drops it', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/cluster-db.ts'], {
      cwd: root,
      env: { ...process.env, BENCH_DATABASE_URL: TEST_DATABASE_URL!, BENCH_DB_EVENTS: '40', BENCH_DB_STREAMS: '2', BENCH_DB_BATCHES: '1,5', BENCH_DB_EVENT_BYTES: '200', BENCH_DB_MESSAGES: '30', BENCH_DB_IN_FLIGHT: '3', BENCH_DB_PAYLOADS: '100' },
      timeout: 120_000,
    });
    expect(stdout).toContain('### Event-store writes');
    expect(stdout).toMatch(/^\| 200 \| 1 \| 40 \| \d+ \|/m);
    expect(stdout).toMatch(/^\| 200 \| 5 \| 40 \| \d+ \|/m);
    expect(stdout).toContain('### NOTIFY ceiling');
    expect(stdout).toMatch(/^\| 100 \| 1 \| \d+ \| \d+ \| 30 of 30 \|/m);
    expect(stdout).toMatch(/^\| 100 \| 3 \| \d+ \| \d+ \| 30 of 30 \|/m);
    const name = /Database (sb_bench_[0-9a-f]{8})/.exec(stdout)?.[1];
    expect(name).toBeDefined();
    expect(await databases()).not.toContain(name);
  }, 150_000);
});

async function databases(): Promise<string[]> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL! });
  await admin.connect();
  try {
    return (await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'sb_bench_%' ORDER BY 1")).rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
}
