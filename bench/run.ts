/**
 * `npm run bench`: the upstream, nginx in front of it, the gateway and the load generator, each its own process,
 * measured in one interleaved run with CPU per process from `/proc`. Prints Markdown for BENCHMARKS.md (see
 * `report.ts`); progress goes to stderr. Counts and durations come from `BENCH_*` variables (see `settings`).
 *
 * Order: tools/call rounds on direct / nginx / gateway (fresh) → profile → 1,000 more gateway sessions with a call
 * each → tools/call again → handshake rounds → idle sessions for heap → tools/call and a profile at the end.
 */
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { forkBenchChild, type BenchChild } from './ipc.js';
import { startNginx } from './nginx.js';
import { BENCH_DATABASE_URL, round } from './harness.js';
import { cpuBetween, loadAverage, machineBusy, snapshot } from './proc-cpu.js';
import { connectionsTo } from './proc-sockets.js';
import { summariseProfile } from './profile-summary.js';
import { renderReport, type DriveResult, type Results, type Row, type Target } from './report.js';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  sessions: num('BENCH_SESSIONS', 16),
  seconds: num('BENCH_SECONDS', 5),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 1),
  firstWarmupSeconds: num('BENCH_FIRST_WARMUP_SECONDS', 3),
  rounds: num('BENCH_ROUNDS', 2),
  handshakeSeconds: num('BENCH_HANDSHAKE_SECONDS', 4),
  handshakeUsers: num('BENCH_HANDSHAKE_USERS', 1000),
  manySessions: num('BENCH_MANY_SESSIONS', 1000),
  idleSessions: num('BENCH_IDLE_SESSIONS', 10_000),
  idleSeconds: num('BENCH_IDLE_SECONDS', 60),
  profileSeconds: num('BENCH_PROFILE_SECONDS', 4),
};

const log = (msg: string) => console.error(`bench ${new Date().toISOString().slice(11, 19)} ${msg}`);
const results: Results = { settings, started: new Date(), loadAtStart: loadAverage(), calls: [], handshakes: [], profiles: [], notes: [] };

log('starting upstream, nginx, gateway, load generator');
const upstream = await forkBenchChild<{ url: string }>('./upstream-process.ts');
const nginx = await startNginx(upstream.ready.url);
const gateway = await forkBenchChild<{ endpoint: string; database: string; gc: boolean }>('./gateway-process.ts', {
  // BENCH_CPU_PROF_DIR: also profile the gateway's whole life with `node --cpu-prof` (written when it exits).
  execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [])],
  env: { BENCH_UPSTREAM_URL: upstream.ready.url },
});
const loadgen = await forkBenchChild<{ pid: number }>('./loadgen-process.ts');
const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
await admin.connect();
const children: BenchChild<unknown>[] = [loadgen, gateway, upstream];
const urls: Record<Target, string> = { direct: upstream.ready.url, nginx: nginx.url, gateway: gateway.ready.endpoint };
const upstreamPort = Number(new URL(upstream.ready.url).port);
let gatewaySessions = 0;

/** The gateway's PostgreSQL backends: the database is the bench's own, so these are the gateway's connections. */
async function postgresPids(): Promise<number[]> {
  const rows = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [gateway.ready.database]);
  return rows.rows.map((r) => r.pid);
}

/** Runs one phase between two `/proc` snapshots of every bench process and divides CPU by completed operations. */
async function measure<T extends DriveResult>(label: string, target: Target, phase: Row['phase'], run: () => Promise<T>): Promise<Row & T> {
  const fixed = [loadgen.pid, nginx.pid, gateway.pid, upstream.pid];
  const pgBefore = await postgresPids();
  const a = snapshot([...fixed, ...pgBefore]);
  const result = await run();
  const pgPids = [...new Set([...pgBefore, ...(await postgresPids())])];
  const b = snapshot([...fixed, ...pgPids]);
  const per = (pids: number[]) => cpuBetween(a, b, pids) / Math.max(1, result.ops);
  log(`${label}: ${round(result.perSecond, 1)}/s p50 ${round(result.p50)} ms, errors ${result.errors}`);
  return {
    ...result,
    label,
    target,
    phase,
    cpuPerOp: { loadgen: per([loadgen.pid]), nginx: per([nginx.pid]), gateway: per([gateway.pid]), postgres: per(pgPids), upstream: per([upstream.pid]) },
    busy: machineBusy(a, b),
  };
}

const gatewayToken = (await gateway.call<string[]>('tokens', { prefix: 'calls', count: 1 }))[0]!;
const auth = (t: Target) => (t === 'gateway' ? gatewayToken : undefined);

async function prepare(t: Target) {
  const first = await loadgen.call<{ ops: number }>('prepareCalls', {
    key: t,
    url: urls[t],
    auth: auth(t),
    sessions: settings.sessions,
    warmupMs: settings.warmupSeconds * 1000,
    firstWarmupMs: settings.firstWarmupSeconds * 1000,
  });
  if (t === 'gateway' && gatewaySessions === 0) gatewaySessions = settings.sessions;
  return first;
}

async function calls(t: Target, phase: Row['phase'], label: string) {
  await prepare(t);
  results.calls.push(await measure(label, t, phase, () => loadgen.call<DriveResult>('runCalls', { key: t, ms: settings.seconds * 1000 })));
}

async function profile(name: string, what: 'calls' | 'handshakes' = 'calls', auths?: string[]) {
  if (settings.profileSeconds <= 0) return;
  log(`CPU profile of the gateway under ${what === 'calls' ? 'tools/call' : 'handshakes'} (${name})`);
  const file = path.join(os.tmpdir(), `switchboard-gateway-${what}-${name.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
  if (what === 'calls') await prepare('gateway');
  await gateway.call('profileStart');
  const ms = settings.profileSeconds * 1000;
  const profiled =
    what === 'calls'
      ? await loadgen.call<DriveResult>('runCalls', { key: 'gateway', ms })
      : await loadgen.call<DriveResult>('handshakes', { url: urls.gateway, auths, workers: settings.sessions, ms });
  await gateway.call('profileStop', { path: file });
  results.profiles.push({ name: what === 'calls' ? name : `handshakes, ${name}`, text: `Profiled ${profiled.ops} ${what} (${round(profiled.perSecond, 0)}/s under the profiler), saved to \`${file}\`.\n\n${summariseProfile(file)}` });
}

const upstreamConnections = () => connectionsTo(gateway.pid, upstreamPort);
let failure: unknown;

try {
  log(`minting ${settings.rounds} × ${settings.handshakeUsers} + 100 tokens for new users`);
  const handshakeTokens: string[][] = [];
  for (let r = 0; r < settings.rounds; r++) handshakeTokens.push(await gateway.call<string[]>('tokens', { prefix: `hs${r}`, count: settings.handshakeUsers }));
  const warmupTokens = await gateway.call<string[]>('tokens', { prefix: 'warm', count: 100 });
  const profileTokens = settings.profileSeconds > 0 ? await gateway.call<string[]>('tokens', { prefix: 'prof', count: settings.handshakeUsers }) : [];

  for (let r = 1; r <= settings.rounds; r++) {
    for (const t of ['direct', 'nginx', 'gateway'] as const) await calls(t, 'fresh', `${t} #${r}${t === 'gateway' ? ' (fresh)' : ''}`);
  }
  await profile('fresh');
  results.notes.push(`Gateway → upstream TCP connections after the fresh rounds: ${upstreamConnections()}.`);

  log(`opening ${settings.manySessions} more gateway sessions, one tools/call each`);
  const many = await loadgen.call<DriveResult>('openSessions', { url: urls.gateway, auth: gatewayToken, count: settings.manySessions, workers: settings.sessions, call: true, maxMs: 600_000 });
  gatewaySessions += many.ops + many.errors;
  results.many = many;
  results.notes.push(`Gateway → upstream TCP connections after ${gatewaySessions} sessions: ${upstreamConnections()}.`);
  for (const t of ['direct', 'nginx', 'gateway'] as const) await calls(t, 'after', `${t} after${t === 'gateway' ? ` ${gatewaySessions} sessions` : ''}`);

  log('handshake warm-up');
  for (const t of ['direct', 'nginx', 'gateway'] as const) {
    await loadgen.call('handshakes', { url: urls[t], auths: t === 'gateway' ? warmupTokens : undefined, workers: settings.sessions, ms: 1000 });
  }
  for (let r = 1; r <= settings.rounds; r++) {
    for (const t of ['direct', 'nginx', 'gateway'] as const) {
      const auths = t === 'gateway' ? handshakeTokens[r - 1] : undefined;
      results.handshakes.push(
        await measure(`${t} #${r}`, t, 'fresh', () => loadgen.call<DriveResult & { exhausted: boolean }>('handshakes', { url: urls[t], auths, workers: settings.sessions, ms: settings.handshakeSeconds * 1000 })),
      );
    }
  }
  gatewaySessions += 100 + results.handshakes.filter((r) => r.target === 'gateway').reduce((n, r) => n + r.ops + r.errors, 0);
  await profile('new users', 'handshakes', profileTokens);

  log(`heap: opening up to ${settings.idleSessions} idle gateway sessions (≤ ${settings.idleSeconds} s)`);
  const before = await gateway.call<{ heapUsed: number; sessions: number }>('heap');
  const opened = await loadgen.call<DriveResult>('openSessions', { url: urls.gateway, auth: gatewayToken, count: settings.idleSessions, workers: settings.sessions, call: false, maxMs: settings.idleSeconds * 1000 });
  const after = await gateway.call<{ heapUsed: number; sessions: number }>('heap');
  gatewaySessions += opened.ops + opened.errors;
  results.heap = { before, after, opened };
  results.notes.push(`Gateway → upstream TCP connections after ${gatewaySessions} sessions: ${upstreamConnections()}.`);

  for (const t of ['nginx', 'gateway'] as const) await calls(t, 'end', `${t} at the end${t === 'gateway' ? ` (${gatewaySessions} sessions)` : ''}`);
  await profile(`after ${gatewaySessions} sessions`);
} catch (err) {
  failure = err;
} finally {
  await Promise.allSettled(children.map((c) => c.stop()));
  await nginx.stop();
  await admin.end();
}

console.log(renderReport(results, loadAverage()));
if (failure) {
  // What was measured before the failure is still printed above.
  console.error('bench: a phase failed', failure);
  process.exit(1);
}
process.exit(0);
