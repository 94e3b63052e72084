import type { DomainError} from '../errors.js';
import { Invalid } from '../errors.js';
/**
 * Opaque keyset cursors for the admin lists that are not sessions (teams, members, invitations, tool servers, users, audit). A cursor
 * names the last item of the previous page and which list it belongs to, so it stays valid while items are added
 * and is refused when handed to another list. Session cursors live with the sessions (`sessions/session-json.ts`).
 */

export type CursorKind = 'teams' | 'members' | 'invitations' | 'tool-servers' | 'users' | 'audit';

export function encodeListCursor(kind: CursorKind, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString('base64url');
}

/** The key inside `cursor`, or a 400 `invalid_query` when it is not one this list handed out. */
export function decodeListCursor(kind: CursorKind, cursor: string, length: number): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== length + 1 ||
    parsed[0] !== kind ||
    !parsed.every((v) => typeof v === 'string' && v.length <= 500)
  ) {
    throw invalidCursor();
  }
  return (parsed as string[]).slice(1);
}

export function invalidCursor(): DomainError {
  return new Invalid('invalid_query', 'cursor is not a cursor returned by this list', [{ field: 'cursor', message: 'unknown cursor' }]);
}

/** Cuts `rows` (fetched with `take: limit + 1`) into a page and the cursor of its last item. */
export function page<T, J>(rows: T[], limit: number, kind: CursorKind, key: (row: T) => string[], render: (row: T) => J) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(render), nextCursor: rows.length > limit && last !== undefined ? encodeListCursor(kind, key(last)) : null };
}
