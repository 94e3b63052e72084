/**
 * The ids and, when it is cut, the stored tail of a session's GET stream (`mcp/session-stream.ts`), the way response
 * streams have theirs (`response-stream.ts`): a priming event, then `<stream>:<seq>` on every event, the last few kept
 * in memory. When the client loses the stream, what it may have missed and what the session sends in the next
 * `RESUME_GRACE_MS` go to the event store; a `GET` with `Last-Event-ID` on any replica takes them over
 * (`resumable-streams.ts`: the replica holding this log stops storing, then the new stream replays the store).
 * Stream ids are `<replica>.G<n>.` — the `G` tells them from response streams.
 */
import type { StoredEvent } from './event-store.js';
import { frame, RETRY_MS } from './response-stream.js';
import { StoreQueue } from './store-queue.js';

const KEPT = 256;
let logs = 0;

/** What a log needs from the replica's registry (`resumable-streams.ts`). */
export interface GetLogHost {
  readonly replica: string;
  readonly graceMs: number;
  persist(log: { sessionId: string; id: string }, events: StoredEvent[]): Promise<void>;
  /** The log is cut and storing: a `follow` for its id finds it. */
  detached(log: GetStreamLog): void;
  attached(log: GetStreamLog): void;
}

export class GetStreamLog {
  readonly id: string;
  private seq = 0;
  private kept: StoredEvent[] = [];
  private storing = false;
  private grace: NodeJS.Timeout | undefined;
  /** What is sent while the stream is cut, on its way to the store. */
  private readonly queue = new StoreQueue((events) => this.host.persist(this, events));

  constructor(
    private readonly host: GetLogHost,
    readonly sessionId: string,
  ) {
    this.id = `${host.replica}.G${(++logs).toString(36)}.`;
  }

  /** The stream's first event: its id, empty data, the reconnection delay. */
  priming(): string {
    return `id: ${this.id}:0\nretry: ${RETRY_MS}\ndata:\n\n`;
  }

  /** One message as the stream's next event (kept, in case the stream is cut). */
  frame(m: unknown): string {
    return this.frameJson(JSON.stringify(m));
  }
  frameJson(json: string): string {
    const event = { seq: ++this.seq, json };
    this.kept.push(event);
    if (this.kept.length > KEPT) this.kept.shift();
    return frame(`${this.id}:${event.seq}`, json);
  }

  /** Whether messages for the session now go to the store (the stream was cut a moment ago). */
  get detachedNow(): boolean {
    return this.storing;
  }

  /** The client lost the stream: store what it may have missed, and what comes within the grace period. */
  cut(): void {
    if (this.storing) return;
    this.storing = true;
    void this.queue.add(this.kept.splice(0)); // never rejects: `persist` logs its failures
    this.host.detached(this);
    this.grace = setTimeout(() => this.stop(), this.host.graceMs);
    this.grace.unref();
  }

  /** A message sent while the stream is cut; a promise: wait, the store is behind (see `STORE_BACKLOG`). */
  store(m: unknown): Promise<void> | undefined {
    return this.queue.addOrWait([{ seq: ++this.seq, json: JSON.stringify(m) }]);
  }

  /** A new stream takes over: storing stops; `over` runs once everything is stored. False if it was not storing. */
  follow(over: () => void): boolean {
    if (!this.storing) return false;
    this.stop();
    void this.queue.settled.finally(over);
    return true;
  }

  /** Stops storing (taken over, the grace is over, the session ended). */
  stop(): void {
    if (!this.storing) return;
    this.storing = false;
    clearTimeout(this.grace);
    this.kept = [];
    this.host.attached(this);
  }

}
