/**
 * The bench's `BENCH_*` variables that choose what runs (as opposed to counts and durations): which optional phases,
 * how many gateway replicas, which traced gateways beside the untraced one. Parsed here, strictly — a typo stops
 * the bench before it starts anything rather than silently measuring something else.
 */

/** The phases `BENCH_PHASES` can pick; the fresh `tools/call` rounds always run. */
export const OPTIONAL_PHASES = ['profile', 'many', 'handshakes', 'heap', 'end', 'events'] as const;
export type Phase = (typeof OPTIONAL_PHASES)[number];

/** `BENCH_PHASES`: a comma list of optional phases, `none`, or unset/`all` (every one of them). */
export function benchPhases(value: string | undefined): ReadonlySet<Phase> {
  const v = value?.trim();
  if (v === undefined || v === '' || v === 'all') return new Set(OPTIONAL_PHASES);
  if (v === 'none') return new Set();
  const out = new Set<Phase>();
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (!(OPTIONAL_PHASES as readonly string[]).includes(part)) throw new Error(`BENCH_PHASES: unknown phase ${JSON.stringify(part)} (known: ${OPTIONAL_PHASES.join(', ')}; or none, all)`);
    out.add(part as Phase);
  }
  return out;
}

/** Most gateway processes one target may run (the machine has a handful of cores). */
export const MAX_REPLICAS = 8;

/**
 * `BENCH_REPLICAS`: how many gateway processes the gateway target runs on one database, behind a round-robin
 * balancer — `1` (the default: the gateway alone, no balancer), `3`, or a comma list (`1,3`) for one gateway target
 * per count, measured side by side in the same rounds; the first is the one every other phase uses.
 */
export function benchReplicas(value: string | undefined): number[] {
  const v = value?.trim();
  if (v === undefined || v === '') return [1];
  const out: number[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    const n = Number(part);
    if (!/^\d+$/.test(part) || n < 1 || n > MAX_REPLICAS) throw new Error(`BENCH_REPLICAS: ${JSON.stringify(part)} is not a count from 1 to ${MAX_REPLICAS}`);
    if (out.includes(n)) throw new Error(`BENCH_REPLICAS: ${n} given twice`);
    out.push(n);
  }
  return out;
}

export type TracingMode = 'all' | 'ratio';

/**
 * `BENCH_TRACING`: the traced gateway targets measured beside the untraced one — `off` (unset: none), `all` (every
 * request sampled), `ratio` (`BENCH_TRACING_RATIO` of new traces), or `all,ratio`.
 */
export function benchTracingModes(value: string | undefined): TracingMode[] {
  const v = value?.trim();
  if (v === undefined || v === '' || v === 'off') return [];
  const out: TracingMode[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    if (part !== 'all' && part !== 'ratio') throw new Error(`BENCH_TRACING must be off, all, ratio or all,ratio, not ${JSON.stringify(value)}`);
    if (!out.includes(part)) out.push(part);
  }
  return out;
}

/** A numeric `BENCH_*` variable: its default when unset, else a finite number ≥ `min` (or the bench stops). */
export function benchNumber(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, not ${JSON.stringify(value)}`);
  return n;
}

/** One gateway target of a run: its key in the report, how many processes, traced or not. */
export interface GatewayTargetSpec {
  key: string;
  label: string;
  replicas: number;
  tracing: TracingMode | undefined;
  /** Another checkout whose gateway this target runs (`BENCH_BASELINE`); absent: this one. */
  root?: string;
}

/**
 * The gateway targets of a run: one untraced per replica count (the first keyed `gateway`: the one the ratios and
 * the other phases use), then one traced per tracing mode with the first replica count, then — with `baseline`, a
 * directory holding another checkout (`BENCH_BASELINE`, e.g. a `git worktree` of the previous commit) — that
 * checkout's gateway, measured in the same rounds as this one.
 */
export function gatewayTargets(replicas: readonly number[], tracing: readonly TracingMode[], baseline?: string): GatewayTargetSpec[] {
  const times = (n: number) => (n > 1 || replicas.length > 1 ? ` ×${n}` : '');
  const first = replicas[0] ?? 1;
  return [
    ...replicas.map((n, i) => ({ key: i === 0 ? 'gateway' : `gateway-x${n}`, label: `gateway${times(n)}`, replicas: n, tracing: undefined })),
    ...tracing.map((mode) => ({ key: `gateway-traced-${mode}`, label: `gateway${times(first)} traced (${mode})`, replicas: first, tracing: mode })),
    ...(baseline ? [{ key: 'baseline', label: `baseline gateway (${baseline})`, replicas: 1, tracing: undefined, root: baseline }] : []),
  ];
}
