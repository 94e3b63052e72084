/**
 * Closes expired sessions (idle TTL, max age), evicts idle in-memory sessions and deletes long-expired
 * authorization codes and refresh tokens, and applies the event store's retention (`cluster/event-store.ts`). Several replicas may run it:
 * a transaction-level advisory lock lets one replica at a time sweep the table.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { SessionRuntime } from '../mcp/session-runtime.js';
import type { SessionStore } from './session-store.js';
import type { EventStore } from '../cluster/event-store.js';

const SWEEP_LOCK_KEY = 7593286410873497191n;

export interface Sweeper {
  /** One sweep now; returns the ids it closed. */
  sweep(): Promise<string[]>;
  stop(): void;
}

export function startSweeper(deps: { db: Database; store: SessionStore; runtime: SessionRuntime; logger: Logger; intervalMs: number; clock?: () => number; events?: EventStore }): Sweeper {
  const { db, store, runtime, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const sweep = async () => {
    runtime.evictIdle();
    const closed = await db.prisma.$transaction(async (tx) => {
      const [lock] = await tx.$queryRaw<{ ok: boolean }[]>`SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) AS ok`;
      if (!lock?.ok) return [];
      // Expired OAuth artifacts are dead weight; a day of grace keeps them for looking into incidents.
      const cutoff = new Date(clock() - 86_400_000);
      await tx.authorizationCode.deleteMany({ where: { expiresAt: { lt: cutoff } } });
      await tx.refreshToken.deleteMany({ where: { expiresAt: { lt: cutoff } } });
      return store.closeExpired(tx);
    });
    // The same close path as DELETE and the admin API: every replica ends its copy and its upstream sessions, and
    // `sessions_closed_total{reason="expired"}` counts them.
    await runtime.announceClosed(closed, 'expired');
    if (closed.length) logger.info({ count: closed.length }, 'closed expired sessions');
    const pruned = await deps.events?.prune(clock()).catch((err: unknown) => (logger.warn({ err }, 'could not prune the event store'), 0));
    if (pruned) logger.debug({ count: pruned }, 'pruned stored events');
    return closed;
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweep()
      .catch((err) => logger.warn({ err }, 'session sweep failed; will retry'))
      .finally(() => (running = false));
  }, deps.intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
