/**
 * The sessions this process holds in memory, least recently used first. Over capacity it evicts the least recently
 * used session that is idle — never one serving a request or an open stream (evicting it would cut that stream);
 * when every session is busy the cache stays over capacity until one goes idle.
 *
 * Written by hand rather than with `lru-cache`: that library disposes whatever falls off the end, busy or not, and
 * offers no way to skip an entry; a `Map` in insertion order is an LRU with two lines of bookkeeping.
 */
import type { LiveSession } from './live-session.js';

export interface SessionCacheHooks {
  /** A session was added (the live-sessions gauge). */
  added(): void;
  /** A session left the cache (the live-sessions gauge). */
  removed(): void;
}

export class SessionCache {
  private readonly map = new Map<string, LiveSession>();
  /** When each session was last moved to the most recent end. */
  private readonly movedAt = new WeakMap<LiveSession, number>();

  constructor(
    private readonly capacity: number,
    private readonly hooks: SessionCacheHooks,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /**
   * The session, marked most recently used — at most once a second per session: moving an entry to the end of a
   * `Map` leaves a hole that the map compacts by rehashing all of it, a cost that grew with the number of sessions
   * held (2 % of a call's CPU at 13,000). Recency to the second is all eviction needs.
   */
  get(id: string): LiveSession | undefined {
    const s = this.map.get(id);
    if (s) {
      const now = performance.now();
      if (now - (this.movedAt.get(s) ?? 0) >= 1_000) {
        this.movedAt.set(s, now);
        this.map.delete(id);
        this.map.set(id, s);
      }
    }
    return s;
  }

  /** The session, without touching its recency. */
  peek(id: string): LiveSession | undefined {
    return this.map.get(id);
  }

  set(s: LiveSession): void {
    if (!this.map.has(s.id)) this.hooks.added();
    this.map.delete(s.id);
    this.map.set(s.id, s);
    if (this.map.size > this.capacity) this.evictOverCapacity();
  }

  /** Takes the session out of the cache (the caller decides how it ends). */
  take(id: string): LiveSession | undefined {
    const s = this.map.get(id);
    if (s) {
      this.map.delete(id);
      this.hooks.removed();
    }
    return s;
  }

  values(): IterableIterator<LiveSession> {
    return this.map.values();
  }

  /** Empties the cache, returning what it held. */
  drain(): LiveSession[] {
    const all = [...this.map.values()];
    for (const s of all) this.take(s.id);
    return all;
  }

  private evictOverCapacity(): void {
    for (const s of this.map.values()) {
      if (this.map.size <= this.capacity) return;
      if (s.inFlight > 0) continue;
      this.take(s.id);
      // The row stays open: evicted sessions are rebuilt on their next request; upstream sessions are kept for it.
      void s.shutdown();
    }
  }
}
