/**
 * The receiving side of LISTEN/NOTIFY on PostgreSQL: one dedicated connection (a pooled one would lose its LISTENs
 * when handed to someone else), re-established with backoff whenever it drops — a database restart, a failover, an
 * idle-connection killer — LISTENing again on every channel. NOTIFYs sent while it was down are gone for good, so
 * after every reconnect the `onResync` subscribers re-read what those would have told them. A connection can also die
 * silently (a NAT or load balancer forgetting an idle flow): no error ever comes, NOTIFYs just stop. A heartbeat
 * query catches that; one that does not answer in time counts as a drop.
 *
 * Written on `pg` rather than with `pg-listen` (which the issue suggested): that library is not among our
 * dependencies, and what we need of it — reconnect, re-LISTEN, a resync hook — is this file.
 */
import pg from 'pg';

export interface PgListener {
  /** Subscribes to a channel (connecting first if needed); returns an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Calls `fn` after each re-established connection (not the first one); returns an unsubscribe function. */
  onResync(fn: () => void | Promise<void>): () => void;
  close(): Promise<void>;
}

export interface PgListenerOptions {
  connectionString: string | undefined;
  /** A drop, a failed reconnect attempt, a failing resync subscriber: logged, never thrown. */
  onError(err: Error): void;
  /** First retry delay and the ceiling it doubles up to (each with jitter, so replicas do not reconnect in step). */
  backoff?: { initialMs: number; maxMs: number };
  /** How often the connection is checked with `SELECT 1`, which must answer within the same time. */
  heartbeatMs?: number;
}

/** How the listener shows up in `pg_stat_activity` (operators, and the test that kills it). */
export const LISTENER_APPLICATION_NAME = 'switchboard-listener';

const DEFAULT_BACKOFF = { initialMs: 100, maxMs: 5_000 };
const DEFAULT_HEARTBEAT_MS = 30_000;

export function createPgListener(opts: PgListenerOptions): PgListener {
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const resyncs = new Set<() => void | Promise<void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let retry: NodeJS.Timeout | undefined;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const heartbeat = setInterval(() => void checkAlive(), heartbeatMs);
  heartbeat.unref();
  let failedAttempts = 0;
  let dropped = false;
  let closed = false;

  const listenOn = (c: pg.Client, channel: string) => c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);

  async function connect(): Promise<pg.Client> {
    // TCP keepalive from 10 s of idleness on: keeps middleboxes from forgetting the flow between NOTIFYs.
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: LISTENER_APPLICATION_NAME, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    c.on('notification', (n) => {
      if (c !== client) return;
      for (const h of handlers.get(n.channel) ?? []) h(n.payload ?? '');
    });
    // Both fire when the server ends the connection; only the first for the current client counts.
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('the LISTEN connection ended')));
    try {
      await c.connect();
      for (const channel of handlers.keys()) await listenOn(c, channel);
      return c;
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
  }

  function connected(): Promise<pg.Client> {
    if (client) return Promise.resolve(client);
    connecting ??= connect()
      .then((c) => (client = c))
      .finally(() => (connecting = undefined));
    return connecting;
  }

  function lost(c: pg.Client, err: Error): void {
    if (c !== client || closed) return;
    client = undefined;
    dropped = true;
    void c.end().catch(() => undefined);
    opts.onError(err);
    scheduleReconnect();
  }

  /** A connection that no longer answers is as good as dropped, even though nothing said so. */
  async function checkAlive(): Promise<void> {
    const c = client;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the LISTEN connection did not answer within ${heartbeatMs} ms`)), heartbeatMs);
    });
    try {
      await Promise.race([c.query('SELECT 1'), timeout]);
    } catch (err) {
      lost(c, err as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  function scheduleReconnect(): void {
    if (retry || closed) return;
    const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** failedAttempts);
    retry = setTimeout(() => {
      retry = undefined;
      void reconnect();
    }, ceiling * (0.5 + Math.random() / 2));
    retry.unref(); // a pending reconnect alone must not keep the process alive
  }

  async function reconnect(): Promise<void> {
    try {
      await connected();
    } catch (err) {
      failedAttempts++;
      if (!closed) opts.onError(err as Error);
      scheduleReconnect();
      return;
    }
    if (closed || !dropped) return;
    failedAttempts = 0;
    dropped = false;
    for (const fn of resyncs) {
      void Promise.resolve()
        .then(fn)
        .catch((err: unknown) => opts.onError(err as Error));
    }
  }

  return {
    async listen(channel, onPayload) {
      const isNew = !handlers.has(channel);
      const set = handlers.get(channel) ?? new Set();
      handlers.set(channel, set.add(onPayload));
      const c = await connected();
      if (isNew) await listenOn(c, channel);
      return async () => {
        handlers.get(channel)?.delete(onPayload);
      };
    },
    onResync(fn) {
      resyncs.add(fn);
      return () => resyncs.delete(fn);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
