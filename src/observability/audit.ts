/**
 * Audit records: who did what, where, with what outcome. Writing one never fails the action it records (a failed
 * write is logged), and never stores tool arguments or results.
 *
 * Records are written in batches: a record waits at most `AUDIT_LINGER_MS` for others to join it, and whatever is
 * recorded while an insert is in flight goes out with the next one, so under load one multi-row INSERT carries
 * many tool calls instead of one Prisma `create` (and one database round trip) each — measured, those were most of
 * a forwarded tool call's CPU. A batch that fails is retried record by record, so one bad record (say, for a team
 * deleted meanwhile) costs only itself. `flush()` writes what is waiting at once and resolves when everything
 * recorded so far is written: `App.close()` calls it, and so does the process on shutdown after the last request.
 */
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

/** Rows per INSERT: 10 parameters each, well below PostgreSQL's 65,535 bind parameters. */
export const AUDIT_BATCH_MAX = 500;
/** How long a record waits for others before it is written (when no insert is in flight). */
export const AUDIT_LINGER_MS = 20;

const COLUMNS = 'team_id, actor, user_id, session_id, chat, action, target, outcome, duration_ms, detail';
const CASTS = ['uuid', 'text', 'uuid', 'text', 'text', 'text', 'text', 'text', 'int4', 'jsonb'];
const WIDTH = CASTS.length;

type Row = { action: string; params: unknown[] };

function insertStatement(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) values.push(`(${CASTS.map((cast, c) => `$${r * WIDTH + c + 1}::${cast}`).join(', ')})`);
  return `INSERT INTO audit_records (${COLUMNS}) VALUES ${values.join(', ')}`;
}

/** PostgreSQL text cannot hold NUL; a client-chosen value (e.g. a tool name) must not make the record fail. */
const clean = <T>(v: T): T => (typeof v === 'string' ? (v.replaceAll('\u0000', '\uFFFD') as T) : v);

function toRow(entry: AuditEntry): Row {
  const detail = entry.detail ? Object.fromEntries(Object.entries(entry.detail).map(([k, v]) => [clean(k), clean(v)])) : undefined;
  const params = [
    entry.teamId ?? null,
    entry.actor,
    entry.userId ?? null,
    entry.sessionId ?? null,
    entry.chat ?? null,
    entry.action,
    entry.target ?? null,
    entry.outcome,
    entry.durationMs ?? null,
    detail === undefined ? null : JSON.stringify(detail),
  ].map(clean);
  return { action: entry.action, params };
}

/** Where records go: `Database.sql` (pg or PGlite). */
export interface AuditSql {
  query(text: string, params: unknown[]): Promise<unknown>;
}

export function createAuditLog(sql: AuditSql, logger: Logger, opts: { lingerMs?: number } = {}): AuditLog {
  const lingerMs = opts.lingerMs ?? AUDIT_LINGER_MS;
  const queue: Row[] = [];
  const statements = new Map<number, string>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;

  const insert = (rows: Row[]) => {
    let text = statements.get(rows.length);
    if (!text) {
      text = insertStatement(rows.length);
      if (statements.size < 64) statements.set(rows.length, text);
    }
    return sql.query(text, rows.flatMap((r) => r.params));
  };

  async function write(batch: Row[]): Promise<void> {
    try {
      await insert(batch);
      return;
    } catch (err) {
      if (batch.length === 1) {
        logger.error({ err, action: batch[0]!.action }, 'could not write audit record');
        return;
      }
    }
    for (const row of batch) {
      await insert([row]).catch((err: unknown) => logger.error({ err, action: row.action }, 'could not write audit record'));
    }
  }

  /** Writes until the queue is empty; records that arrive meanwhile join the next batch. */
  function startWriting(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing ??= (async () => {
      try {
        while (queue.length > 0) await write(queue.splice(0, AUDIT_BATCH_MAX));
      } finally {
        writing = undefined;
      }
    })();
  }

  return {
    record(entry) {
      queue.push(toRow(entry));
      if (writing) return; // picked up when the insert in flight is done
      if (queue.length >= AUDIT_BATCH_MAX || lingerMs <= 0) startWriting();
      else timer ??= setTimeout(startWriting, lingerMs);
    },
    async flush() {
      while (queue.length > 0 || writing) {
        if (!writing) startWriting();
        await writing;
      }
    },
  };
}
