/**
 * `npm run bench`: the upstream, nginx in front of it, the gateway and the load generator, each its own process,
 * measured in one interleaved run with CPU per process from `/proc`. Prints Markdown for BENCHMARKS.md (see
 * `report.ts`); progress goes to stderr. Counts and durations come from `BENCH_*` variables (see `settings`).
 *
 * Order: tools/call rounds on direct / nginx / every gateway target (fresh) → profile → 1,000 more gateway sessions
 * with a call each → tools/call again → handshake rounds → idle sessions for heap → tools/call and a profile at the
 * end → resumable response streams (events). `BENCH_PHASES` picks which of the phases after the fresh rounds run.
 *
 * Gateway targets (`settings.ts`): `gateway` — `BENCH_REPLICAS` processes on one database, behind an nginx balancer
 * when more than one — and beside it, in the same fresh rounds, one per other replica count and one per
 * `BENCH_TRACING` mode (spans to an OTLP sink in this process). Every phase but the fresh rounds and the events
 * runs on `gateway` alone.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { forkBenchChild, type BenchChild } from './ipc.js';
import { freePort, startBalancer, startNginx, type Nginx } from './nginx.js';
import { BENCH_DATABASE_URL, round } from './harness.js';
import { asyncContextFlags } from '../bin/node-flags.mjs';
import { cpuBetween, loadAverage, machineBusy, snapshot } from './proc-cpu.js';
import { connectionsTo } from './proc-sockets.js';
import { summariseProfile } from './profile-summary.js';
import { renderReport, type DriveResult, type Results, type Row, type Target } from './report.js';
import { startOtlpSink, type OtlpSink } from './otlp-sink.js';
import { benchEra, type BenchEra } from './mcp-requests.js';
import { gatewayCode } from './gateway-code.js';
import { benchNumber, benchPhases, benchReplicas, benchTracingModes, gatewayTargets, type GatewayTargetSpec, type Phase } from './settings.js';

const num = (name: string, fallback: number) => benchNumber(name, process.env[name], fallback);
const settings = {
  sessions: num('BENCH_SESSIONS', 16),
  seconds: num('BENCH_SECONDS', 5),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 1),
  firstWarmupSeconds: num('BENCH_FIRST_WARMUP_SECONDS', 3),
  // Three: the ratios are medians over the rounds, and with two a median is their mean — one round in which the
  // whole machine ran at half speed (every process's CPU per call doubled, load generator and upstream included;
  // seen on 2026-12-02) decided the run.
  rounds: num('BENCH_ROUNDS', 3),
  handshakeSeconds: num('BENCH_HANDSHAKE_SECONDS', 4),
  // Enough new users for a whole phase at the gateway's rate (~800/s here): with 1,000 a gateway round ran ~1.2 s of
  // its 4, so its rate was a start-up-heavy slice while the direct and nginx rounds ran the full time.
  handshakeUsers: num('BENCH_HANDSHAKE_USERS', 4000),
  manySessions: num('BENCH_MANY_SESSIONS', 1000),
  idleSessions: num('BENCH_IDLE_SESSIONS', 10_000),
  idleSeconds: num('BENCH_IDLE_SECONDS', 60),
  profileSeconds: num('BENCH_PROFILE_SECONDS', 4),
  streamEvents: benchNumber('BENCH_STREAM_EVENTS', process.env.BENCH_STREAM_EVENTS, 20, 1),
};
const phases = benchPhases(process.env.BENCH_PHASES);
// BENCH_GATEWAY_CODE: the gateway runs `dist/` (compiled, as `npm start` runs it; the default) or `src/` (`gateway-code.ts`).
const code = gatewayCode(process.env.BENCH_GATEWAY_CODE ?? 'dist');
const on = (phase: Phase) => phases.has(phase);
// BENCH_BASELINE: a directory holding another checkout (with its node_modules), whose gateway is measured beside this one.
const baseline = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
if (baseline && !existsSync(path.join(baseline, 'bench/gateway-process.ts'))) throw new Error(`BENCH_BASELINE: ${baseline} holds no checkout of this project (no bench/gateway-process.ts)`);
const specs = gatewayTargets(benchReplicas(process.env.BENCH_REPLICAS), benchTracingModes(process.env.BENCH_TRACING), baseline);

// BENCH_CLIENT_ERA: the protocol era the load generator speaks to the gateway; BENCH_UPSTREAM_ERA: the upstream's
// (direct and nginx requests reach the upstream, so they speak its era). Both legacy (2025-11-25) unless modern.
const eras = { client: benchEra('BENCH_CLIENT_ERA', process.env.BENCH_CLIENT_ERA), upstream: benchEra('BENCH_UPSTREAM_ERA', process.env.BENCH_UPSTREAM_ERA) };

const log = (msg: string) => console.error(`bench ${new Date().toISOString().slice(11, 19)} ${msg}`);
const results: Results = { settings, started: new Date(), loadAtStart: loadAverage(), calls: [], handshakes: [], events: [], targets: specs, profiles: [], notes: [] };

log(`starting upstream, nginx, ${specs.map((g) => g.label).join(', ')}, load generator`);
if (code === 'dist') {
  // Built exactly as `npm start` builds it: `bin/switchboard.mjs` compiles dist/ when it is missing or older than
  // the sources (under its build lock), then answers `--help`.
  log('gateway code: dist/ (building it first if the sources are newer)');
  execFileSync(process.execPath, [fileURLToPath(new URL('../bin/switchboard.mjs', import.meta.url)), '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (baseline) execFileSync(process.execPath, [path.join(baseline, 'bin/switchboard.mjs'), '--help'], { cwd: baseline, stdio: ['ignore', 'ignore', 'inherit'] });
}
const upstream = await forkBenchChild<{ url: string }>('./upstream-process.ts', { env: { BENCH_UPSTREAM_ERA: eras.upstream } });
const nginx = await startNginx(upstream.ready.url);

type GatewayReady = { endpoint: string; database: string; gc: boolean };
interface GatewayTarget extends GatewayTargetSpec {
  processes: BenchChild<GatewayReady>[];
  /** In front of the processes when there are several (round robin, no affinity). */
  balancer: Nginx | undefined;
  /** Its OTLP sink, when traced. */
  sink: OtlpSink | undefined;
  /** Where clients send requests: the balancer, or the one process. */
  url: string;
  database: string;
  token: string;
}

/**
 * A gateway target: its processes on one fresh database (the first makes it; the others join), with one encryption
 * key and — behind a balancer — the balancer's URL as their public URL (tokens name it).
 */
async function startGatewayTarget(spec: GatewayTargetSpec): Promise<GatewayTarget> {
  const publicPort = spec.replicas > 1 ? await freePort() : 0;
  const sink = spec.tracing ? await startOtlpSink() : undefined;
  const env: Record<string, string> = {
    BENCH_GATEWAY_CODE: code,
    BENCH_UPSTREAM_URL: upstream.ready.url,
    BENCH_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    // Set for every process: the runner's own BENCH_TRACING lists modes, a gateway runs one (or none).
    BENCH_TRACING: spec.tracing ?? 'off',
    ...(sink ? { BENCH_OTLP_URL: sink.url } : {}),
    ...(publicPort ? { BENCH_PUBLIC_URL: `http://127.0.0.1:${publicPort}` } : {}),
  };
  // BENCH_CPU_PROF_DIR: also profile the gateway's whole life with `node --cpu-prof` (written when it exits).
  // As `npm start` runs it (`bin/node-flags.mjs`): async context frames on Node 22/23.
  // BENCH_PERF_MAP=1: the gateway writes /tmp/perf-<pid>.map, so `perf record` names its JavaScript functions.
  const execArgv = [
    '--expose-gc',
    ...asyncContextFlags(),
    ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : []),
    ...(process.env.BENCH_PERF_MAP === '1' ? ['--perf-basic-prof-only-functions'] : []),
    ...(process.env.BENCH_GATEWAY_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
  const file = spec.root ? path.join(spec.root, 'bench/gateway-process.ts') : './gateway-process.ts';
  const first = await forkBenchChild<GatewayReady>(file, { execArgv, env });
  const processes = [first];
  for (let i = 1; i < spec.replicas; i++) processes.push(await forkBenchChild<GatewayReady>(file, { execArgv, env: { ...env, BENCH_JOIN_DATABASE: first.ready.database } }));
  const balancer = spec.replicas > 1 ? await startBalancer(processes.map((p) => p.ready.endpoint), publicPort) : undefined;
  const token = (await first.call<string[]>('tokens', { prefix: 'calls', count: 1 }))[0]!;
  return { ...spec, processes, balancer, sink, url: balancer?.url ?? first.ready.endpoint, database: first.ready.database, token };
}

const gateways: GatewayTarget[] = [];
for (const spec of specs) gateways.push(await startGatewayTarget(spec));
const primary = gateways[0]!;
const gateway = primary.processes[0]!;
const loadgen = await forkBenchChild<{ pid: number }>('./loadgen-process.ts');
const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
await admin.connect();
const byKey = new Map(gateways.map((g) => [g.key, g]));
const gatewayOf = (t: Target) => byKey.get(t);
const urls = (t: Target): string => (t === 'direct' ? upstream.ready.url : t === 'nginx' ? nginx.url : gatewayOf(t)!.url);
const upstreamPort = Number(new URL(upstream.ready.url).port);
let gatewaySessions = 0;

/** A gateway target's PostgreSQL backends: the database is its own, so these are its processes' connections. */
async function postgresPids(database: string): Promise<number[]> {
  const rows = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  return rows.rows.map((r) => r.pid);
}

/**
 * Runs one phase between two `/proc` snapshots of every bench process and divides CPU by completed operations.
 * Gateway and PostgreSQL columns: the target's gateway processes and backends (`gateway`'s for direct and nginx
 * rows); nginx: the balancer in front of a target's replicas, else the baseline nginx.
 */
async function measure<T extends DriveResult>(label: string, target: Target, phase: Row['phase'], run: () => Promise<T>): Promise<Row & T> {
  const g = gatewayOf(target) ?? primary;
  const gatewayPids = g.processes.map((p) => p.pid);
  const nginxPids = g.balancer && target === g.key ? [g.balancer.pid] : [nginx.pid];
  const fixed = [loadgen.pid, upstream.pid, ...nginxPids, ...gatewayPids];
  const pgBefore = await postgresPids(g.database);
  const a = snapshot([...fixed, ...pgBefore]);
  const result = await run();
  const pgPids = [...new Set([...pgBefore, ...(await postgresPids(g.database))])];
  const b = snapshot([...fixed, ...pgPids]);
  const per = (pids: number[]) => cpuBetween(a, b, pids) / Math.max(1, result.ops);
  log(`${label}: ${round(result.perSecond, 1)}/s p50 ${round(result.p50)} ms, errors ${result.errors}`);
  return {
    ...result,
    label,
    target,
    phase,
    cpuPerOp: { loadgen: per([loadgen.pid]), nginx: per(nginxPids), gateway: per(gatewayPids), postgres: per(pgPids), upstream: per([upstream.pid]) },
    busy: machineBusy(a, b),
  };
}

const gatewayToken = primary.token;
const auth = (t: Target) => gatewayOf(t)?.token;
const eraOf = (t: Target): BenchEra => (gatewayOf(t) ? eras.client : eras.upstream);
const labelOf = (t: Target) => gatewayOf(t)?.label ?? t;

async function prepare(t: Target) {
  const first = await loadgen.call<{ ops: number }>('prepareCalls', {
    key: t,
    era: eraOf(t),
    url: urls(t),
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
  if (settings.profileSeconds <= 0 || !on('profile')) return;
  log(`CPU profile of the gateway under ${what === 'calls' ? 'tools/call' : 'handshakes'} (${name})`);
  const file = path.join(os.tmpdir(), `switchboard-gateway-${what}-${name.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
  if (what === 'calls') await prepare('gateway');
  await gateway.call('profileStart');
  const ms = settings.profileSeconds * 1000;
  const profiled =
    what === 'calls'
      ? await loadgen.call<DriveResult>('runCalls', { key: 'gateway', ms })
      : await loadgen.call<DriveResult>('handshakes', { era: eras.client, url: primary.url, auths, workers: settings.sessions, ms });
  await gateway.call('profileStop', { path: file });
  const which = primary.replicas > 1 ? ` (the first of ${primary.replicas} replicas; it served about 1/${primary.replicas} of them)` : '';
  results.profiles.push({ name: what === 'calls' ? name : `handshakes, ${name}`, text: `Profiled ${profiled.ops} ${what}${which} (${round(profiled.perSecond, 0)}/s under the profiler), saved to \`${file}\`.\n\n${summariseProfile(file)}` });
}

const upstreamConnections = () => primary.processes.reduce((n, p) => n + connectionsTo(p.pid, upstreamPort), 0);
/** The primary target's heap after full GCs and sessions in memory, summed over its processes. */
async function heap(): Promise<{ heapUsed: number; sessions: number }> {
  const each = await Promise.all(primary.processes.map((p) => p.call<{ heapUsed: number; sessions: number }>('heap')));
  return { heapUsed: each.reduce((n, h) => n + h.heapUsed, 0), sessions: each.reduce((n, h) => n + h.sessions, 0) };
}
/** Calls whose response stream is dropped after its first event and resumed from the event store. */
async function events(g: GatewayTarget, label: string, warmupMs: number): Promise<void> {
  const args = { key: g.key, count: settings.streamEvents, release: new URL('/release', upstream.ready.url).href };
  await loadgen.call('prepareStreams', { ...args, url: g.url, auth: g.token, sessions: settings.sessions, warmupMs });
  results.events.push(await measure(label, g.key, 'events', () => loadgen.call<DriveResult & { events: number }>('runStreams', { ...args, ms: settings.seconds * 1000 })));
}
const allTargets: Target[] = ['direct', 'nginx', ...gateways.map((g) => g.key)];
let failure: unknown;

try {
  const handshakeTokens: string[][] = [];
  if (on('handshakes')) {
    log(`minting ${settings.rounds} × ${settings.handshakeUsers} + 100 tokens for new users`);
    for (let r = 0; r < settings.rounds; r++) handshakeTokens.push(await gateway.call<string[]>('tokens', { prefix: `hs${r}`, count: settings.handshakeUsers }));
  }
  const warmupTokens = on('handshakes') ? await gateway.call<string[]>('tokens', { prefix: 'warm', count: 100 }) : [];
  const profileTokens = settings.profileSeconds > 0 && on('profile') && on('handshakes') ? await gateway.call<string[]>('tokens', { prefix: 'prof', count: settings.handshakeUsers }) : [];

  for (let r = 1; r <= settings.rounds; r++) {
    for (const t of allTargets) await calls(t, 'fresh', `${labelOf(t)} #${r}${gatewayOf(t) ? ' (fresh)' : ''}`);
  }
  await profile('fresh');
  results.notes.push(`Gateway → upstream TCP connections after the fresh rounds: ${upstreamConnections()}.`);

  if (on('many')) {
    log(`opening ${settings.manySessions} more gateway sessions, one tools/call each`);
    const many = await loadgen.call<DriveResult>('openSessions', { era: eras.client, url: primary.url, auth: gatewayToken, count: settings.manySessions, workers: settings.sessions, call: true, maxMs: 600_000 });
    gatewaySessions += many.ops + many.errors;
    results.many = many;
    results.notes.push(`Gateway → upstream TCP connections after ${gatewaySessions} sessions: ${upstreamConnections()}.`);
    for (const t of ['direct', 'nginx', 'gateway'] as const) await calls(t, 'after', `${labelOf(t)} after${t === 'gateway' ? ` ${gatewaySessions} sessions` : ''}`);
  }

  if (on('handshakes')) {
    log('handshake warm-up');
    for (const t of ['direct', 'nginx', 'gateway'] as const) {
      await loadgen.call('handshakes', { era: eraOf(t), url: urls(t), auths: t === 'gateway' ? warmupTokens : undefined, workers: settings.sessions, ms: 1000 });
    }
    for (let r = 1; r <= settings.rounds; r++) {
      for (const t of ['direct', 'nginx', 'gateway'] as const) {
        const auths = t === 'gateway' ? handshakeTokens[r - 1] : undefined;
        results.handshakes.push(
          await measure(`${labelOf(t)} #${r}`, t, 'fresh', () => loadgen.call<DriveResult & { exhausted: boolean }>('handshakes', { era: eraOf(t), url: urls(t), auths, workers: settings.sessions, ms: settings.handshakeSeconds * 1000 })),
        );
      }
    }
    gatewaySessions += 100 + results.handshakes.filter((r) => r.target === 'gateway').reduce((n, r) => n + r.ops + r.errors, 0);
    await profile('new users', 'handshakes', profileTokens);
  }

  if (on('heap')) {
    log(`heap: opening up to ${settings.idleSessions} idle gateway sessions (≤ ${settings.idleSeconds} s)`);
    const before = await heap();
    const opened = await loadgen.call<DriveResult>('openSessions', { era: eras.client, url: primary.url, auth: gatewayToken, count: settings.idleSessions, workers: settings.sessions, call: false, maxMs: settings.idleSeconds * 1000 });
    const after = await heap();
    gatewaySessions += opened.ops + opened.errors;
    results.heap = { before, after, opened };
    if (primary.replicas > 1) results.notes.push(`Heap and sessions held are summed over ${primary.label}'s ${primary.replicas} processes; a session used on several is held by each.`);
    results.notes.push(`Gateway → upstream TCP connections after ${gatewaySessions} sessions: ${upstreamConnections()}.`);
  }

  if (on('end')) {
    for (const t of ['nginx', 'gateway'] as const) await calls(t, 'end', `${labelOf(t)} at the end${t === 'gateway' ? ` (${gatewaySessions} sessions)` : ''}`);
    await profile(`after ${gatewaySessions} sessions`);
  }

  if (on('events')) {
    if (eras.upstream !== 'legacy') results.notes.push('Events phase skipped: its `stream` tool is on the legacy upstream only (BENCH_UPSTREAM_ERA=legacy).');
    else {
      const streaming = gateways.filter((g) => !g.tracing);
      log(`events: ${settings.streamEvents} per call, each call's stream dropped after the first and resumed (${streaming.map((g) => g.label).join(', ')})`);
      for (let r = 1; r <= settings.rounds; r++) {
        for (const g of streaming) await events(g, `${g.label} #${r}`, (r === 1 ? settings.firstWarmupSeconds : settings.warmupSeconds) * 1000);
      }
    }
  }
} catch (err) {
  failure = err;
} finally {
  await loadgen.stop().catch(() => undefined);
  // Each target's joining replicas first: the first drops the database.
  await Promise.allSettled(gateways.map(async (g) => {
    await Promise.allSettled(g.processes.slice(1).map((c) => c.stop()));
    await g.processes[0]!.stop();
    await g.balancer?.stop();
  }));
  await upstream.stop().catch(() => undefined);
  await nginx.stop();
  await admin.end();
  await Promise.allSettled(gateways.map((g) => g.sink?.stop()));
}
results.notes.push(
  code === 'dist'
    ? 'Gateway code: dist/, compiled by tsc, as `npm start` runs it (BENCH_GATEWAY_CODE=dist, the default).'
    : 'Gateway code: src/ through tsx, as the tests run it (BENCH_GATEWAY_CODE=src); `npm start` runs dist/.',
);
results.notes.push(
  `Protocol eras: clients ${eras.client} (${eras.client === 'modern' ? '2026-07-28, stateless' : '2025-11-25, sessions'}) to the gateway, upstream ${eras.upstream} (${eras.upstream === 'modern' ? '2026-07-28, SDK v2, legacy requests refused' : '2025-11-25, SDK v1'}); direct and nginx requests speak the upstream's (BENCH_CLIENT_ERA, BENCH_UPSTREAM_ERA).`,
);
for (const g of gateways) {
  if (g.replicas > 1) results.notes.push(`${g.label}: ${g.replicas} gateway processes on one database behind nginx (round robin per request, no affinity); its rows' gateway and PostgreSQL columns sum all processes and their backends, its nginx column is the balancer.`);
}
const traced = gateways.filter((g) => g.sink);
results.notes.push(
  traced.length
    ? `Traced gateways beside the untraced one (BENCH_TRACING=${traced.map((g) => g.tracing).join(',')}${traced.some((g) => g.tracing === 'ratio') ? `, ratio ${process.env.BENCH_TRACING_RATIO ?? '0.1'}` : ''}, ${process.env.BENCH_TRACING_PROTOCOL ?? 'http/protobuf'}): ${traced.map((g) => `${g.label}'s sink received ${g.sink!.received.exports} exports, ${Math.round(g.sink!.received.bytes / 1024)} KiB`).join('; ')}.`
    : 'Gateway tracing off (BENCH_TRACING unset).',
);
results.notes.push(`Optional phases run: ${[...phases].join(', ') || 'none'} (BENCH_PHASES).`);

console.log(renderReport(results, loadAverage()));
if (failure) {
  // What was measured before the failure is still printed above.
  console.error('bench: a phase failed', failure);
  process.exit(1);
}
process.exit(0);
