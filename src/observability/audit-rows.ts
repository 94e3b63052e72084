/**
 * How an audit record becomes an `audit_records` row: its parameters, the multi-row INSERT that carries a batch,
 * and which insert failures mean "this record can never be stored" rather than "the database is not there".
 */

export interface AuditEntry {
  teamId?: string | null;
  actor: string;
  userId?: string | null;
  sessionId?: string | null;
  chat?: string | null;
  /** The OAuth client of the session (tool calls), so `GET /admin/v1/audit` can say which app made the call. */
  clientId?: string | null;
  action: string;
  target?: string | null;
  outcome: string;
  durationMs?: number | null;
  detail?: Record<string, string | number | boolean | null>;
}

/** One record ready to insert; `params` are in `COLUMNS` order. */
export interface AuditRow {
  action: string;
  params: unknown[];
}

/**
 * `created_at` is written explicitly: a record held through a database outage keeps the time of the call it
 * records, not the time the database came back.
 */
const COLUMNS = 'team_id, actor, user_id, session_id, chat, client_id, action, target, outcome, duration_ms, detail, created_at';
const CASTS = ['uuid', 'text', 'uuid', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'jsonb', 'timestamptz'];

/** Rows per INSERT. */
export const AUDIT_BATCH_MAX = 500;

/**
 * One statement for a batch of any size: each column's values as one array parameter, `unnest`ed into rows. Its text
 * never changes, so it is prepared once per connection (`AUDIT_INSERT_NAME`); measured against a multi-row `VALUES`
 * list of 12 parameters per row (a new text per batch size, parsed and planned every time), PostgreSQL spends about
 * two thirds of the CPU per row (28 against 42–54 µs, batches of 30).
 */
export const AUDIT_INSERT = `INSERT INTO audit_records (${COLUMNS}) SELECT * FROM unnest(${CASTS.map((cast, c) => `$${c + 1}::${cast}[]`).join(', ')})`;
export const AUDIT_INSERT_NAME = 'switchboard_audit_insert';

/** The parameters of `AUDIT_INSERT` for `rows`: one array per column. */
export function insertParams(rows: readonly AuditRow[]): unknown[][] {
  return CASTS.map((_, c) => rows.map((r) => r.params[c]));
}

/** PostgreSQL text cannot hold NUL; a client-chosen value (e.g. a tool name) must not make the record fail. */
const clean = <T>(v: T): T => (typeof v === 'string' ? (v.replaceAll('\u0000', '\uFFFD') as T) : v);

/** The row for `entry`, stamped with `at` (epoch milliseconds: when the action happened). */
export function toAuditRow(entry: AuditEntry, at: number): AuditRow {
  const detail = entry.detail ? Object.fromEntries(Object.entries(entry.detail).map(([k, v]) => [clean(k), clean(v)])) : undefined;
  const params = [
    entry.teamId ?? null,
    entry.actor,
    entry.userId ?? null,
    entry.sessionId ?? null,
    entry.chat ?? null,
    entry.clientId ?? null,
    entry.action,
    entry.target ?? null,
    entry.outcome,
    entry.durationMs ?? null,
    detail === undefined ? null : JSON.stringify(detail),
  ].map(clean);
  params.push(new Date(at).toISOString());
  return { action: entry.action, params };
}

/**
 * True when PostgreSQL looked at the record and refused it: SQLSTATE class 22 (data exception) or 23 (integrity
 * constraint, e.g. its team was deleted meanwhile). Retrying such a record can never succeed. Anything else — a
 * refused or dropped connection, a pool timeout, a server shutting down — may pass, so the record is kept.
 */
export function isRefusedRecord(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && /^2[23][0-9A-Z]{3}$/.test(e.code)) return true;
  return isRefusedRecord(e.cause, depth + 1);
}
