/**
 * A minimal SQL interface over the two drivers (pg and PGlite) for what Prisma's client cannot do well:
 * multi-statement migration scripts, session-level advisory locks, LISTEN/NOTIFY.
 */
import type pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { createPgListener } from './pg-listener.js';

export interface RawSql {
  /**
   * Runs a parameterised statement. `name`: a prepared statement of that name (PostgreSQL parses it once per
   * connection and may reuse its plan) — for the statements every handshake or request runs; one text per name.
   */
  query<T = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<T[]>;
  /** Runs a script of several statements (no parameters). */
  exec(script: string): Promise<void>;
  /** Runs `fn` on one connection inside a transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Pick<RawSql, 'query' | 'exec'>) => Promise<T>): Promise<T>;
  /** Subscribes to a NOTIFY channel; returns an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls `fn` each time the LISTEN connection is back after a drop. NOTIFYs sent meanwhile were lost: `fn` re-reads
   * from the database what they would have said. Returns an unsubscribe function.
   */
  onResync(fn: () => void | Promise<void>): () => void;
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** `prepared`: named statements are prepared (false behind a pooler that cannot keep them, e.g. PgBouncer before 1.21). */
export function pgRawSql(pool: pg.Pool, onListenerError: (err: Error) => void, prepared = true): RawSql {
  const listener = createPgListener({ connectionString: (pool.options as pg.PoolConfig).connectionString, onError: onListenerError });
  return {
    async query<T>(text: string, params: unknown[] = [], name?: string) {
      return (await (name === undefined || !prepared ? pool.query(text, params) : pool.query({ name, text, values: params }))).rows as T[];
    },
    async exec(script) {
      await pool.query(script);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <T>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as T[],
          exec: async (script: string) => {
            await client.query(script);
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    listen: (channel, onPayload) => listener.listen(channel, onPayload),
    onResync: (fn) => listener.onResync(fn),
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    close: () => listener.close(),
  };
}

export function pgliteRawSql(db: PGlite): RawSql {
  return {
    async query<T>(text: string, params: unknown[] = []) {
      return (await db.query<T>(text, params)).rows;
    },
    async exec(script) {
      await db.exec(script);
    },
    async transaction(fn) {
      return db.transaction((tx) =>
        fn({
          query: async <T>(text: string, params: unknown[] = []) => (await tx.query<T>(text, params)).rows,
          exec: async (script: string) => {
            await tx.exec(script);
          },
        }),
      ) as Promise<Awaited<ReturnType<typeof fn>>>;
    },
    async listen(channel, onPayload) {
      return db.listen(channel, onPayload);
    },
    // In-process: its LISTEN never drops, so there is nothing to catch up on.
    onResync: () => () => undefined,
    async notify(channel, payload) {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {},
  };
}
