/**
 * `npm run bench`: the upstream, nginx in front of it, the gateway and the load generator, each its own process,
 * measured in one interleaved run with CPU per process from `/proc`. Prints Markdown for BENCHMARKS.md: every
 * measurement, then the ratios issue 10 sets targets for. Counts and durations come from `BENCH_*` variables
 * (see `settings`). Progress goes to stderr, the report to stdout.
 */
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { forkBenchChild, type BenchChild } from './ipc.js';
import { startNginx } from './nginx.js';
import { BENCH_DATABASE_URL, median, round } from './harness.js';
import { cpuBetween, loadAverage, machineBusy, snapshot, type CpuSnapshot } from './proc-cpu.js';
import { summariseProfile } from './profile-summary.js';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  sessions: num('BENCH_SESSIONS', 16),
  seconds: num('BENCH_SECONDS', 5),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 1),
  rounds: num('BENCH_ROUNDS', 2),
  handshakeSeconds: num('BENCH_HANDSHAKE_SECONDS', 4),
  handshakeUsers: num('BENCH_HANDSHAKE_USERS', 1000),
  manySessions: num('BENCH_MANY_SESSIONS', 1000),
  idleSessions: num('BENCH_IDLE_SESSIONS', 10_000),
  idleSeconds: num('BENCH_IDLE_SECONDS', 60),
  profileSeconds: num('BENCH_PROFILE_SECONDS', 5),
};

type Group = 'loadgen' | 'nginx' | 'gateway' | 'postgres' | 'upstream';
type Target = 'direct' | 'nginx' | 'gateway';
interface DriveResult {
  ops: number;
  perSecond: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
  errorSamples: string[];
}
interface Row extends DriveResult {
  label: string;
  target: Target;
  cpuPerOp: Record<Group, number>;
  busy: number;
}

const log = (msg: string) => console.error(`bench ${new Date().toISOString().slice(11, 19)} ${msg}`);
const loadAtStart = loadAverage();
const started = new Date();

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

/** The gateway's PostgreSQL backends: the database is the bench's own, so these are the gateway's connections. */
async function postgresPids(): Promise<number[]> {
  const rows = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [gateway.ready.database]);
  return rows.rows.map((r) => r.pid);
}

async function measure<T extends DriveResult>(label: string, target: Target, run: () => Promise<T>): Promise<Row & T> {
  const pgBefore = await postgresPids();
  const fixed = [loadgen.pid, nginx.pid, gateway.pid, upstream.pid];
  const a: CpuSnapshot = snapshot([...fixed, ...pgBefore]);
  const result = await run();
  const pgPids = [...new Set([...pgBefore, ...(await postgresPids())])];
  const b = snapshot([...fixed, ...pgPids]);
  const per = (pids: number[]) => cpuBetween(a, b, pids) / Math.max(1, result.ops);
  const row = {
    ...result,
    label,
    target,
    cpuPerOp: { loadgen: per([loadgen.pid]), nginx: per([nginx.pid]), gateway: per([gateway.pid]), postgres: per(pgPids), upstream: per([upstream.pid]) },
    busy: machineBusy(a, b),
  };
  log(`${label}: ${round(result.perSecond, 1)}/s p50 ${round(result.p50)} ms, errors ${result.errors}`);
  return row;
}

const gatewayToken = (await gateway.call<string[]>('tokens', { prefix: 'calls', count: 1 }))[0]!;
const auth = (t: Target) => (t === 'gateway' ? gatewayToken : undefined);
const targetsInOrder: Target[] = ['direct', 'nginx', 'gateway'];

async function calls(t: Target, label: string) {
  await loadgen.call('prepareCalls', { key: t, url: urls[t], auth: auth(t), sessions: settings.sessions, warmupMs: settings.warmupSeconds * 1000 });
  return measure(label, t, () => loadgen.call<DriveResult>('runCalls', { key: t, ms: settings.seconds * 1000 }));
}

const callRows: Row[] = [];
const handshakeRows: (Row & { exhausted: boolean })[] = [];
let many: DriveResult | undefined;
let heap: { before: { heapUsed: number; sessions: number }; after: { heapUsed: number; sessions: number }; opened: DriveResult } | undefined;
let profileSummary: string | undefined;
let gatewaySessionsOpened = 0;

try {
  log(`minting ${settings.rounds} × ${settings.handshakeUsers} tokens for new users`);
  const handshakeTokens: string[][] = [];
  for (let r = 0; r < settings.rounds; r++) handshakeTokens.push(await gateway.call<string[]>('tokens', { prefix: `hs${r}`, count: settings.handshakeUsers }));

  for (let r = 1; r <= settings.rounds; r++) {
    for (const t of targetsInOrder) callRows.push(await calls(t, `${t} #${r}${t === 'gateway' ? ' (fresh)' : ''}`));
  }
  gatewaySessionsOpened += settings.sessions;

  log(`opening ${settings.manySessions} more gateway sessions, one tools/call each`);
  many = await loadgen.call<DriveResult>('openSessions', { url: urls.gateway, auth: gatewayToken, count: settings.manySessions, workers: settings.sessions, call: true, maxMs: 600_000 });
  gatewaySessionsOpened += many.ops + many.errors;
  for (const t of targetsInOrder) callRows.push(await calls(t, `${t} after${t === 'gateway' ? ` ${gatewaySessionsOpened} sessions` : ''}`));

  for (let r = 1; r <= settings.rounds; r++) {
    for (const t of targetsInOrder) {
      const auths = t === 'gateway' ? handshakeTokens[r - 1] : undefined;
      const row = await measure(`${t} #${r}`, t, () => loadgen.call<DriveResult & { exhausted: boolean }>('handshakes', { url: urls[t], auths, workers: settings.sessions, ms: settings.handshakeSeconds * 1000 }));
      handshakeRows.push(row);
    }
  }

  log(`heap: opening up to ${settings.idleSessions} idle gateway sessions (≤ ${settings.idleSeconds} s)`);
  const before = await gateway.call<{ heapUsed: number; sessions: number }>('heap');
  const opened = await loadgen.call<DriveResult>('openSessions', { url: urls.gateway, auth: gatewayToken, count: settings.idleSessions, workers: settings.sessions, call: false, maxMs: settings.idleSeconds * 1000 });
  const after = await gateway.call<{ heapUsed: number; sessions: number }>('heap');
  heap = { before, after, opened };

  if (settings.profileSeconds > 0) {
    log('CPU profile of the gateway under tools/call');
    const file = path.join(os.tmpdir(), `switchboard-gateway-${Date.now()}.cpuprofile`);
    await loadgen.call('prepareCalls', { key: 'gateway', url: urls.gateway, auth: gatewayToken, sessions: settings.sessions, warmupMs: settings.warmupSeconds * 1000 });
    await gateway.call('profileStart');
    const profiled = await loadgen.call<DriveResult>('runCalls', { key: 'gateway', ms: settings.profileSeconds * 1000 });
    await gateway.call('profileStop', { path: file });
    profileSummary = `Profiled ${profiled.ops} calls (${round(profiled.perSecond, 0)}/s under the profiler), saved to \`${file}\`.\n\n${summariseProfile(file)}`;
  }
} finally {
  await Promise.allSettled(children.map((c) => c.stop()));
  await nginx.stop();
  await admin.end();
}

// ---- report ----
const f = (n: number, d = 2) => (Number.isFinite(n) ? String(round(n, d)) : '—');
const cpuCols = (r: Row) => (['loadgen', 'nginx', 'gateway', 'postgres', 'upstream'] as const).map((g) => (r.cpuPerOp[g] > 0 ? f(r.cpuPerOp[g], 3) : '—')).join(' | ');
const table = (rows: Row[], unit: string) => [
  `| run | ${unit}/s | p50 ms | p99 ms | errors | CPU ms per ${unit}: load generator | nginx | gateway | PostgreSQL (gateway's backends) | upstream | machine busy |`,
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.label} | ${f(r.perSecond, 1)} | ${f(r.p50)} | ${f(r.p99)} | ${r.errors} | ${cpuCols(r)} | ${f(100 * r.busy, 0)} % |`),
];
const med = (rows: Row[], t: Target, pick: (r: Row) => number, filter: (r: Row) => boolean = () => true) => median(rows.filter((r) => r.target === t && filter(r)).map(pick));
const fresh = (r: Row) => !r.label.includes('after');
const gwCpu = (r: Row) => r.cpuPerOp.gateway;
const nginxCpu = med(callRows, 'nginx', (r) => r.cpuPerOp.nginx, fresh);
const gwFresh = med(callRows, 'gateway', gwCpu, fresh);
const gwAfter = med(callRows, 'gateway', gwCpu, (r) => !fresh(r));
const heapKb = heap ? (heap.after.heapUsed - heap.before.heapUsed) / 1024 / Math.max(1, heap.opened.ops) : NaN;
const errors = [...callRows, ...handshakeRows].reduce((n, r) => n + r.errors, 0) + (many?.errors ?? 0) + (heap?.opened.errors ?? 0);
const ratio = (label: string, value: number, target: string, ok: boolean | undefined, d = 2) => `| ${label} | ${f(value, d)} | ${target} | ${ok === undefined ? '' : ok ? 'met' : 'not met'} |`;

const out = [
  `## ${started.toISOString().slice(0, 16).replace('T', ', ')} UTC — \`npm run bench\``,
  '',
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, shared with other work. ` +
    `Load average at start ${loadAtStart}, at end ${loadAverage()}. "Machine busy" is the whole machine's CPU use (all processes) during each phase.`,
  '',
  `Settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}. Each target gets ${settings.sessions} sessions with one call in flight each; medians are over the ${settings.rounds} fresh rounds.`,
  '',
  '### tools/call echo',
  '',
  ...table(callRows, 'call'),
  '',
  `### Handshakes (initialize + notifications/initialized + tools/list; a new user each through the gateway)`,
  '',
  ...table(handshakeRows, 'handshake'),
  ...(handshakeRows.some((r) => r.exhausted) ? ['', `(a gateway round ran out of its ${settings.handshakeUsers} pre-minted users before ${settings.handshakeSeconds} s; its rate is over the time it ran)`] : []),
  '',
  '### Sessions',
  '',
  many ? `- ${settings.manySessions} more gateway sessions, one tools/call each: ${many.ops} done in ${f(many.seconds, 1)} s, ${many.errors} errors.` : '- (many-sessions phase did not run)',
  heap
    ? `- Heap: ${heap.opened.ops} idle sessions opened (initialize + initialized) in ${f(heap.opened.seconds, 1)} s${heap.opened.ops < settings.idleSessions ? ` (time cap ${settings.idleSeconds} s reached before ${settings.idleSessions})` : ''}, ${heap.opened.errors} errors; heap after full GC ${f(heap.before.heapUsed / 2 ** 20, 1)} → ${f(heap.after.heapUsed / 2 ** 20, 1)} MB, sessions held in memory ${heap.before.sessions} → ${heap.after.sessions}.`
    : '- (heap phase did not run)',
  '',
  '### Ratios',
  '',
  '| ratio | value | issue 10 target | |',
  '|---|---|---|---|',
  ratio('gateway CPU per call / nginx CPU per call', gwFresh / nginxCpu, '≤ 10', gwFresh / nginxCpu <= 10, 1),
  ratio('gateway calls/s / nginx calls/s', med(callRows, 'gateway', (r) => r.perSecond, fresh) / med(callRows, 'nginx', (r) => r.perSecond, fresh), '≥ 0.35', med(callRows, 'gateway', (r) => r.perSecond, fresh) / med(callRows, 'nginx', (r) => r.perSecond, fresh) >= 0.35, 3),
  ratio('p50 gateway − p50 nginx (ms)', med(callRows, 'gateway', (r) => r.p50, fresh) - med(callRows, 'nginx', (r) => r.p50, fresh), '≤ 5', med(callRows, 'gateway', (r) => r.p50, fresh) - med(callRows, 'nginx', (r) => r.p50, fresh) <= 5, 1),
  ratio('handshakes/s gateway / upstream', med(handshakeRows, 'gateway', (r) => r.perSecond) / med(handshakeRows, 'direct', (r) => r.perSecond), '≥ 0.5', med(handshakeRows, 'gateway', (r) => r.perSecond) / med(handshakeRows, 'direct', (r) => r.perSecond) >= 0.5, 3),
  ratio(`gateway CPU per call after ${gatewaySessionsOpened} sessions / fresh`, gwAfter / gwFresh, '≤ 1.25', gwAfter / gwFresh <= 1.25),
  ratio('heap per idle session (KB)', heapKb, '≤ 8', heapKb <= 8, 1),
  ratio('errors', errors, '0', errors === 0, 0),
  ratio('gateway CPU per call (ms), fresh', gwFresh, '', undefined, 3),
  ratio('gateway CPU per handshake (ms)', med(handshakeRows, 'gateway', gwCpu), '', undefined, 2),
  ratio('load generator CPU per call (ms), through the gateway', med(callRows, 'gateway', (r) => r.cpuPerOp.loadgen, fresh), `< gateway's`, med(callRows, 'gateway', (r) => r.cpuPerOp.loadgen, fresh) < gwFresh, 3),
  ratio('load generator CPU per call (ms), through nginx', med(callRows, 'nginx', (r) => r.cpuPerOp.loadgen, fresh), '', undefined, 3),
  `| load average (start → end) | ${loadAtStart} → ${loadAverage()} | | |`,
  ...(profileSummary ? ['', '### Where the gateway spends its CPU under tools/call', '', profileSummary] : []),
  ...[...callRows, ...handshakeRows].filter((r) => r.errorSamples.length).map((r) => `\nErrors in ${r.label}: ${r.errorSamples.join(' / ')}`),
];
console.log(out.join('\n'));
process.exit(0);
