/**
 * One POST response stream (a relayed `tools/call`, a request the session's front end answers), resumable in the
 * 2025-11-25 way (basic/transports §Resumability and Redelivery, SSE polling): it opens with a priming event — its
 * id, empty data, a `retry` hint — and every event after it carries an id `<stream>:<seq>`. The stream id says which
 * replica serves the call and which request it answers (`<replica>.<nonce>.<request id>`), so any replica can resume
 * it, and answer with an error if that replica has died.
 *
 * Cheap while nothing goes wrong: events go to the socket only, and the last few are kept in memory. Only when the
 * client loses the stream before the answer are they written to the event store (`event-store.ts`), with everything
 * that follows; the call then goes on for `RESUME_GRACE_MS`, and for as long as a client follows it
 * (`resumable-streams.ts`); nobody following by then is taken as the client having given up, and the call is
 * cancelled as before. A measured choice: storing every event of every call would put an INSERT per call on the
 * database for the rare stream that is cut (see docs/architecture.md §Replicas).
 */
import type { ServerResponse } from 'node:http';
import { needsDrain, whenWritable } from '../mcp/backpressure.js';
import type { StoredEvent } from './event-store.js';
import { StoreQueue } from './store-queue.js';

/** The reconnection delay the priming event asks for. */
export const RETRY_MS = 1_000;
/** How long a call whose stream was cut waits for its client to come back (`GET` with `Last-Event-ID`). */
export const RESUME_GRACE_MS = 5_000;
/**
 * How long the priming event may wait to go out with the stream's first event or its answer: most calls answer
 * sooner, and one write instead of two was ~10 % of a relayed call's CPU (bench profile). A call that takes longer
 * sends it alone, so its client holds an id from early on.
 */
export const PRIME_WITHIN_MS = 50;
/** Events kept in memory per live stream, for the case it is cut (a client resumes from one it received lately). */
const KEPT = 256;

const EVENT_ID = /^([0-9a-f]{12})\.(G?[0-9a-z]{1,11})\.([A-Za-z0-9_-]*):(\d{1,9})$/;

/** What a `Last-Event-ID` of a response stream says. */
export interface ParsedEventId {
  /** A response stream's event, or one of a session's GET stream (`get-stream-log.ts`). */
  kind: 'response' | 'get';
  streamId: string;
  /** The replica serving the call. */
  replica: string;
  /** The client's id of the request the stream answers (absent if it was too long to carry). */
  requestId: string | number | undefined;
  seq: number;
}

/**
 * Streams numbered per process: with the replica id (random per start) the id is unique. It need not be unguessable:
 * a stream's events are only ever read for the session they belong to (`resumable-streams.ts`).
 */
let streams = 0;

function newStreamId(replica: string, requestId: string | number): string {
  const encoded = Buffer.from(typeof requestId === 'number' ? String(requestId) : JSON.stringify(requestId)).toString('base64url');
  return `${replica}.${(++streams).toString(36)}.${encoded.length <= 128 ? encoded : ''}`;
}

export function parseEventId(id: string): ParsedEventId | undefined {
  const m = EVENT_ID.exec(id);
  if (!m) return undefined;
  const [, replica, nonce, encoded, seq] = m as unknown as [string, string, string, string, string];
  let requestId: string | number | undefined;
  try {
    const v = encoded ? (JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as unknown) : undefined;
    if (typeof v === 'string' || typeof v === 'number') requestId = v;
  } catch {
    // not one of ours after all: no request id to answer
  }
  return { kind: nonce.startsWith('G') ? 'get' : 'response', streamId: `${replica}.${nonce}.${encoded}`, replica, requestId, seq: Number(seq) };
}

/**
 * Ends `res` with `text` (event-stream text), after `headers` if none went out yet. A stream that ends with its
 * first write — nearly every call — goes out with its length: headers and body in one `write`, where chunked
 * framing made a `writev` of the head, the chunk's size, the chunk and the terminator (bench profile: the response's
 * write was the largest single item of a relayed call's CPU).
 */
export function endStream(res: ServerResponse, headers: Record<string, string>, text: string): void {
  if (!res.headersSent) {
    res.setHeader('content-length', Buffer.byteLength(text));
    res.writeHead(200, headers);
  }
  res.end(text);
}

export const frame = (id: string | undefined, json: string): string => `${id !== undefined ? `id: ${id}\n` : ''}event: message\ndata: ${json}\n\n`;

/** What a stream needs from the replica's registry (`resumable-streams.ts`). */
export interface StreamHost {
  readonly replica: string;
  /** How long a cut stream's call waits for its client to come back (`RESUME_GRACE_MS` unless configured). */
  readonly graceMs: number;
  /** Writes events of a cut stream and tells followers; resolves when done (in order per stream). */
  persist(stream: { sessionId: string; id: string | undefined }, events: StoredEvent[]): Promise<void>;
  register(stream: ResponseStream): void;
  /** The stream is over here; `tail`: its last events up to the answer, if it ended without having been cut. */
  unregister(stream: ResponseStream, tail?: StoredEvent[]): void;
}

export class ResponseStream {
  readonly id: string | undefined;
  private seq = 0;
  private kept: StoredEvent[] = [];
  private cutAt: number | undefined;
  /** Told when the stream is over here (everything it sent is stored by then): the clients following it. */
  private followers: (() => void)[] | undefined;
  private grace: NodeJS.Timeout | undefined;
  /** Events on their way to the store, once the stream is cut (none before: a whole stream costs no write). */
  private queue: StoreQueue | undefined;
  private ended = false;
  /** The priming event, until it is sent (with the first event or the answer, or alone after `PRIME_WITHIN_MS`). */
  private priming: string | undefined;
  private primeTimer: NodeJS.Timeout | undefined;
  private opened = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly host: StreamHost | undefined,
    readonly sessionId: string,
    requestId: string | number,
    private readonly headers: Record<string, string>,
  ) {
    this.id = host ? newStreamId(host.replica, requestId) : undefined;
  }

  /**
   * A resumable stream: registered, and its priming event prepared — sent with what comes first, or alone soon
   * (`PRIME_WITHIN_MS`). The headers go out with the first write too (`send`, `finish`).
   */
  open(): void {
    if (!this.id || this.opened) return;
    this.opened = true;
    this.host!.register(this);
    // `data:` with nothing after it (not even the space): empty data, which naive parsers looking for `data: ` skip.
    this.priming = `id: ${this.id}:0\nretry: ${RETRY_MS}\ndata:\n\n`;
    this.primeTimer = setTimeout(() => {
      if (!this.ended && !this.res.destroyed) this.send(this.primed(''));
    }, PRIME_WITHIN_MS);
    this.primeTimer.unref();
  }

  /** `text` on the stream, which stays open (chunked): after the headers if they have not gone out yet. */
  private send(text: string): boolean {
    if (!this.res.headersSent) this.res.writeHead(200, this.headers);
    return this.res.write(text);
  }

  /** `text`, and the end of the stream. */
  private finish(text: string): void {
    endStream(this.res, this.headers, text);
  }

  /** `text`, after the priming event if that has not gone out yet. */
  private primed(text: string): string {
    const priming = this.priming;
    if (priming === undefined) return text;
    this.priming = undefined;
    clearTimeout(this.primeTimer);
    return priming + text;
  }

  /** Whether the client is still reading this stream (or, once cut, someone may still come back for it). */
  get wanted(): boolean {
    return !this.ended && (this.cutAt !== undefined || !this.res.destroyed);
  }

  /** One event before the answer; a promise: wait, the client reads slowly (or the store is behind). */
  write(m: unknown): void | Promise<void> {
    if (this.ended) return;
    const json = JSON.stringify(m);
    if (!this.id) {
      if (this.res.destroyed) return;
      if (!this.send(frame(undefined, json)) && needsDrain(this.res)) return whenWritable(this.res);
      return;
    }
    const event = { seq: ++this.seq, json };
    if (this.cutAt !== undefined) {
      return this.store().addOrWait([event]);
    }
    this.open();
    this.kept.push(event);
    if (this.kept.length > KEPT) this.kept.shift();
    if (!this.send(this.primed(frame(`${this.id}:${event.seq}`, json))) && needsDrain(this.res)) return whenWritable(this.res);
  }

  /** The answer: the stream's last event. */
  end(m: unknown): void {
    if (this.ended) return;
    const json = JSON.stringify(m);
    const event = { seq: ++this.seq, json };
    if (this.cutAt !== undefined) {
      void this.store().add([event]).finally(() => this.close());
      return;
    }
    if (this.id) this.kept.push(event);
    this.close(true);
    if (this.res.destroyed) return;
    this.finish(this.primed(frame(this.id ? `${this.id}:${event.seq}` : undefined, json)));
  }

  /** The call ended with nothing owed to the client (cancelled). */
  abandon(): void {
    clearTimeout(this.grace);
    if (this.cutAt !== undefined) void (this.queue?.settled ?? Promise.resolve()).finally(() => this.close());
    else this.close();
    if (!this.res.writableEnded && !this.res.destroyed) this.finish('');
  }

  /**
   * The client lost the stream before the answer. Resumable: what it may have missed and what follows goes to the
   * store, and `abort` runs unless a client follows within `RESUME_GRACE_MS`. Otherwise `abort` runs at once.
   */
  cut(abort: () => void): void {
    if (this.ended || this.cutAt !== undefined) return;
    if (!this.id) return abort();
    this.cutAt = Date.now();
    void this.store().add(this.kept.splice(0));
    this.grace = setTimeout(() => {
      if (!this.followers?.length) abort();
    }, this.host!.graceMs);
    this.grace.unref();
  }

  /**
   * Ends the client's stream before the answer on purpose, as the upstream did its own (SSE polling): the client
   * comes back with `Last-Event-ID` after the `retry` wait and is served the rest from the store.
   */
  poll(abort: () => void): void {
    if (!this.id || this.ended || this.cutAt !== undefined || this.res.destroyed) return;
    // The client must hold an id to come back with: the priming event goes out now if it has not yet.
    const last = this.primed('');
    this.cut(abort);
    this.finish(last);
  }

  /**
   * A client follows the stream again (on any replica): the call goes on, and `over` is called once the stream is over
   * here (answered or cancelled). False if it is over already.
   */
  follow(over: () => void): boolean {
    if (this.ended) return false;
    if (this.cutAt === undefined) this.takenOver();
    (this.followers ??= []).push(over);
    clearTimeout(this.grace);
    return true;
  }

  /**
   * A client resumes the stream before this replica saw it lost (the close of a dropped connection can reach us late,
   * through a balancer later still): a client comes back with `Last-Event-ID` only for a stream it no longer reads, so
   * from here on it is cut — what it may have missed and what follows goes to the store, the old response is ended.
   */
  private takenOver(): void {
    this.cutAt = Date.now();
    clearTimeout(this.primeTimer);
    this.priming = undefined;
    void this.store().add(this.kept.splice(0));
    if (!this.res.destroyed) this.res.destroy();
  }

  private store(): StoreQueue {
    return (this.queue ??= new StoreQueue((events) => this.host!.persist(this, events)));
  }

  /** `answered`: the answer went to the client's socket (as far as this replica knows). */
  private close(answered = false): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.grace);
    clearTimeout(this.primeTimer);
    const tail = this.kept;
    this.kept = [];
    if (this.id) this.host!.unregister(this, answered && this.cutAt === undefined ? tail : undefined);
    for (const over of this.followers ?? []) over();
  }
}
