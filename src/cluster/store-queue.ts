/**
 * Events of a cut stream on their way to the event store (`event-store.ts`): written in order, one statement at a
 * time, each taking everything that gathered while the one before it ran. Shared by response streams and GET-stream
 * logs (`response-stream.ts`, `get-stream-log.ts`).
 */
import type { StoredEvent } from './event-store.js';

/**
 * Events waiting for the store before their writer (the relay reading an upstream, a session's notifications) waits
 * too: below it the writer goes on and the events go out in batches; waiting for every event's write made the store
 * one statement (and NOTIFY) per event (bench, events phase).
 */
export const STORE_BACKLOG = 256;

export class StoreQueue {
  private pending: StoredEvent[] = [];
  /** A write is scheduled that has not started yet: what is added meanwhile goes with it. */
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  /** `persist` never rejects (it logs its failures). */
  constructor(private readonly persist: (events: StoredEvent[]) => Promise<void>) {}

  /** Queues `events`; resolves once they are stored. */
  add(events: StoredEvent[]): Promise<void> {
    this.pending.push(...events);
    if (!this.scheduled) {
      this.scheduled = true;
      this.chain = this.chain.then(() => {
        this.scheduled = false;
        const batch = this.pending.splice(0);
        return batch.length ? this.persist(batch) : undefined;
      });
    }
    return this.chain;
  }

  /** `add`, for a writer that should wait only while the store is `STORE_BACKLOG` events behind. */
  addOrWait(events: StoredEvent[]): Promise<void> | undefined {
    const stored = this.add(events);
    return this.pending.length >= STORE_BACKLOG ? stored : undefined;
  }

  /** Resolves once everything added so far is stored. */
  get settled(): Promise<void> {
    return this.chain;
  }
}
