/**
 * A minimal SQL interface over the two drivers (pg and PGlite) for what Prisma's client cannot do well:
 * multi-statement migration scripts, session-level advisory locks, LISTEN/NOTIFY.
 */
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';

export interface RawSql {
  /** Runs a parameterised statement. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (no parameters). */
  exec(script: string): Promise<void>;
  /** Runs `fn` on one connection inside a transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Pick<RawSql, 'query' | 'exec'>) => Promise<T>): Promise<T>;
  /** Subscribes to a NOTIFY channel; returns an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export function pgRawSql(pool: pg.Pool, onListenerError: (err: Error) => void): RawSql {
  let listener: pg.Client | undefined;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  async function ensureListener(): Promise<pg.Client> {
    if (listener) return listener;
    const client = new pg.Client({ connectionString: (pool.options as pg.PoolConfig).connectionString });
    client.on('notification', (n) => {
      for (const h of handlers.get(n.channel) ?? []) h(n.payload ?? '');
    });
    client.on('error', (err) => {
      // The listener connection died (database restart). Drop it; the next listen() reconnects, and the session
      // sweeper's periodic checks cover anything missed meanwhile.
      listener = undefined;
      onListenerError(err);
    });
    await client.connect();
    listener = client;
    for (const channel of handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    return client;
  }
  return {
    async query<T>(text: string, params: unknown[] = []) {
      return (await pool.query(text, params)).rows as T[];
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
    async listen(channel, onPayload) {
      const isNew = !handlers.has(channel);
      if (isNew) handlers.set(channel, new Set());
      handlers.get(channel)!.add(onPayload);
      const client = await ensureListener();
      if (isNew) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        handlers.get(channel)?.delete(onPayload);
      };
    },
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      await listener?.end().catch(() => undefined);
      listener = undefined;
    },
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
    async notify(channel, payload) {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {},
  };
}
