/**
 * A cut stream's events go to the store in order, one statement at a time, each taking what gathered while the one
 * before ran; their writer waits only once the store is `STORE_BACKLOG` events behind.
 */
import { describe, expect, it } from 'vitest';
import { STORE_BACKLOG, StoreQueue } from '../../src/cluster/store-queue.js';
import type { StoredEvent } from '../../src/cluster/event-store.js';

const events = (from: number, n: number): StoredEvent[] => Array.from({ length: n }, (_, i) => ({ seq: from + i, json: '{}' }));

describe('the store queue of a cut stream', () => {
  it('writes what gathers during a write in the next one, in order, and tells when all is stored', async () => {
    const written: number[][] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const q = new StoreQueue(async (batch) => {
      written.push(batch.map((e) => e.seq));
      await gate;
    });
    for (let i = 1; i <= 3; i++) void q.add(events(i, 1));
    await Promise.resolve(); // the first write starts with all three
    for (let i = 4; i <= 8; i++) void q.add(events(i, 1)); // arrive while it runs
    const settled = q.settled;
    release();
    gate = Promise.resolve();
    await settled;
    expect(written).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7, 8],
    ]);
  });

  it('lets its writer go on below the backlog and makes it wait at it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new StoreQueue(() => gate);
    void q.add(events(0, 1));
    await Promise.resolve(); // a write is running: what follows waits in the queue
    for (let i = 1; i < STORE_BACKLOG; i++) expect(q.addOrWait(events(i, 1))).toBeUndefined();
    const waiting = q.addOrWait(events(STORE_BACKLOG, 1));
    expect(waiting).toBeInstanceOf(Promise);
    release();
    await waiting;
  });
});
