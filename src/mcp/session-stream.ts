/**
 * A session's own stream to its client (the Streamable HTTP GET stream): what the gateway sends outside any request
 * — list changes, resource updates, messages and requests from an upstream's own stream — goes here, as the SDK
 * transport's standalone stream did. One open stream per session (a
 * second GET is refused with 409, as the SDK does); nothing is kept for a client without one, as before.
 *
 * A notification produced where the stream is not held (this replica has no GET stream of the session open) is
 * broadcast on the bus; the replica holding the stream sends it (`deliver`). So is a request to the client: the
 * replica that wrote it says so, and the client's answer comes back here (`cluster/request-home.ts`); when no replica
 * says so within `ASK_DELIVERY_MS`, the client has no stream open anywhere and the request fails, as before.
 *
 * For clients of 2025-11-25 the stream is resumable (`cluster/get-stream-log.ts`): a priming event, ids on every
 * event, and — when the client loses it — a short stored tail that a `GET` with `Last-Event-ID` takes over on any
 * replica, replayed before anything new.
 *
 * Requests to the client get ids of the form `sb-ask:<replica>:<n>`, unique in the session; the client's answer
 * arrives as a POST, on any replica (forwarded here: `cluster/request-home.ts`), and is matched here (`answer`).
 */
import type { ServerResponse } from 'node:http';
import type { Result } from '@modelcontextprotocol/server';
import { ErrorCode, McpError } from './mcp-error.js';
import { needsDrain, whenWritable } from './backpressure.js';
import { sseEvent } from './in-flight.js';
import { ASK_PREFIX, requestIdFor } from '../cluster/request-home.js';
import type { ClusterBus } from '../cluster/bus.js';
import type { ResumableStreams } from '../cluster/resumable-streams.js';
import type { GetStreamLog } from '../cluster/get-stream-log.js';

/** How long a take-over remembers what it replayed (see `replayed`). */
const REPLAYED_KEPT_MS = 5_000;
/** How long a request to the client waits for a replica to say it was written to the client's GET stream. */
export const ASK_DELIVERY_MS = 1_000;
/**
 * How long the client still counts as listening here after its last stream ended: what comes meanwhile is kept for
 * its return (the stored tail, `cluster/get-stream-log.ts`), so the upstream streams stay open as long.
 */
export const LISTEN_GRACE_MS = 5_000;

/** Told when the session's client starts listening on this replica, and when it has stopped (the live session). */
export interface StreamAudience {
  audienceChanged(listening: boolean): void;
}

/** Someone else who hears the session's notifications: a 2026-07-28 `subscriptions/listen` stream (`modern-listen.ts`). */
export interface StreamListener {
  notification(message: { method: string; params?: unknown }): void;
  /** The session is over or leaves memory. */
  closed(): void;
}

interface Pending {
  resolve(result: Result): void;
  reject(err: unknown): void;
}


export class SessionStream {
  private res: ServerResponse | undefined;
  private pendingMap: Map<string, Pending> | undefined;
  /** Made on first use (an idle session keeps none; see `switchable-aggregator.ts`). */
  private get pending(): Map<string, Pending> {
    return (this.pendingMap ??= new Map());
  }
  private asked = 0;
  /** Made on first use, as `pending`. */
  private listeners: Set<StreamListener> | undefined;
  /** The ids and stored tail of the current (or last, if cut) stream, when resumable. */
  private log: GetStreamLog | undefined;
  /** While a new stream replays what the one it resumes stored, what comes meanwhile waits here. */
  private held: unknown[] | undefined;
  /**
   * What a take-over replayed, for a few seconds after: a message the old holder both stored and broadcast (it had no
   * stream) can reach this replica over the bus after the replay, and must not be sent twice.
   */
  private replayed: Map<string, number> | undefined;
  /** Told when the client starts and stops listening here (`listening`). */
  audience: StreamAudience | undefined;
  /** What `audience` was last told. */
  private heard = false;
  /** Set while the last stream has ended but `LISTEN_GRACE_MS` has not passed. */
  private quiet: NodeJS.Timeout | undefined;

  constructor(
    private readonly sessionId: string,
    /** How a notification reaches the replica holding the stream; its replica id is in the ids of requests. */
    private readonly bus: ClusterBus,
    /** Where a resumable stream's ids and stored tail come from (absent: never resumable). */
    private readonly streams?: ResumableStreams,
  ) {}

  private get replica(): string {
    return this.bus.replica;
  }

  /**
   * Takes `res` as the session's stream and resolves when it ends; false if one is open already. `resumable`: ids and
   * a stored tail (2025-11-25 clients); `lastEventId`: the stream it resumes, whose stored tail is replayed first.
   */
  open(res: ServerResponse, opts: { resumable?: boolean; lastEventId?: string | undefined } = {}): Promise<void> | false {
    if (this.res && !this.res.destroyed) return false;
    this.res = res;
    this.heardNow();
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.sessionId });
    const log = opts.resumable && this.streams ? this.streams.getLog(this.sessionId) : undefined;
    this.log = log;
    if (log) res.write(log.priming());
    else res.flushHeaders();
    const tail = opts.lastEventId !== undefined && log ? this.streams!.handover(this.sessionId, opts.lastEventId) : undefined;
    if (tail) {
      this.held = [];
      const replayed = new Map<string, number>();
      this.replayed = replayed;
      setTimeout(() => {
        if (this.replayed === replayed) this.replayed = undefined;
      }, REPLAYED_KEPT_MS).unref();
      void tail
        .then(async (events) => {
          for (const e of events) {
            if (this.res !== res) break;
            const key = canonicalJson(JSON.parse(e.json));
            replayed.set(key, (replayed.get(key) ?? 0) + 1);
            await writeRaw(res, log!.frameJson(e.json));
          }
        })
        .catch(() => undefined)
        .finally(async () => {
          const held = this.held ?? [];
          this.held = undefined;
          for (const m of held) await this.emit(m).catch(() => undefined);
        });
    }
    return new Promise((resolve) => {
      res.once('close', () => {
        if (this.res === res) {
          this.res = undefined;
          // Lost by the client (not ended by the session): keep what follows for a moment, for its return.
          if (this.log === log) log?.cut();
          this.maybeQuiet();
        }
        resolve();
      });
    });
  }

  /** Writes `m` to the open stream (with its id), or while it is cut to its stored tail; true if written to a stream. */
  private async emit(m: unknown): Promise<boolean> {
    if (this.held) {
      this.held.push(m);
      return true;
    }
    if (this.replayed?.size) {
      const json = canonicalJson(m);
      const n = this.replayed.get(json);
      if (n !== undefined) {
        if (n > 1) this.replayed.set(json, n - 1);
        else this.replayed.delete(json);
        return true; // sent already, in the replay
      }
    }
    const res = this.res;
    if (res && !res.destroyed && !res.writableEnded) {
      await writeRaw(res, this.log ? this.log.frame(m) : sseEvent(m));
      return true;
    }
    if (this.log?.detachedNow) await this.log.store(m);
    return false;
  }

  /**
   * Sends a notification if the client has a stream open — here, or on another replica (else it is dropped, as the
   * SDK drops it). `local`: every replica produces this one itself (a tool-server change), so it is not broadcast.
   */
  async notify(message: { method: string; params?: unknown }, opts: { local?: boolean } = {}): Promise<void> {
    if (!opts.local && this.bus.shared && (!this.res || this.res.destroyed)) {
      void this.bus.publish({ kind: 'session-message', sessionId: this.sessionId, from: this.replica, message }).catch(() => undefined);
    }
    await this.deliver(message);
  }

  /**
   * A message for this replica's stream (and, a notification, its listeners) only: one broadcast by another replica,
   * or ours. True if it was written to an open stream.
   */
  async deliver(message: { method: string; params?: unknown; id?: string }): Promise<boolean> {
    if (message.id === undefined && this.listeners) for (const l of this.listeners) l.notification(message);
    return this.emit({ jsonrpc: '2.0', ...message });
  }

  /** Hands every notification to `l` too, until the returned function is called or the stream closes. */
  listen(l: StreamListener): () => void {
    (this.listeners ??= new Set()).add(l);
    this.heardNow();
    return () => {
      this.listeners?.delete(l);
      this.maybeQuiet();
    };
  }

  /** Whether the client listens on this replica: its GET stream is open here, or a `subscriptions/listen` stream. */
  get listening(): boolean {
    return (this.res !== undefined && !this.res.destroyed) || (this.listeners?.size ?? 0) > 0;
  }

  private heardNow(): void {
    clearTimeout(this.quiet);
    this.quiet = undefined;
    if (this.heard) return;
    this.heard = true;
    this.audience?.audienceChanged(true);
  }

  /** The client may have stopped listening here: `audience` is told once `LISTEN_GRACE_MS` pass without its return. */
  private maybeQuiet(): void {
    if (!this.heard || this.quiet || this.listening) return;
    this.quiet = setTimeout(() => {
      this.quiet = undefined;
      if (!this.heard || this.listening) return;
      this.heard = false;
      this.audience?.audienceChanged(false);
    }, LISTEN_GRACE_MS).unref();
  }

  /**
   * A new upstream session of this session's `toolServer` was opened here, where the client does not listen: the other
   * replicas are told, so the one where it listens opens that session's standalone stream. Nothing to tell without them.
   */
  upstreamOpenedUnheard(toolServer: string): void {
    if (!this.bus.shared || !this.bus.peers()) return;
    void this.bus.publish({ kind: 'upstream-opened', sessionId: this.sessionId, toolServer, from: this.replica }).catch(() => undefined);
  }

  /** How many listeners are attached. */
  get listenerCount(): number {
    return this.listeners?.size ?? 0;
  }

  /** Sends a request to the client on its stream and resolves with its result (its errors as `McpError`). */
  request(request: { method: string; params?: unknown }, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Result> {
    const res = this.res;
    if (res && !res.destroyed) return this.requestOn(res, request, opts, (m) => this.emit(m).then(() => undefined));
    if (!this.bus.shared) return Promise.reject(noStream());
    // The client's stream may be held by another replica: the request goes there, and is answered here.
    return this.requestOn(undefined, request, opts, async (m) => {
      const message = m as { method: string; params?: unknown; id?: string };
      if (message.id === undefined) {
        await this.bus.publish({ kind: 'session-message', sessionId: this.sessionId, from: this.replica, message });
        return;
      }
      const { x, acked } = this.bus.awaitAck(ASK_DELIVERY_MS);
      await this.bus.publish({ kind: 'session-message', sessionId: this.sessionId, from: this.replica, message, ack: x });
      if (!(await acked)) throw noStream();
    });
  }

  /**
   * Sends a request to the client on `res` (the stream of the client's request being answered, or the session's)
   * and resolves with its result; the client's answer arrives by POST and is matched by `answer`.
   */
  requestOn(
    res: ServerResponse | undefined,
    request: { method: string; params?: unknown },
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
    /** How a message goes out on `res` (a response stream's own writer, with its event ids); default: as is. */
    send: (m: unknown) => void | Promise<void> = (m) => writeTo(res!, m),
  ): Promise<Result> {
    const id = requestIdFor(ASK_PREFIX, this.replica, ++this.asked);
    return new Promise<Result>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        settle();
        void Promise.resolve(send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'The request was cancelled' } })).catch(() => undefined);
        reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new McpError(ErrorCode.RequestTimeout, 'Request cancelled'));
      };
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          settle();
          reject(new McpError(ErrorCode.RequestTimeout, 'Request timed out'));
        }, opts.timeoutMs);
      }
      opts.signal?.addEventListener('abort', aborted, { once: true });
      this.pending.set(id, {
        resolve: (r) => (settle(), resolve(r)),
        reject: (e) => (settle(), reject(e)),
      });
      Promise.resolve(send({ jsonrpc: '2.0', id, ...request })).catch((err: unknown) => this.pending.get(id)?.reject(err));
    });
  }

  /** The client's answer to one of this stream's requests: true if it was one (then it is handled here). */
  answer(m: { id?: unknown; result?: unknown; error?: unknown }): boolean {
    if (typeof m.id !== 'string' || !m.id.startsWith(ASK_PREFIX)) return false;
    const waiting = this.pendingMap?.get(m.id);
    if (!waiting) return true; // answered late (timed out, cancelled): nothing waits for it any more
    if (m.error !== undefined) {
      const e = m.error as { code?: unknown; message?: unknown; data?: unknown };
      waiting.reject(new McpError(typeof e.code === 'number' ? e.code : ErrorCode.InternalError, typeof e.message === 'string' ? e.message : 'Error', e.data));
    } else waiting.resolve((m.result ?? {}) as Result);
    return true;
  }

  /** Ends the stream (the session is over or leaves memory); requests waiting on the client fail. */
  close(): void {
    // The session's tool servers close with it: nothing to tell the audience.
    clearTimeout(this.quiet);
    this.quiet = undefined;
    this.heard = false;
    for (const p of [...(this.pendingMap?.values() ?? [])]) p.reject(new McpError(ErrorCode.ConnectionClosed, 'Session closed'));
    const listeners = [...(this.listeners ?? [])];
    this.listeners = undefined;
    for (const l of listeners) l.closed();
    const res = this.res;
    this.res = undefined;
    this.log?.stop();
    this.log = undefined;
    if (res && !res.writableEnded) res.end();
  }
}

/**
 * `value` as JSON with every object's keys in one order: the same text for the same message whoever wrote it. The
 * event store keeps messages as `jsonb`, which gives them back with its own key order and spacing, so a replayed
 * event and the same message arriving live never had the same `JSON.stringify` text.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

const noStream = () => new McpError(ErrorCode.ConnectionClosed, 'The client has no stream open to receive the request');

async function writeTo(res: ServerResponse, m: unknown): Promise<void> {
  await writeRaw(res, sseEvent(m));
}

async function writeRaw(res: ServerResponse, event: string): Promise<void> {
  if (res.destroyed || res.writableEnded) return;
  if (!res.write(event) && needsDrain(res)) await whenWritable(res);
}
