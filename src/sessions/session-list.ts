/** Lists sessions newest first with keyset pagination and the filters of docs/interface.md §3. */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { afterCursor, decodeCursor, encodeCursor, sessionJsonInclude, SESSION_ORDER, toSessionJson, type SessionJson } from './session-json.js';
import { Invalid } from '../errors.js';

export const sessionListQuery = z.object({
  chat: z.string().min(1).max(200).optional(),
  status: z.enum(['active', 'closed', 'all']).default('all'),
  client: z.string().min(1).max(500).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export type SessionListQuery = z.infer<typeof sessionListQuery>;

export function parseSessionListQuery(query: unknown): SessionListQuery {
  const parsed = sessionListQuery.safeParse(query);
  if (!parsed.success) {
    throw new Invalid('invalid_query', 'Invalid query parameters', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  }
  return parsed.data;
}

export async function listSessions(
  prisma: PrismaClient,
  scope: Prisma.SessionWhereInput,
  q: SessionListQuery,
  now = Date.now(),
): Promise<{ items: SessionJson[]; nextCursor: string | null }> {
  const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (q.cursor !== undefined && !cursor) throw new Invalid('invalid_query', 'cursor is not a cursor returned by this API');
  const nowDate = new Date(now);
  const status: Prisma.SessionWhereInput =
    q.status === 'active'
      ? { closedAt: null, expiresAt: { gt: nowDate } }
      : q.status === 'closed'
        ? { OR: [{ closedAt: { not: null } }, { expiresAt: { lte: nowDate } }] }
        : {};
  const rows = await prisma.session.findMany({
    where: {
      AND: [
        scope,
        status,
        afterCursor(cursor),
        q.chat ? { chat: { externalId: q.chat } } : {},
        q.client ? { clientId: q.client } : {},
        q.since ? { createdAt: { gte: new Date(q.since) } } : {},
      ],
    },
    include: sessionJsonInclude,
    orderBy: SESSION_ORDER,
    take: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => toSessionJson(r, now)),
    nextCursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}
