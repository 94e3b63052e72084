/**
 * The bench's Markdown report: every measurement as a table row, then the ratios issue 10 sets targets for
 * (medians over the fresh rounds), the gateway targets side by side (replica counts, tracing) against the untraced
 * `gateway`, the resumable streams' cost per event, then where the gateway's CPU went under a profiler.
 */
import { asyncContextFlags } from '../bin/node-flags.mjs';
import os from 'node:os';
import { median, round } from './harness.js';
import type { GatewayTargetSpec } from './settings.js';

export type Group = 'loadgen' | 'nginx' | 'gateway' | 'postgres' | 'upstream';
/** `direct`, `nginx`, or a gateway target's key (`gateway` is the untraced one every phase uses). */
export type Target = string;

export interface DriveResult {
  ops: number;
  perSecond: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
  errorSamples: string[];
}

export interface Row extends DriveResult {
  label: string;
  target: Target;
  /** `fresh`: the first rounds; `after`: after the many-sessions phase; `end`: after every phase; `events`: streams. */
  phase: 'fresh' | 'after' | 'end' | 'events';
  cpuPerOp: Record<Group, number>;
  busy: number;
}

type Heap = { heapUsed: number; sessions: number };

/** A row of the events phase: `ops` calls, `events` the events their clients received (each stored first). */
export type EventsRow = Row & { events: number };

export interface Results {
  settings: Record<string, number>;
  started: Date;
  loadAtStart: string;
  calls: Row[];
  handshakes: (Row & { exhausted?: boolean })[];
  events: EventsRow[];
  targets: GatewayTargetSpec[];
  many?: DriveResult;
  heap?: { before: Heap; after: Heap; opened: DriveResult };
  profiles: { name: string; text: string }[];
  notes: string[];
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? String(round(n, d)) : '—');
const GROUPS: readonly Group[] = ['loadgen', 'nginx', 'gateway', 'postgres', 'upstream'];

function table(rows: Row[], unit: string): string[] {
  const cpu = (r: Row) => GROUPS.map((g) => (r.cpuPerOp[g] >= 0.0005 ? f(r.cpuPerOp[g], 3) : '—')).join(' | ');
  return [
    `| run | ${unit}s/s | p50 ms | p99 ms | errors | CPU ms per ${unit}: load generator | nginx | gateway | PostgreSQL (gateway's backends) | upstream | machine busy |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${f(r.perSecond, 1)} | ${f(r.p50)} | ${f(r.p99)} | ${r.errors} | ${cpu(r)} | ${f(100 * r.busy, 0)} % |`),
  ];
}

function pick(rows: Row[], target: Target, phase: Row['phase'], value: (r: Row) => number): number {
  return median(rows.filter((r) => r.target === target && r.phase === phase).map(value));
}

function ratios(r: Results, loadAtEnd: string): string[] {
  const calls = (t: Target, phase: Row['phase'], v: (row: Row) => number) => pick(r.calls, t, phase, v);
  const cpu = (g: Group) => (row: Row) => row.cpuPerOp[g];
  const gwFresh = calls('gateway', 'fresh', cpu('gateway'));
  const cpuRatio = gwFresh / calls('nginx', 'fresh', cpu('nginx'));
  const rateRatio = calls('gateway', 'fresh', (x) => x.perSecond) / calls('nginx', 'fresh', (x) => x.perSecond);
  const p50Delta = calls('gateway', 'fresh', (x) => x.p50) - calls('nginx', 'fresh', (x) => x.p50);
  const hsRatio = pick(r.handshakes, 'gateway', 'fresh', (x) => x.perSecond) / pick(r.handshakes, 'direct', 'fresh', (x) => x.perSecond);
  const after = r.calls.find((x) => x.target === 'gateway' && x.phase === 'after');
  const end = r.calls.find((x) => x.target === 'gateway' && x.phase === 'end');
  const heapKb = r.heap ? (r.heap.after.heapUsed - r.heap.before.heapUsed) / 1024 / Math.max(1, r.heap.opened.ops) : NaN;
  const errors = [...r.calls, ...r.handshakes, ...r.events].reduce((n, x) => n + x.errors, 0) + (r.many?.errors ?? 0) + (r.heap?.opened.errors ?? 0);
  const loadgenGw = calls('gateway', 'fresh', cpu('loadgen'));
  const line = (label: string, value: number, target: string, ok?: boolean, d = 2) => `| ${label} | ${f(value, d)} | ${target} | ${ok === undefined ? '' : ok ? 'met' : 'not met'} |`;
  return [
    '| ratio | value | issue 10 target | |',
    '|---|---|---|---|',
    line('gateway CPU per call / nginx CPU per call', cpuRatio, '≤ 10', cpuRatio <= 10, 1),
    line('gateway calls/s / nginx calls/s', rateRatio, '≥ 0.35', rateRatio >= 0.35, 3),
    line('p50 gateway − p50 nginx (ms)', p50Delta, '≤ 5', p50Delta <= 5, 1),
    ...(r.handshakes.length ? [line('handshakes/s gateway / upstream directly', hsRatio, '≥ 0.5', hsRatio >= 0.5, 3)] : []),
    ...(after ? [line(`gateway CPU per call: ${after.label} / fresh`, after.cpuPerOp.gateway / gwFresh, '≤ 1.25', after.cpuPerOp.gateway / gwFresh <= 1.25)] : []),
    ...(end ? [line(`gateway CPU per call: ${end.label} / fresh`, end.cpuPerOp.gateway / gwFresh, '', undefined)] : []),
    ...(r.heap ? [line(`heap per idle session (KB), at ${r.heap.after.sessions} sessions held`, heapKb, '≤ 8', heapKb <= 8, 1)] : []),
    line('errors', errors, '0', errors === 0, 0),
    line('gateway CPU per call (ms), fresh', gwFresh, '', undefined, 3),
    line('nginx CPU per call (ms)', calls('nginx', 'fresh', cpu('nginx')), '', undefined, 3),
    ...(r.handshakes.length
      ? [line('gateway CPU per handshake (ms)', pick(r.handshakes, 'gateway', 'fresh', cpu('gateway')), '', undefined, 2), line('nginx CPU per handshake (ms)', pick(r.handshakes, 'nginx', 'fresh', cpu('nginx')), '', undefined, 3)]
      : []),
    line('load generator CPU per call (ms), through the gateway', loadgenGw, `< gateway's`, loadgenGw < gwFresh, 3),
    line('load generator CPU per call (ms), through nginx', calls('nginx', 'fresh', cpu('loadgen')), '', undefined, 3),
    `| load average (start → end) | ${r.loadAtStart} → ${loadAtEnd} | | |`,
  ];
}

/**
 * Every gateway target's fresh rounds (medians) beside the untraced `gateway`: calls/s, p50, CPU per call of all its
 * processes and of their PostgreSQL backends, and the ratios. Empty when there is only `gateway` with one process.
 */
export function targetsTable(r: Pick<Results, 'calls' | 'targets'>): string[] {
  if (r.targets.length < 2 && (r.targets[0]?.replicas ?? 1) === 1) return [];
  const at = (key: string, v: (row: Row) => number) => pick(r.calls, key, 'fresh', v);
  const base = { rate: at('gateway', (x) => x.perSecond), p50: at('gateway', (x) => x.p50), cpu: at('gateway', (x) => x.cpuPerOp.gateway + x.cpuPerOp.postgres) };
  return [
    '| gateway target (fresh rounds, medians) | processes | calls/s | p50 ms | CPU ms per call: gateway processes | + PostgreSQL backends | = total | balancer | calls/s ÷ gateway | p50 − gateway (ms) | CPU total ÷ gateway |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.targets.map((t) => {
      const rate = at(t.key, (x) => x.perSecond);
      const p50 = at(t.key, (x) => x.p50);
      const gw = at(t.key, (x) => x.cpuPerOp.gateway);
      const pg = at(t.key, (x) => x.cpuPerOp.postgres);
      const lb = t.replicas > 1 ? f(at(t.key, (x) => x.cpuPerOp.nginx), 3) : '—';
      return `| ${t.label} | ${t.replicas} | ${f(rate, 1)} | ${f(p50)} | ${f(gw, 3)} | ${f(pg, 3)} | ${f(gw + pg, 3)} | ${lb} | ${f(rate / base.rate, 3)} | ${f(p50 - base.p50, 2)} | ${f((gw + pg) / base.cpu, 2)} |`;
    }),
  ];
}

/** The events phase: per target and round, calls and events per second, and CPU per event stored and replayed. */
export function eventsTable(rows: readonly EventsRow[]): string[] {
  if (!rows.length) return [];
  const perEvent = (x: EventsRow, g: Group) => (x.events > 0 ? (x.cpuPerOp[g] * x.ops) / x.events : NaN);
  return [
    '| run | calls/s | events/s | events per call | p50 ms per call | errors | CPU µs per event: gateway processes | PostgreSQL backends | balancer or nginx | load generator | upstream |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (x) =>
        `| ${x.label} | ${f(x.perSecond, 1)} | ${f(x.events / x.seconds, 0)} | ${f(x.events / Math.max(1, x.ops), 1)} | ${f(x.p50)} | ${x.errors} | ${f(1000 * perEvent(x, 'gateway'), 1)} | ${f(1000 * perEvent(x, 'postgres'), 1)} | ${f(1000 * perEvent(x, 'nginx'), 1)} | ${f(1000 * perEvent(x, 'loadgen'), 1)} | ${f(1000 * perEvent(x, 'upstream'), 1)} |`,
    ),
  ];
}

export function renderReport(r: Results, loadAtEnd: string): string {
  const { settings: s } = r;
  const heap = r.heap;
  return [
    `## ${r.started.toISOString().slice(0, 16).replace('T', ', ')} UTC — \`npm run bench\``,
    '',
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version} (gateway flags: ${asyncContextFlags().join(' ') || 'none'}), shared with other work. ` +
      `Load average at start ${r.loadAtStart}, at end ${loadAtEnd}. "Machine busy" is the whole machine's CPU use (all processes, all cores) during each phase.`,
    '',
    `Settings: ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(', ')}. Each target gets ${s.sessions} sessions with one call in flight each; medians are over the ${s.rounds} fresh rounds.`,
    '',
    '### tools/call echo',
    '',
    ...table(r.calls, 'call'),
    '',
    ...(r.handshakes.length
      ? [
          '### Handshakes (initialize + notifications/initialized + tools/list; a new user each through the gateway)',
          '',
          ...table(r.handshakes, 'handshake'),
          ...(r.handshakes.some((x) => x.exhausted) ? ['', `(a gateway round ran out of its ${s.handshakeUsers} pre-minted users; its rate is over the time it ran)`] : []),
          '',
        ]
      : []),
    ...(targetsTable(r).length ? ['### Gateway targets side by side (replicas, tracing)', '', ...targetsTable(r), ''] : []),
    ...(r.events.length
      ? [
          `### Resumable response streams (events phase: \`tools/call stream\`, ${s.streamEvents} progress events and the answer; each call's stream dropped after its first event, resumed with \`Last-Event-ID\`, so every event after it goes through the event store)`,
          '',
          ...eventsTable(r.events),
          '',
        ]
      : []),
    '### Sessions',
    '',
    r.many ? `- ${s.manySessions} more gateway sessions, one tools/call each: ${r.many.ops} done in ${f(r.many.seconds, 1)} s, ${r.many.errors} errors.` : '- (many-sessions phase did not run)',
    heap
      ? `- Heap: ${heap.opened.ops} idle sessions opened (initialize + initialized) in ${f(heap.opened.seconds, 1)} s${heap.opened.ops < (s.idleSessions ?? 0) ? ` (the ${s.idleSeconds} s cap came before ${s.idleSessions})` : ''}, ${heap.opened.errors} errors; heap after full GCs ${f(heap.before.heapUsed / 2 ** 20, 1)} → ${f(heap.after.heapUsed / 2 ** 20, 1)} MB; sessions held in memory ${heap.before.sessions} → ${heap.after.sessions}.`
      : '- (heap phase did not run)',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '### Ratios',
    '',
    ...ratios(r, loadAtEnd),
    ...r.profiles.flatMap((p) => ['', `### Where the gateway's CPU goes under tools/call — ${p.name}`, '', p.text]),
    ...[...r.calls, ...r.handshakes, ...r.events].filter((x) => x.errorSamples.length).map((x) => `\nErrors in ${x.label}: ${x.errorSamples.join(' / ')}`),
  ].join('\n');
}
