/**
 * Audit records: who did what, where, with what outcome. Writing one never fails the action it records, and never
 * stores tool arguments or results.
 *
 * Records are written in batches: a record waits at most `AUDIT_LINGER_MS` for others to join it, and whatever is
 * recorded while an insert is in flight goes out with the next one, so under load one multi-row INSERT carries
 * many tool calls instead of one Prisma `create` (and one database round trip) each — measured, those were most of
 * a forwarded tool call's CPU. A batch the database refuses is retried record by record, so one bad record (say,
 * for a team deleted meanwhile) costs only itself.
 *
 * Sessions held in memory keep serving tool calls while the database is down, so records must outlive an outage:
 * a batch that cannot be written because the database is unreachable stays at the head of the queue and is retried
 * with backoff, later records wait behind it in order, and each row carries the time it was recorded. At most
 * `maxPending` records are held (measured: about 660 bytes each on the heap); past that, new records are dropped,
 * counted in `switchboard_audit_dropped_total{reason="buffer_full"}` and logged once per episode. Delivery is at
 * least once: an INSERT whose connection dies after its commit is retried and its records appear twice.
 */
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { AUDIT_BATCH_MAX, AUDIT_INSERT, AUDIT_INSERT_NAME, insertParams, isRefusedRecord, toAuditRow, type AuditEntry, type AuditRow } from './audit-rows.js';

export { AUDIT_BATCH_MAX, type AuditEntry } from './audit-rows.js';

export interface AuditLog {
  record(entry: AuditEntry): void;
  /**
   * Writes what is waiting at once. Resolves `true` when every record so far is written, or `false` at `deadline`
   * (epoch milliseconds) if the database has not taken them by then.
   */
  flush(deadline?: number): Promise<boolean>;
  /** Shutdown: flushes until `deadline`, then stops retrying; records still held are counted as dropped and logged. */
  close(deadline: number): Promise<void>;
}

/**
 * How long a record waits for others before it is written — alone, or after the insert before it (unless a full batch
 * is waiting): a busy gateway writes at most one insert per linger, not one per database round trip (the audit insert
 * was ~5 % of a forwarded call's CPU at one insert per ~25 calls, bench profile).
 */
export const AUDIT_LINGER_MS = 20;
/** Records held while the database is unreachable before new ones are dropped (~70 MB at the most). */
export const AUDIT_PENDING_MAX = 100_000;
/** Backoff between attempts while the database is unreachable. */
const RETRY_MS = { first: 100, max: 5_000 };

export interface AuditLogOptions {
  lingerMs?: number;
  maxPending?: number;
  retryMs?: { first: number; max: number };
  /** Stamps each record (the app's clock); `Date.now` by default. */
  clock?: () => number;
  metrics?: Pick<Metrics, 'auditDropped' | 'auditPending'>;
}

/** Where records go: `Database.sql` (pg or PGlite). */
export interface AuditSql {
  query(text: string, params: unknown[], name?: string): Promise<unknown>;
}

type DropReason = 'buffer_full' | 'refused' | 'shutdown';

/** A timer that ends early when woken (a flush should not sit out a backoff). */
function wakeableSleep() {
  let wake: (() => void) | undefined;
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms).unref();
        wake = done;
      }),
    wake: () => wake?.(),
  };
}

/** `true` when `work` settles by `deadline`, `false` if the deadline comes first (no deadline: waits). */
async function settlesBy(work: Promise<void>, deadline: number | undefined): Promise<boolean> {
  if (deadline === undefined) {
    await work;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

export function createAuditLog(sql: AuditSql, logger: Logger, opts: AuditLogOptions = {}): AuditLog {
  const lingerMs = opts.lingerMs ?? AUDIT_LINGER_MS;
  const maxPending = opts.maxPending ?? AUDIT_PENDING_MAX;
  const retryMs = opts.retryMs ?? RETRY_MS;
  const clock = opts.clock ?? Date.now;
  const metrics = opts.metrics;
  const queue: AuditRow[] = [];
  const backoff = wakeableSleep();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  /** Callers of `flush` waiting: the writer does not linger between batches meanwhile. */
  let flushing = 0;
  const gather = wakeableSleep();
  let closed = false;
  /** When the current outage began (first failed write), for the recovery log line. */
  let unavailableSince: number | undefined;
  /** Records dropped for a full buffer since it last had room: one log line per episode, not per record. */
  let droppedInEpisode = 0;

  const drop = (reason: DropReason, n: number) => metrics?.auditDropped.inc({ reason }, n);

  const insert = (rows: AuditRow[]) => sql.query(AUDIT_INSERT, insertParams(rows), AUDIT_INSERT_NAME);

  function noteUnavailable(err: unknown): void {
    if (closed || unavailableSince !== undefined) return;
    unavailableSince = clock();
    logger.warn({ err, pending: queue.length }, 'audit records cannot be written (database unavailable): holding them in memory and retrying');
  }

  function noteWritten(): void {
    if (unavailableSince !== undefined) {
      logger.info({ pending: queue.length, outageMs: clock() - unavailableSince }, 'audit records are being written again');
      unavailableSince = undefined;
    }
    if (droppedInEpisode > 0 && queue.length < maxPending) {
      logger.warn({ dropped: droppedInEpisode }, `audit buffer has room again; ${droppedInEpisode} audit records were dropped while it was full`);
      droppedInEpisode = 0;
    }
  }

  function noteBufferFull(): void {
    drop('buffer_full', 1);
    if (droppedInEpisode++ === 0) {
      logger.error({ maxPending }, `audit buffer full (${maxPending} records waiting for the database): dropping new audit records until it has room`);
    }
  }

  /**
   * Writes the batch at the head of the queue and removes what was written (or refused for good). `false` when the
   * database is unreachable: the unwritten records stay at the head, in order.
   */
  async function writeHead(): Promise<boolean> {
    const batch = queue.slice(0, AUDIT_BATCH_MAX);
    try {
      await insert(batch);
      queue.splice(0, batch.length);
      return true;
    } catch (err) {
      if (!isRefusedRecord(err)) return (noteUnavailable(err), false);
      if (batch.length === 1) {
        logger.error({ err, action: batch[0]!.action }, 'could not write audit record');
        drop('refused', 1);
        queue.shift();
        return true;
      }
    }
    for (const row of batch) {
      try {
        await insert([row]);
      } catch (err) {
        if (!isRefusedRecord(err)) return (noteUnavailable(err), false);
        logger.error({ err, action: row.action }, 'could not write audit record');
        drop('refused', 1);
      }
      queue.shift(); // only the writer takes from the head, so this is `row`
    }
    return true;
  }

  /** Writes until the queue is empty, backing off while the database is unreachable. */
  async function writeAll(): Promise<void> {
    let delay = retryMs.first;
    while (queue.length > 0 && !closed) {
      metrics?.auditPending.set(queue.length);
      if (await writeHead()) {
        delay = retryMs.first;
        noteWritten();
        // What arrived during that insert gathers for the next one, unless a full batch is there or someone waits.
        if (queue.length > 0 && queue.length < AUDIT_BATCH_MAX && lingerMs > 0 && flushing === 0 && !closed) await gather.sleep(lingerMs);
        continue;
      }
      await backoff.sleep(delay);
      delay = Math.min(delay * 2, retryMs.max);
    }
    metrics?.auditPending.set(queue.length);
  }

  function startWriting(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing ??= writeAll().finally(() => {
      writing = undefined;
      // A record that arrived after the loop saw an empty queue but before this ran found `writing` still set and
      // scheduled nothing: pick it up now rather than leave it waiting for the next record.
      if (queue.length > 0) startWriting();
    });
  }

  async function flush(deadline?: number): Promise<boolean> {
    flushing++;
    try {
      while (queue.length > 0 || writing) {
        if (!writing) startWriting();
        backoff.wake();
        gather.wake();
        if (!(await settlesBy(writing!, deadline))) return false;
      }
      return true;
    } finally {
      flushing--;
    }
  }

  return {
    record(entry) {
      if (closed) return drop('shutdown', 1);
      if (queue.length >= maxPending) return noteBufferFull();
      queue.push(toAuditRow(entry, clock()));
      if (writing) return; // picked up when the insert in flight (or the backoff) is done
      if (queue.length >= AUDIT_BATCH_MAX || lingerMs <= 0) startWriting();
      else timer ??= setTimeout(startWriting, lingerMs);
    },
    flush,
    async close(deadline) {
      const done = await flush(deadline);
      closed = true;
      backoff.wake();
      if (done || queue.length === 0) return;
      logger.error({ lost: queue.length }, `shutting down with ${queue.length} audit records the database has not taken; they are lost`);
      drop('shutdown', queue.length);
      queue.length = 0;
      metrics?.auditPending.set(0);
    },
  };
}
