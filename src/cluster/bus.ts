/**
 * The cluster bus: how the gateway's replicas tell each other things, over PostgreSQL LISTEN/NOTIFY on the one
 * dedicated, self-healing listener connection (`db/pg-listener.ts`); on the embedded database (one process) the same
 * API delivers in-process. One typed API for every kind of message (docs/architecture.md §Replicas):
 *
 * - broadcasts (`publish`/`on`): a session closed, a team's tool servers changed, events appended to a stream of the
 *   event store, a message for a session's GET stream, a cancellation, a replica's heartbeat;
 * - direct messages (`send`/`onDirect`) for one replica: a client's answer to a request that replica's call is
 *   waiting for, a forwarded `input_required` retry and what its exchange sends back, a stream being followed.
 *
 * Payloads are small: NOTIFY carries at most 8,000 bytes, so a body larger than `INLINE_LIMIT` is written to
 * `bus_messages` and the NOTIFY carries `@<row id>` (receivers read the row; old rows are pruned by age).
 * The two channels that existed before the bus keep their names and payloads (a rolling upgrade mixes versions).
 *
 * Heartbeats: every replica announces itself every `HEARTBEAT_MS`; one not heard from for `DEAD_AFTER_MS` is dead
 * (`alive`), and what waits on it fails fast (`cluster/replica-watch.ts`).
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';

export const HEARTBEAT_MS = 1_000;
/** Three and a half beats missed: a replica is dead well inside the 5 s a waiting client is promised. */
export const DEAD_AFTER_MS = 3_500;
/** Bodies up to this many bytes ride the NOTIFY itself (its limit is 8,000 bytes with the channel name). */
export const INLINE_LIMIT = 7_000;
/** How long an out-of-line body is kept for its receivers. */
const BODY_TTL_MS = 60_000;

/** The messages every replica hears. */
export type Broadcast =
  | { kind: 'session-closed'; sessionId: string }
  | { kind: 'tools-changed'; teamId: string; from: string }
  | { kind: 'events-appended'; sessionId: string; streamId: string; seq: number }
  /**
   * A message for the session's GET stream, produced where the stream is not held: a notification, or a request to
   * the client (with its `sb-ask:` id) — then `ack`: the replica that wrote it to an open stream tells `from` (`ack`).
   */
  | { kind: 'session-message'; sessionId: string; from: string; message: { method: string; params?: unknown; id?: string }; ack?: string }
  /**
   * A new upstream session of the session was opened on `from`, where its client does not listen: the replica where
   * it listens opens that upstream session's standalone stream (`UpstreamClient.listen`).
   */
  | { kind: 'upstream-opened'; sessionId: string; toolServer: string; from: string }
  /** The client cancelled request `requestId` of the session, and the replica it reached does not serve it. */
  | { kind: 'cancelled'; sessionId: string; requestId: string | number; from: string }
  /** `leaving`: the replica is shutting down (its last word): it is dead from now on, without waiting for silence. */
  | { kind: 'heartbeat'; replica: string; leaving?: boolean };

/** The messages for one replica. */
export type Direct =
  /** The client's answer to a request (`sb-relay:`/`sb-ask:`) this replica put to it. */
  | { type: 'answer'; sessionId: string; message: { id: string; result?: unknown; error?: unknown } }
  /** A 2026-07-28 retry for a flight parked here; what it sends goes back to `from` as `exchange` messages `x`. */
  | { type: 'resume'; from: string; x: string; token: string; responses: Record<string, unknown>; capabilities: unknown }
  | { type: 'exchange'; x: string; op: 'notify' | 'result' | 'input' | 'error'; body: unknown; state?: string }
  /** The client of forwarded exchange `x` went away. */
  | { type: 'gone'; x: string }
  /** A client resumed stream `streamId` (cut before its answer): the call it carries goes on; reply `followed` to `from`. */
  | { type: 'follow'; sessionId: string; streamId: string; from: string; x: string }
  /** Whether the stream a `follow` named is still running (false: everything it sent is in the store). */
  | { type: 'followed'; x: string; live: boolean }
  /** What `x` asked for was done (see `awaitAck`). */
  | { type: 'ack'; x: string };

type Handler<T> = (m: T) => void;

const CHANNEL = {
  'session-closed': 'switchboard_session_closed',
  'tools-changed': 'switchboard_tools_changed',
  'events-appended': 'switchboard_events',
  'session-message': 'switchboard_session_message',
  cancelled: 'switchboard_cancelled',
  'upstream-opened': 'switchboard_upstream_opened',
  heartbeat: 'switchboard_heartbeat',
} as const satisfies Record<Broadcast['kind'], string>;
const directChannel = (replica: string) => `switchboard_to_${replica}`;

/** The payload each broadcast kind travels as (the first two as they always did). */
function encode(m: Broadcast): string {
  if (m.kind === 'session-closed') return m.sessionId;
  if (m.kind === 'tools-changed') return `${m.from}:${m.teamId}`;
  if (m.kind === 'heartbeat') return m.leaving ? `${m.replica}!` : m.replica;
  return JSON.stringify(m);
}
function decode(kind: Broadcast['kind'], payload: string): Broadcast | undefined {
  if (kind === 'session-closed') return { kind, sessionId: payload };
  if (kind === 'heartbeat') return payload.endsWith('!') ? { kind, replica: payload.slice(0, -1), leaving: true } : { kind, replica: payload };
  if (kind === 'tools-changed') {
    const [from, teamId] = payload.split(':');
    return from && teamId ? { kind, from, teamId } : undefined;
  }
  const m = JSON.parse(payload) as Broadcast;
  return m.kind === kind ? m : undefined;
}

export interface ClusterBus {
  /** This process's replica id: short, random per start. */
  readonly replica: string;
  /** Whether other processes may exist (PostgreSQL); false: everything is in this process. */
  readonly shared: boolean;
  publish(m: Broadcast): Promise<void>;
  on<K extends Broadcast['kind']>(kind: K, fn: Handler<Extract<Broadcast, { kind: K }>>): () => void;
  send(to: string, m: Direct): Promise<void>;
  onDirect<T extends Direct['type']>(type: T, fn: Handler<Extract<Direct, { type: T }>>): () => void;
  /** Called after the listener reconnected (messages sent meanwhile are lost: re-read what they would have said). */
  onResync(fn: () => void | Promise<void>): () => void;
  /** Whether `replica` has been heard from recently (this one always is). */
  alive(replica: string): boolean;
  /** Whether any other replica has been heard from recently (or this one has not listened long enough to know). */
  peers(): boolean;
  /** A fresh token `x` and a promise: true once some replica sends `{ type: 'ack', x }` here, false after `timeoutMs`. */
  awaitAck(timeoutMs: number): { x: string; acked: Promise<boolean> };
  /** Starts listening and beating; resolves once this replica hears the others. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createClusterBus(deps: { db: Database; logger: Logger; clock?: () => number; heartbeatMs?: number; deadAfterMs?: number }): ClusterBus {
  const { db, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
  const deadAfterMs = deps.deadAfterMs ?? DEAD_AFTER_MS;
  const replica = randomBytes(6).toString('hex');
  const handlers = new Map<string, Set<Handler<never>>>();
  const directs = new Map<string, Set<Handler<never>>>();
  /** Replica → when it was last heard from. */
  const seen = new Map<string, number>();
  let startedAt = clock();
  let beat: NodeJS.Timeout | undefined;
  let prune: NodeJS.Timeout | undefined;
  const unlisten: (() => Promise<void>)[] = [];
  let unresync: (() => void) | undefined;
  const waitingAcks = new Map<string, (ok: boolean) => void>();

  const dispatch = (map: Map<string, Set<Handler<never>>>, key: string, m: unknown) => {
    for (const fn of map.get(key) ?? []) {
      try {
        (fn as Handler<unknown>)(m);
      } catch (err) {
        logger.warn({ err, kind: key }, 'a cluster bus handler failed');
      }
    }
  };
  const add = (map: Map<string, Set<Handler<never>>>, key: string, fn: Handler<never>) => {
    const set = map.get(key) ?? new Set();
    map.set(key, set.add(fn));
    return () => void set.delete(fn);
  };

  /** A payload as NOTIFY can carry it: itself, or a pointer to its row. */
  async function outbound(payload: string): Promise<string> {
    if (Buffer.byteLength(payload) <= INLINE_LIMIT) return payload;
    const [row] = await db.sql.query<{ id: string }>('INSERT INTO bus_messages (body) VALUES ($1) RETURNING id::text AS id', [payload], 'bus_put');
    return `@${row!.id}`;
  }
  async function inbound(payload: string): Promise<string | undefined> {
    if (!payload.startsWith('@')) return payload;
    const [row] = await db.sql.query<{ body: string }>('SELECT body FROM bus_messages WHERE id = $1', [payload.slice(1)], 'bus_get');
    return row?.body;
  }
  /** Per channel, messages are handed over in the order they came: one read out of line must not let a later one pass. */
  const order = new Map<string, Promise<void>>();
  const received = (what: string, payload: string, deliver: (text: string) => void) => {
    const take = (text: string | undefined) => {
      if (text === undefined) return logger.warn({ what }, 'a cluster bus message was pruned before it was read');
      try {
        deliver(text);
      } catch (err) {
        logger.warn({ err, what }, 'an unreadable cluster bus message was dropped');
      }
    };
    const before = order.get(what);
    if (!before && !payload.startsWith('@')) return take(payload);
    const next = (before ?? Promise.resolve())
      .then(() => inbound(payload))
      .then(take)
      .catch((err: unknown) => logger.warn({ err, what }, 'could not read a cluster bus message'))
      .finally(() => {
        if (order.get(what) === next) order.delete(what);
      });
    order.set(what, next);
  };

  add(directs, 'ack', ((m: { x: string }) => waitingAcks.get(m.x)?.(true)) as Handler<never>);

  const bus: ClusterBus = {
    replica,
    shared: db.shared,
    async publish(m) {
      if (!db.shared) {
        // In-process: delivered on the next turn, as a NOTIFY would be.
        queueMicrotask(() => dispatch(handlers, m.kind, m));
        return;
      }
      await db.sql.notify(CHANNEL[m.kind], await outbound(encode(m)));
    },
    on(kind, fn) {
      return add(handlers, kind, fn as Handler<never>);
    },
    async send(to, m) {
      if (!db.shared || to === replica) {
        queueMicrotask(() => dispatch(directs, m.type, m));
        return;
      }
      await db.sql.notify(directChannel(to), await outbound(JSON.stringify(m)));
    },
    onDirect(type, fn) {
      return add(directs, type, fn as Handler<never>);
    },
    onResync(fn) {
      return db.sql.onResync(fn);
    },
    awaitAck(timeoutMs) {
      const x = randomBytes(9).toString('base64url');
      const acked = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waitingAcks.delete(x);
          resolve(ok);
        };
        waitingAcks.set(x, done);
      });
      return { x, acked };
    },
    peers() {
      if (!db.shared) return false;
      const now = clock();
      if (startedAt > now - deadAfterMs) return true;
      for (const [other, last] of seen) if (other !== replica && last > now - deadAfterMs) return true;
      return false;
    },
    alive(other) {
      if (other === replica || !db.shared) return true;
      const last = seen.get(other);
      // A replica never heard from is given the benefit of the doubt until this one has listened long enough.
      return (last ?? startedAt) > clock() - deadAfterMs;
    },
    async start() {
      if (!db.shared) return;
      for (const kind of Object.keys(CHANNEL) as Broadcast['kind'][]) {
        unlisten.push(
          await db.sql.listen(CHANNEL[kind], (payload) =>
            received(kind, payload, (text) => {
              const m = decode(kind, text);
              if (m) dispatch(handlers, kind, m);
            }),
          ),
        );
      }
      unlisten.push(await db.sql.listen(directChannel(replica), (payload) => received('direct', payload, (text) => {
        const m = JSON.parse(text) as Direct;
        dispatch(directs, m.type, m);
      })));
      add(handlers, 'heartbeat', ((m: { replica: string; leaving?: boolean }) => seen.set(m.replica, m.leaving ? -Infinity : clock())) as Handler<never>);
      // Beats missed while the listener was down say nothing about the others: start counting again.
      unresync = db.sql.onResync(() => {
        startedAt = clock();
        seen.clear();
      });
      startedAt = clock();
      const announce = () => void bus.publish({ kind: 'heartbeat', replica }).catch((err: unknown) => logger.debug({ err }, 'could not send a heartbeat'));
      announce();
      beat = setInterval(announce, heartbeatMs);
      beat.unref();
      prune = setInterval(() => {
        void db.sql.query('DELETE FROM bus_messages WHERE created_at < $1', [new Date(clock() - BODY_TTL_MS)]).catch(() => undefined);
      }, BODY_TTL_MS);
      prune.unref();
    },
    async close() {
      if (beat && db.shared) await bus.publish({ kind: 'heartbeat', replica, leaving: true }).catch(() => undefined);
      clearInterval(beat);
      clearInterval(prune);
      unresync?.();
      for (const u of unlisten.splice(0)) await u().catch(() => undefined);
    },
  };
  return bus;
}
