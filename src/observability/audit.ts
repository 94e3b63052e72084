/**
 * Audit records: who did what, where, with what outcome. Writing one never fails the action it records (a failed
 * write is logged), and never stores tool arguments or results.
 */
import type { PrismaClient } from '../db/database.js';
import type { Logger } from './logger.js';

export interface AuditEntry {
  teamId?: string | null;
  actor: string;
  userId?: string | null;
  sessionId?: string | null;
  chat?: string | null;
  action: string;
  target?: string | null;
  outcome: string;
  durationMs?: number | null;
  detail?: Record<string, string | number | boolean | null>;
}

export interface AuditLog {
  record(entry: AuditEntry): void;
  /** Resolves when every record so far is written (tests, shutdown). */
  flush(): Promise<void>;
}

export function createAuditLog(prisma: PrismaClient, logger: Logger): AuditLog {
  const pending = new Set<Promise<unknown>>();
  return {
    record(entry) {
      // PostgreSQL text cannot hold NUL; a client-chosen value (e.g. a tool name) must not make the record fail.
      const clean = <T>(v: T): T => (typeof v === 'string' ? (v.replaceAll('\u0000', '\uFFFD') as T) : v);
      const data = Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, clean(v)])) as AuditEntry;
      const detail = entry.detail ? Object.fromEntries(Object.entries(entry.detail).map(([k, v]) => [clean(k), clean(v)])) : undefined;
      const p = prisma.auditRecord
        .create({ data: { ...data, detail } })
        .catch((err) => logger.error({ err, action: entry.action }, 'could not write audit record'))
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.allSettled([...pending]);
    },
  };
}
