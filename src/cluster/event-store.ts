/**
 * The event store (the `events` table): the events of response streams a client lost before their answer, in order,
 * so a `GET` with `Last-Event-ID` on any replica replays what followed (`resumable-streams.ts`). Rows are written in
 * batches, one statement per batch, never on the way of an answer that reaches its client; the bus says when rows
 * were appended (`events-appended`), so followers re-read instead of polling.
 *
 * Retention: rows older than `maxAgeMs`, and beyond the newest `maxRows`, are deleted by one replica at a time (a
 * transaction-level advisory lock), on the sweeper's beat.
 */
import type { Database } from '../db/database.js';

/** Defaults: a resumed stream is read within seconds; ten minutes covers the longest tool call (`maxCallMs`). */
export const EVENT_RETENTION = { maxAgeMs: 15 * 60_000, maxRows: 100_000 };
const PRUNE_LOCK_KEY = 7593286410873497192n;

export interface StoredEvent {
  seq: number;
  /** The message as JSON text, ready to be written as the event's data. */
  json: string;
}

export interface EventStore {
  append(sessionId: string, streamId: string, events: StoredEvent[]): Promise<void>;
  /** The stream's events after `seq`, in order. */
  after(sessionId: string, streamId: string, seq: number): Promise<StoredEvent[]>;
  /** Applies the retention limits (if no other replica is doing it now); returns how many rows went. */
  prune(now: number, limits?: { maxAgeMs: number; maxRows: number }): Promise<number>;
}

export function createEventStore(db: Database): EventStore {
  return {
    async append(sessionId, streamId, events) {
      if (!events.length) return;
      await db.sql.query(
        'INSERT INTO events (session_id, stream_id, seq, message) SELECT $1, $2, e.seq, e.message::jsonb FROM unnest($3::int[], $4::text[]) AS e(seq, message) ON CONFLICT DO NOTHING',
        [sessionId, streamId, events.map((e) => e.seq), events.map((e) => e.json)],
        'events_append',
      );
    },
    async after(sessionId, streamId, seq) {
      return db.sql.query<StoredEvent>(
        'SELECT seq, message::text AS json FROM events WHERE session_id = $1 AND stream_id = $2 AND seq > $3 ORDER BY seq',
        [sessionId, streamId, seq],
        'events_after',
      );
    },
    async prune(now, limits = EVENT_RETENTION) {
      return db.sql.transaction(async (tx) => {
        const [lock] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [PRUNE_LOCK_KEY.toString()]);
        if (!lock?.ok) return 0;
        const old = await tx.query<{ n: number }>('WITH d AS (DELETE FROM events WHERE created_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [new Date(now - limits.maxAgeMs)]);
        const over = await tx.query<{ n: number }>(
          'WITH cut AS (SELECT id FROM events ORDER BY id DESC OFFSET $1 LIMIT 1), d AS (DELETE FROM events WHERE id <= (SELECT id FROM cut) RETURNING 1) SELECT count(*)::int AS n FROM d',
          [limits.maxRows],
        );
        return (old[0]?.n ?? 0) + (over[0]?.n ?? 0);
      });
    },
  };
}
