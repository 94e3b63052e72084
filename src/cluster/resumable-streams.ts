/**
 * This replica's resumable response streams (`response-stream.ts`), and the other half: a client coming back with
 * `GET` + `Last-Event-ID` — on this replica or any other — is served what followed its last event from the event
 * store (`event-store.ts`), then what the call still sends as it is stored (woken by the bus's `events-appended`),
 * ending with the answer. The replica serving the call is told someone follows (so it does not give the call up);
 * if that replica is dead (no heartbeat, `bus.ts`), the follower answers the request with an error at once instead
 * of leaving the client waiting.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ClusterBus } from './bus.js';
import type { Logger } from '../observability/logger.js';
import type { Database } from '../db/database.js';
import { createEventStore, type EventStore, type StoredEvent } from './event-store.js';
import { frame, parseEventId, RESUME_GRACE_MS, ResponseStream, type ParsedEventId, type StreamHost } from './response-stream.js';
import { GetStreamLog, type GetLogHost } from './get-stream-log.js';
import { needsDrain, whenWritable } from '../mcp/backpressure.js';

/** How often a follower checks that the replica serving its call is alive (without reading the store). */
const CHECK_MS = 250;
/** How often it reads the store all the same (an `events-appended` lost while the listener reconnected). */
const REREAD_MS = 5_000;
/** How long a follower waits for that replica to say whether the call is still running. */
const ACK_MS = 5_000;
/**
 * How long the tail of an answered stream is kept (between this and twice it): the answer may have gone to a socket
 * its client had already lost — or to a balancer's connection that outlived the client's — and the client, coming
 * back with `Last-Event-ID` after the `retry` wait, is then given it from the store.
 */
const ANSWERED_KEPT_MS = 5_000;
/** At most this many characters of answered tails per generation; answers past it are not kept. */
const ANSWERED_KEPT_BYTES = 16 * 1024 * 1024;

export const REPLICA_GONE = { code: -32603, message: 'The gateway replica serving this request stopped before it was answered; send the request again' };

/** A message that ends a response stream: the answer (a response, not a request or notification). */
function isAnswer(json: string): boolean {
  const m = JSON.parse(json) as { method?: unknown; result?: unknown; error?: unknown };
  return m.method === undefined && (m.result !== undefined || m.error !== undefined);
}

export interface ResumableStreams {
  readonly store: EventStore;
  /**
   * A response stream for request `requestId` of the session, on `res`. `resumable`: the client speaks 2025-11-25 or
   * later (priming event, ids, resumption); otherwise a plain stream, as before, that nothing can resume.
   */
  start(res: ServerResponse, sessionId: string, requestId: string | number, headers: Record<string, string>, resumable: boolean): ResponseStream;
  /**
   * Serves a `GET` whose `Last-Event-ID` names a response stream of `sessionId`; false when it names none (the
   * session's own stream then opens as usual). Resolves when the replayed stream ends.
   */
  resume(sessionId: string, lastEventId: string, res: ServerResponse, headers: Record<string, string>): Promise<void> | false;
  /** Streams live on this replica. */
  readonly size: number;
  /** Ids (and, once cut, storage) for a session's GET stream. */
  getLog(sessionId: string): GetStreamLog;
  /**
   * A GET stream of `sessionId` taking over from the one `lastEventId` names (any replica): once that one's replica has
   * stopped storing (or is dead), the events it stored after `lastEventId`. Undefined if the id names no GET stream.
   */
  handover(sessionId: string, lastEventId: string): Promise<StoredEvent[]> | undefined;
}

export function createResumableStreams(deps: { db: Database; bus: ClusterBus; logger: Logger; graceMs?: number }): ResumableStreams {
  const { bus, logger } = deps;
  const store = createEventStore(deps.db);
  const live = new Map<string, ResponseStream>();
  /**
   * Answered streams' tails in two generations, the older dropped every `ANSWERED_KEPT_MS`: one map write per call
   * and one timer per replica, instead of a timer per call.
   */
  // The stream's ids only, not the stream: it holds its response, and with it the whole request, which would then
  // live for these seconds too — thousands of them a second under load, every one promoted to the old generation.
  type Answered = { sessionId: string; id: string; tail: StoredEvent[] };
  let answered = new Map<string, Answered>();
  let answeredBefore = new Map<string, Answered>();
  /** Characters kept in the newer generation (a bound on memory when answers are large and many). */
  let answeredBytes = 0;
  const rotate = setInterval(() => {
    answeredBytes = 0;
    answeredBefore = answered;
    answered = new Map();
  }, ANSWERED_KEPT_MS);
  rotate.unref();
  const acks = new Map<string, (live: boolean) => void>();
  /** Cut GET streams still storing, by stream id. */
  const cutGets = new Map<string, GetStreamLog>();

  const host: StreamHost = {
    replica: bus.replica,
    graceMs: deps.graceMs ?? RESUME_GRACE_MS,
    register: (s) => void live.set(s.id!, s),
    unregister: (s, tail) => {
      if (live.get(s.id!) === s) live.delete(s.id!);
      if (!tail) return;
      const bytes = tail.reduce((n, e) => n + e.json.length, 0);
      if (answeredBytes + bytes > ANSWERED_KEPT_BYTES) return;
      answeredBytes += bytes;
      answered.set(s.id!, { sessionId: s.sessionId, id: s.id!, tail });
    },
    async persist(s, events) {
      if (!events.length) return;
      try {
        await store.append(s.sessionId, s.id!, events);
        await bus.publish({ kind: 'events-appended', sessionId: s.sessionId, streamId: s.id!, seq: events.at(-1)!.seq });
      } catch (err) {
        // The client that comes back finds a gap it cannot be given: it gets the error of a replica gone.
        logger.warn({ err, sessionId: s.sessionId }, 'could not store the events of a cut response stream');
      }
    },
  };

  const getHost: GetLogHost = {
    replica: bus.replica,
    graceMs: host.graceMs,
    persist: (log, events) => host.persist(log, events),
    detached: (log) => void cutGets.set(log.id, log),
    attached: (log) => {
      if (cutGets.get(log.id) === log) cutGets.delete(log.id);
    },
  };

  bus.onDirect('follow', (m) => {
    const s = live.get(m.streamId) ?? cutGets.get(m.streamId);
    const tell = (live: boolean) => void bus.send(m.from, { type: 'followed', x: m.x, live }).catch(() => undefined);
    const done = s ? undefined : (answered.get(m.streamId) ?? answeredBefore.get(m.streamId));
    if (done && done.sessionId === m.sessionId) {
      // Over, and stored before saying so (a follower reads the store once told).
      answered.delete(m.streamId);
      answeredBefore.delete(m.streamId);
      void host.persist(done, done.tail).finally(() => tell(false));
      return;
    }
    // Told again once the stream is over here: a follower of a call cancelled meanwhile ends too.
    tell(s !== undefined && s.sessionId === m.sessionId && s.follow(() => tell(false)));
  });
  bus.onDirect('followed', (m) => acks.get(m.x)?.(m.live));

  /** Resolves once the replica of `last`'s stream says it stopped storing it, is dead, or has not answered in time. */
  async function takeOver(sessionId: string, last: ParsedEventId): Promise<StoredEvent[]> {
    const x = randomBytes(9).toString('base64url');
    const asked = Date.now();
    let over = false;
    let wake: (() => void) | undefined;
    acks.set(x, (l) => {
      if (!l) over = true;
      wake?.();
    });
    const tick = setInterval(() => wake?.(), CHECK_MS);
    try {
      await bus.send(last.replica, { type: 'follow', sessionId, streamId: last.streamId, from: bus.replica, x }).catch(() => (over = true));
      while (!over && bus.alive(last.replica) && Date.now() - asked < ACK_MS) await new Promise<void>((r) => (wake = r));
      return await store.after(sessionId, last.streamId, last.seq);
    } finally {
      clearInterval(tick);
      acks.delete(x);
    }
  }

  /**
   * Serves the stream `last` names from the store. The status line waits for the serving replica's first reply (or
   * for it being gone): by then that replica has stopped writing to the stream the client lost and stores what follows
   * (`ResponseStream.follow`), so a client that acts on the headers misses nothing.
   */
  async function follow(sessionId: string, last: ParsedEventId, res: ServerResponse, headers: Record<string, string>): Promise<void> {
    const open = () => {
      if (res.headersSent) return;
      res.writeHead(200, headers);
      res.flushHeaders();
    };
    let seq = last.seq;
    let wake: (() => void) | undefined;
    const woken = () => wake?.();
    /** Something may have been stored since the last read. */
    let dirty = true;
    let readAt = 0;
    const off = bus.on('events-appended', (m) => {
      if (m.sessionId !== sessionId || m.streamId !== last.streamId) return;
      dirty = true;
      woken();
    });
    res.once('close', woken);
    // Whether the replica serving the call still runs it (undefined: not told yet).
    let running: boolean | undefined;
    const x = randomBytes(9).toString('base64url');
    // Once over, always over (the two replies of one follow may arrive in either order).
    acks.set(x, (l) => {
      if (running !== false) running = l;
      dirty = true;
      woken();
    });
    const asked = Date.now();
    bus.send(last.replica, { type: 'follow', sessionId, streamId: last.streamId, from: bus.replica, x }).catch(() => (running = false));
    const tick = setInterval(woken, CHECK_MS);
    try {
      for (;;) {
        const gone = !bus.alive(last.replica) || running === false || (running === undefined && Date.now() - asked > ACK_MS);
        // Read after deciding: a replica that says the call is over stored everything before saying so.
        const read = dirty || gone || Date.now() - readAt > REREAD_MS;
        dirty = false;
        if (read) readAt = Date.now();
        if (running !== undefined || gone) open();
        for (const e of read ? await store.after(sessionId, last.streamId, seq) : []) {
          if (res.destroyed) return;
          open();
          seq = e.seq;
          const data = frame(`${last.streamId}:${e.seq}`, e.json);
          if (isAnswer(e.json)) return void res.end(data);
          if (!res.write(data) && needsDrain(res)) await whenWritable(res);
        }
        if (res.destroyed) return;
        if (gone) {
          open();
          if (last.requestId !== undefined && running !== false) res.end(frame(undefined, JSON.stringify({ jsonrpc: '2.0', id: last.requestId, error: REPLICA_GONE })));
          else res.end();
          return;
        }
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      clearInterval(tick);
      acks.delete(x);
      off();
      res.off('close', woken);
    }
  }

  return {
    store,
    start(res, sessionId, requestId, headers, resumable) {
      const s = new ResponseStream(res, resumable ? host : undefined, sessionId, requestId, headers);
      if (resumable) s.open();
      return s;
    },
    resume(sessionId, lastEventId, res, headers) {
      const last = parseEventId(lastEventId);
      if (last?.kind !== 'response') return false;
      return follow(sessionId, last, res, headers).catch((err: unknown) => {
        logger.warn({ err, sessionId }, 'could not replay a response stream');
        if (!res.headersSent && !res.destroyed) res.writeHead(200, headers);
        if (!res.writableEnded) res.end();
      });
    },
    get size() {
      return live.size;
    },
    getLog: (sessionId) => new GetStreamLog(getHost, sessionId),
    handover(sessionId, lastEventId) {
      const last = parseEventId(lastEventId);
      return last?.kind === 'get' ? takeOver(sessionId, last) : undefined;
    },
  };
}
