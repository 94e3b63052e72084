/**
 * The session registry in PostgreSQL: user → chat → session. Every read is scoped by the session's owner
 * (team, user, OAuth client) so a session id alone never reveals or reaches anyone else's session.
 */
import { randomUUID } from 'node:crypto';
import type { Database, PrismaClient } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';

export type CloseReason = 'client_delete' | 'expired' | 'admin' | 'team_deleted' | 'user_removed' | 'superseded';

/** How the client has used a session: requests placed there without its id, or requests carrying its id. */
export type ClientUse = 'implicit' | 'echoed';

/** A chat-less session its client has not used yet is left alone this long by a newer initialize (see `supersede`). */
export const SUPERSEDE_GRACE_MS = 2_000;

export interface SessionOwner {
  teamId: string;
  userId: string;
  clientId: string;
}

export interface NewSession extends SessionOwner {
  id: string;
  chatExternalId: string | null;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string;
  clientCapabilities: Prisma.InputJsonValue;
  initializeRequest: Prisma.InputJsonValue;
}

export interface StoredSession extends SessionOwner {
  id: string;
  chatExternalId: string | null;
  /** The chat's row id (null without a chat): with the owner, the session's key for implicit routing. */
  chatId: string | null;
  clientUse: ClientUse | null;
  protocolVersion: string;
  initializeRequest: unknown;
  logLevel: string | null;
  createdAt: Date;
  expiresAt: Date;
}

export interface SessionTiming {
  idleTtlMs: number;
  maxAgeMs: number;
}

/** Which chat-less sessions a newer one replaces (see `supersede`); `graceEnd`: the parameter holding its time. */
const supersededWithoutChat = (graceEnd: string) => `chat_id IS NULL AND (client_use = 'implicit' OR (client_use IS NULL AND created_at < ${graceEnd}))`;

export function expiryFor(createdAt: Date, now: number, t: SessionTiming): Date {
  return new Date(Math.min(createdAt.getTime() + t.maxAgeMs, now + t.idleTtlMs));
}

/**
 * What a session's handshake and every request write goes through raw SQL (`db.sql`, on both drivers): one statement
 * each, without the ORM's per-query work, which was a third of the gateway's CPU per handshake (bench profile).
 * Reads and rare writes stay on Prisma.
 */
export function createSessionStore(db: Pick<Database, 'prisma' | 'sql'>, timing: SessionTiming, clock: () => number = Date.now) {
  const { prisma, sql } = db;
  async function chatId(tx: Prisma.TransactionClient, owner: SessionOwner, externalId: string): Promise<string> {
    const now = new Date(clock());
    // Parallel initializes of one chat must not race on the unique key: insert-if-absent, then touch and read.
    await tx.chat.createMany({ data: [{ teamId: owner.teamId, userId: owner.userId, externalId, firstSeenAt: now, lastSeenAt: now }], skipDuplicates: true });
    const chat = await tx.chat.update({
      where: { teamId_userId_externalId: { teamId: owner.teamId, userId: owner.userId, externalId } },
      data: { lastSeenAt: now },
      select: { id: true },
    });
    return chat.id;
  }

  return {
    /**
     * Records a new session and its chat — found or created, its last use recorded — in one statement: concurrent
     * first initializes of one chat meet in ON CONFLICT, not in a race on the unique key. With `supersede`, the same
     * statement closes the sessions the new one replaces (see `supersede`; `keep` are spared) and returns their ids.
     * `clientUse`: how the client uses it from the start (an implicit session is created by its first request).
     */
    async create(s: NewSession, opts: { supersede?: { keep: string[] }; clientUse?: ClientUse } = {}): Promise<StoredSession & { superseded: string[] }> {
      const createdAt = new Date(clock());
      const expiresAt = expiryFor(createdAt, clock(), timing);
      const clientUse = opts.clientUse ?? null;
      const values: unknown[] = [s.id, s.teamId, s.userId, s.clientId, s.clientName, s.clientVersion, s.protocolVersion, JSON.stringify(s.clientCapabilities), JSON.stringify(s.initializeRequest), createdAt, expiresAt, clientUse];
      const columns = `id, team_id, user_id, chat_id, client_id, client_name, client_version, protocol_version, client_capabilities, initialize_request, created_at, last_seen_at, expires_at, client_use`;
      const external = s.chatExternalId;
      const ctes: string[] = [];
      if (external) {
        values.push(randomUUID(), external);
        ctes.push(
          `chat AS (
             INSERT INTO chats (id, team_id, user_id, external_id, first_seen_at, last_seen_at) VALUES ($13::uuid, $2::uuid, $3::uuid, $14, $10, $10)
             ON CONFLICT (team_id, user_id, external_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
             RETURNING id)`,
          `created AS (
             INSERT INTO sessions (${columns})
             SELECT $1, $2::uuid, $3::uuid, chat.id, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $10, $11, $12 FROM chat
             RETURNING chat_id)`,
        );
      } else {
        ctes.push(
          `created AS (
             INSERT INTO sessions (${columns}) VALUES ($1, $2::uuid, $3::uuid, NULL, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $10, $11, $12)
             RETURNING chat_id)`,
        );
      }
      if (opts.supersede) {
        // The UPDATE runs on the statement's snapshot, which does not contain the session being inserted.
        values.push(opts.supersede.keep);
        const k = values.length;
        if (!external) values.push(new Date(clock() - SUPERSEDE_GRACE_MS));
        ctes.push(
          `closed AS (
             UPDATE sessions SET closed_at = $10, close_reason = 'superseded'
             WHERE team_id = $2::uuid AND user_id = $3::uuid AND client_id = $4 AND closed_at IS NULL AND id <> ALL($${k}::text[])
               AND ${external ? `chat_id = (SELECT id FROM chat)` : supersededWithoutChat(`$${k + 1}`)}
             RETURNING id)`,
        );
      }
      const rows = await sql.query<{ kind: string; id: string | null }>(
        `WITH ${ctes.join(',\n')}
         SELECT 'chat' AS kind, chat_id::text AS id FROM created${opts.supersede ? ` UNION ALL SELECT 'closed', id FROM closed` : ''}`,
        values,
        `sb_session_create${external ? '_chat' : ''}${opts.supersede ? '_supersede' : ''}`,
      );
      const chat = rows.find((r) => r.kind === 'chat')?.id ?? null;
      const superseded = rows.flatMap((r) => (r.kind === 'closed' && r.id ? [r.id] : []));
      return { ...s, chatId: chat, clientUse, logLevel: null, createdAt, expiresAt, superseded };
    },

    /** The open, unexpired session with this id that belongs to `owner`; undefined otherwise. */
    async findOpen(id: string, owner: SessionOwner): Promise<StoredSession | undefined> {
      const row = await prisma.session.findFirst({
        where: { id, teamId: owner.teamId, userId: owner.userId, clientId: owner.clientId, closedAt: null, expiresAt: { gt: new Date(clock()) } },
        include: { chat: { select: { externalId: true } } },
      });
      if (!row) return undefined;
      return {
        id: row.id,
        teamId: row.teamId,
        userId: row.userId,
        clientId: row.clientId,
        chatExternalId: row.chat?.externalId ?? null,
        chatId: row.chatId,
        clientUse: row.clientUse === 'implicit' || row.clientUse === 'echoed' ? row.clientUse : null,
        protocolVersion: row.protocolVersion,
        initializeRequest: row.initializeRequest,
        logLevel: row.logLevel,
        createdAt: row.createdAt,
        expiresAt: row.expiresAt,
      };
    },

    /** Marks the session seen now and extends its expiry; returns the new expiry, or undefined if it is closed. */
    async touch(id: string, createdAt: Date): Promise<Date | undefined> {
      const now = clock();
      const expiresAt = expiryFor(createdAt, now, timing);
      const rows = await sql.query(
        `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1 AND closed_at IS NULL AND expires_at > $2 RETURNING 1`,
        [id, new Date(now), expiresAt],
        'sb_session_touch',
      );
      return rows.length === 1 ? expiresAt : undefined;
    },

    /** Gives a chat-less session its chat; returns the chat's row id, or undefined if the session already had one. */
    async attachChat(id: string, owner: SessionOwner, externalId: string): Promise<string | undefined> {
      return prisma.$transaction(async (tx) => {
        const chat = await chatId(tx, owner, externalId);
        const { count } = await tx.session.updateMany({ where: { id, chatId: null, ...owner }, data: { chatId: chat } });
        return count === 1 ? chat : undefined;
      });
    },

    /**
     * Records how clients use their sessions, many sessions in one statement (once per kind of use; `echoed` is
     * never taken back by `implicit`).
     */
    async markUses(marks: readonly { id: string; owner: SessionOwner; use: ClientUse }[]): Promise<void> {
      if (!marks.length) return;
      await sql.query(
        `UPDATE sessions AS s SET client_use = m.use
         FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS m(id, team_id, user_id, client_id, use)
         WHERE s.id = m.id AND s.team_id = m.team_id AND s.user_id = m.user_id AND s.client_id = m.client_id
           AND (s.client_use IS NULL OR (m.use = 'echoed' AND s.client_use = 'implicit'))`,
        [marks.map((m) => m.id), marks.map((m) => m.owner.teamId), marks.map((m) => m.owner.userId), marks.map((m) => m.owner.clientId), marks.map((m) => m.use)],
        'sb_session_uses',
      );
    },

    /**
     * The newest open, unexpired session of (owner, chat), where chat is an external chat id or null for "no chat",
     * among those whose protocol version is in `versions` (one era's): where a request without `Mcp-Session-Id`
     * belongs. A conversation never lands in a session of the other era's client.
     */
    async findNewestOpen(owner: SessionOwner, chatExternalId: string | null, versions: { gte?: string; lt?: string }): Promise<string | undefined> {
      const row = await prisma.session.findFirst({
        where: {
          ...owner,
          protocolVersion: versions,
          closedAt: null,
          expiresAt: { gt: new Date(clock()) },
          ...(chatExternalId === null ? { chatId: null } : { chat: { is: { teamId: owner.teamId, userId: owner.userId, externalId: chatExternalId } } }),
        },
        orderBy: { createdAt: 'desc' },
        select: { id: true },
      });
      return row?.id;
    },

    /** What this owner's client declared in its latest `initialize` (any session, open or not), if it ever sent one. */
    async latestHello(owner: SessionOwner): Promise<{ clientCapabilities: unknown; clientName: string | null; clientVersion: string | null } | undefined> {
      const row = await prisma.session.findFirst({
        where: owner,
        orderBy: { createdAt: 'desc' },
        select: { clientCapabilities: true, clientName: true, clientVersion: true },
      });
      return row ?? undefined;
    },

    /**
     * Closes the key's other open sessions a new one replaces (reason `superseded`), except `keep`. With a chat,
     * every other session of that chat. Without one, a client may be two windows of one app, each tracking its own
     * session: so only sessions whose id the client never sent back — those it used without the id, and those it
     * has not used at all for `SUPERSEDE_GRACE_MS` (a window still between `initialize` and its first request keeps
     * its session). Returns the ids it closed.
     */
    async supersede(owner: SessionOwner, chatId: string | null, keep: string[]): Promise<string[]> {
      const now = new Date(clock());
      const graceEnd = new Date(clock() - SUPERSEDE_GRACE_MS);
      const which = chatId === null ? supersededWithoutChat('$6') : `chat_id = $6::uuid`;
      const rows = await sql.query<{ id: string }>(
        `UPDATE sessions SET closed_at = $1, close_reason = 'superseded'
         WHERE team_id = $2::uuid AND user_id = $3::uuid AND client_id = $4 AND closed_at IS NULL AND id <> ALL($5::text[]) AND ${which}
         RETURNING id`,
        [now, owner.teamId, owner.userId, owner.clientId, keep, chatId === null ? graceEnd : chatId],
      );
      return rows.map((r) => r.id);
    },

    async setLogLevel(id: string, level: string): Promise<void> {
      await prisma.session.updateMany({ where: { id, closedAt: null }, data: { logLevel: level } });
    },

    /** Closes an open session; true if this call closed it. */
    async close(id: string, reason: CloseReason, owner?: SessionOwner): Promise<boolean> {
      const { count } = await prisma.session.updateMany({
        where: { id, closedAt: null, ...(owner ?? {}) },
        data: { closedAt: new Date(clock()), closeReason: reason },
      });
      return count === 1;
    },

    /** Closes every open session past its expiry; returns their ids. `db` may be a transaction. */
    async closeExpired(tx: Pick<PrismaClient, '$queryRaw'> = prisma, limit = 1000): Promise<string[]> {
      const now = new Date(clock());
      const rows = await tx.$queryRaw<{ id: string }[]>`
        UPDATE sessions SET closed_at = ${now}, close_reason = 'expired'
        WHERE id IN (SELECT id FROM sessions WHERE closed_at IS NULL AND expires_at <= ${now} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING id`;
      return rows.map((r) => r.id);
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
