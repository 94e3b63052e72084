/**
 * Makes the rate-limit counters hold across replicas without a database round trip per request: every
 * `intervalMs` each replica sends the hits it counted since its last sync to `rate_limit_counters` in one batched
 * upsert and learns each key's cluster-wide total back. A limiter decides on "total known at the last sync + hits
 * counted here since", so a key can overshoot its ceiling by at most the requests for it that reach all replicas
 * within one sync interval plus one round trip (at the default 500 ms, a client sending 50 requests/s against a
 * 3000/min limit gets ~25 extra, under 1 %). Replicas name windows by their own clocks; NTP-level skew only
 * shifts a few requests between neighbouring windows.
 *
 * PostgreSQL down: the sync fails, the hits stay pending and each replica keeps limiting on its own counts (fail
 * open to per-process limits, never an error for the request); they are sent when the database answers again.
 * The embedded database is single-process: its counters in memory are already exact, so nothing is synced.
 */
import type { RawSql } from '../db/raw-sql.js';
import type { Logger } from '../observability/logger.js';
import type { PendingHits, RateLimitCounters } from './rate-limit-counters.js';

/** Rows outlive their window by this much, so a replica whose clock lags still adds to the row the others read. */
const GRACE_MS = 60_000;
const CLEANUP_EVERY_MS = 60_000;

const UPSERT = `
  INSERT INTO rate_limit_counters AS c (key, window_start, hits, expires_at)
  SELECT k, to_timestamp(w / 1000.0), h, to_timestamp(e / 1000.0)
    FROM unnest($1::text[], $2::float8[], $3::int[], $4::float8[]) AS t(k, w, h, e)
  ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + EXCLUDED.hits
  RETURNING key, hits`;

export interface RateLimitSync {
  /** Shares the hits counted since the last sync and learns the totals; never throws (failures are logged). */
  sync(): Promise<void>;
  start(): void;
  /** Stops the timer and sends what is still pending (best effort). */
  stop(): Promise<void>;
}

export interface RateLimitSyncDeps {
  counters: RateLimitCounters;
  sql: RawSql;
  logger: Logger;
  clock: () => number;
  intervalMs: number;
}

/** The shared row of one drained entry: the bucket name keeps limiters with equal keys apart. */
const rowKey = (p: PendingHits) => `${p.bucket}:${p.key}`;

export function createRateLimitSync(deps: RateLimitSyncDeps): RateLimitSync {
  const { counters, sql, logger, clock } = deps;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let failing = false;
  let nextCleanup = 0;

  async function flush(): Promise<void> {
    const batch = counters.collect();
    if (batch.length > 0) {
      try {
        const rows = await sql.query<{ key: string; hits: number }>(UPSERT, [
          batch.map(rowKey),
          batch.map((p) => p.windowStart),
          batch.map((p) => p.hits),
          batch.map((p) => p.windowStart + p.windowMs + GRACE_MS),
        ]);
        // One batch holds each (bucket, key) once: a bucket has one window at a time.
        const totals = new Map(rows.map((r) => [r.key, Number(r.hits)]));
        counters.settle(batch, batch.map((p) => totals.get(rowKey(p))));
        if (failing) logger.info('rate-limit counters are shared across replicas again');
        failing = false;
      } catch (err) {
        counters.restore(batch);
        if (!failing) logger.warn({ err }, 'rate-limit counters cannot be shared (database unavailable); limiting per process until it answers');
        failing = true;
        return;
      }
    }
    if (clock() >= nextCleanup) {
      nextCleanup = clock() + CLEANUP_EVERY_MS;
      await sql.query('DELETE FROM rate_limit_counters WHERE expires_at < $1', [new Date(clock())]).catch((err: unknown) => {
        logger.debug({ err }, 'rate-limit counter cleanup failed; will retry');
      });
    }
  }

  async function sync(): Promise<void> {
    // One sync at a time (the counters track one batch in flight); a caller arriving meanwhile gets a fresh one.
    while (inFlight) await inFlight;
    inFlight = flush().finally(() => (inFlight = undefined));
    await inFlight;
  }

  return {
    sync,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (!inFlight) void sync();
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await sync();
    },
  };
}
