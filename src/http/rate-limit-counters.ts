/**
 * Fixed-window request counters in this process's memory, one bucket per limiter. The request path is a Map lookup
 * and an increment; sharing the counts with other replicas happens off that path (`rate-limit-sync.ts`), which
 * drains the hits counted since its last run with `collect()` and hands back the cluster-wide totals with `settle()`.
 *
 * A window is `[start, start + windowMs)` with `start` a multiple of `windowMs` since the epoch, so every replica
 * names the same window the same way without talking to the others.
 */

/** One key's count in the current window of its bucket. */
interface Counter {
  readonly key: string;
  /** The window's total across replicas as of the last sync (it includes this process's hits flushed then). */
  known: number;
  /** Hits counted here and not yet sent. */
  pending: number;
  /** Hits on their way to the shared table (one sync in flight). */
  flushing: number;
}

export interface CounterBucket {
  readonly name: string;
  readonly windowMs: number;
  /** Counts one hit for `key` in the current window; returns the window's total as far as this process knows. */
  hit(key: string): number;
  /** Milliseconds until the current window ends. */
  msToWindowEnd(): number;
}

/** Hits of one key and window, drained for sharing. */
export interface PendingHits {
  readonly bucket: string;
  readonly key: string;
  readonly windowStart: number;
  readonly windowMs: number;
  readonly hits: number;
}

export interface RateLimitCounters {
  /** The bucket named `name` (created on first use; limiters that name the same bucket count together). */
  bucket(name: string, windowMs: number): CounterBucket;
  /** Drains the hits counted since the last call, marking them in flight. */
  collect(): PendingHits[];
  /** The hits of `batch[i]` reached the shared table, whose total for that key and window is `totals[i]`. */
  settle(batch: readonly PendingHits[], totals: readonly (number | undefined)[]): void;
  /** The hits could not be shared: count them as pending again, to be sent with the next sync. */
  restore(batch: readonly PendingHits[]): void;
}

export interface RateLimitCountersOptions {
  clock: () => number;
  /**
   * Keys one bucket tracks per window. Past it, new keys are not counted (the limiter lets them through) rather
   * than letting a flood of distinct addresses grow memory without bound.
   */
  maxKeysPerBucket?: number;
}

class Bucket implements CounterBucket {
  windowStart = Number.NEGATIVE_INFINITY;
  counters = new Map<string, Counter>();
  /** Counters with pending hits, so a sync does not scan every key. */
  dirty: Counter[] = [];

  constructor(
    readonly name: string,
    readonly windowMs: number,
    private readonly clock: () => number,
    private readonly maxKeys: number,
  ) {}

  hit(key: string): number {
    const now = this.clock();
    const start = now - (now % this.windowMs);
    // A new window starts from zero: dropping the whole map is the cheapest way to forget the old one.
    if (start !== this.windowStart) this.rotate(start);
    let c = this.counters.get(key);
    if (c === undefined) {
      if (this.counters.size >= this.maxKeys) return 0;
      c = { key, known: 0, pending: 0, flushing: 0 };
      this.counters.set(key, c);
    }
    if (c.pending++ === 0) this.dirty.push(c);
    return c.known + c.flushing + c.pending;
  }

  msToWindowEnd(): number {
    return this.windowMs - (this.clock() % this.windowMs);
  }

  rotate(start: number): void {
    this.windowStart = start;
    this.counters = new Map();
    this.dirty = [];
  }
}

export function createRateLimitCounters(opts: RateLimitCountersOptions): RateLimitCounters {
  const maxKeys = opts.maxKeysPerBucket ?? 200_000;
  const buckets = new Map<string, Bucket>();

  /** The counter a drained entry came from, if its window is still the current one. */
  const live = (p: PendingHits): Counter | undefined => {
    const b = buckets.get(p.bucket);
    return b && b.windowStart === p.windowStart ? b.counters.get(p.key) : undefined;
  };

  return {
    bucket(name, windowMs) {
      if (!Number.isInteger(windowMs) || windowMs <= 0) throw new Error(`rate-limit bucket ${name}: windowMs must be a positive integer`);
      const existing = buckets.get(name);
      if (existing) {
        if (existing.windowMs !== windowMs) throw new Error(`rate-limit bucket ${name} already counts ${existing.windowMs} ms windows`);
        return existing;
      }
      const b = new Bucket(name, windowMs, opts.clock, maxKeys);
      buckets.set(name, b);
      return b;
    },

    collect() {
      const batch: PendingHits[] = [];
      for (const b of buckets.values()) {
        for (const c of b.dirty) {
          batch.push({ bucket: b.name, key: c.key, windowStart: b.windowStart, windowMs: b.windowMs, hits: c.pending });
          c.flushing += c.pending;
          c.pending = 0;
        }
        b.dirty = [];
      }
      return batch;
    },

    settle(batch, totals) {
      batch.forEach((p, i) => {
        const c = live(p);
        if (!c) return;
        c.flushing -= p.hits;
        const total = totals[i];
        if (total !== undefined) c.known = Math.max(c.known, total);
      });
    },

    restore(batch) {
      for (const p of batch) {
        const c = live(p);
        if (!c) continue;
        c.flushing -= p.hits;
        if (c.pending === 0) buckets.get(p.bucket)!.dirty.push(c);
        c.pending += p.hits;
      }
    },
  };
}
