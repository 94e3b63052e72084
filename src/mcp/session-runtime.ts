/**
 * The sessions this process holds in memory, and how a session is created, found (or rehydrated from PostgreSQL
 * on any replica), and ended. Idle sessions are evicted from memory and rebuilt on demand, so an idle session costs
 * a row, not a server. Closing is announced with NOTIFY so every replica drops its copy at once.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { InitializeRequest, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AuditLog } from '../observability/audit.js';
import type { SessionStore, SessionOwner, CloseReason, StoredSession } from '../sessions/session-store.js';
import type { TeamRef } from '../teams/team-directory.js';
import type { UserRef } from '../teams/users.js';
import { createAggregator } from '../toolservers/aggregator.js';
import { switchableAggregator } from '../toolservers/switchable-aggregator.js';
import { connectToolServers, loadToolServers, type UpstreamDeps } from '../toolservers/connect-tool-servers.js';
import { LiveSession } from './live-session.js';
import { createSessionServer } from './session-server.js';
import { createSessionDownstream } from './session-downstream.js';

export const SESSION_CLOSED_CHANNEL = 'switchboard_session_closed';
/** NOTIFY payload `<replica>:<team id>`: that team's tool-server configuration changed (admin API). */
export const TOOLS_CHANGED_CHANNEL = 'switchboard_tools_changed';

export interface SessionRuntimeDeps {
  db: Database;
  store: SessionStore;
  logger: Logger;
  metrics: Metrics;
  audit: AuditLog;
  cacheSize: number;
  /** In-memory sessions idle this long (no request, no open stream) are evicted. */
  cacheTtlMs: number;
  clock?: () => number;
  /** Signing keys, secret box and PUBLIC_URL for remote tool servers; without them remote tool servers are skipped. */
  upstream?: Omit<UpstreamDeps, 'prisma'>;
}

export interface Principal {
  team: TeamRef;
  user: UserRef;
  clientId: string;
  authInfo: AuthInfo;
}

export function createSessionRuntime(deps: SessionRuntimeDeps) {
  const { db, store, logger, metrics } = deps;
  const clock = deps.clock ?? Date.now;
  const touchEveryMs = 15_000;
  const live = new LRUCache<string, LiveSession>({
    max: deps.cacheSize,
    dispose: (s) => {
      metrics.liveSessions.dec();
      void s.shutdown();
    },
  });
  const rehydrating = new Map<string, Promise<LiveSession | undefined>>();

  const owns = (s: { teamId: string; context: { user: { id: string }; clientId: string } }, p: SessionOwner) =>
    s.teamId === p.teamId && s.context.user.id === p.userId && s.context.clientId === p.clientId;

  async function build(id: string, p: Principal, chat: string | null, createdAt: Date, expiresAt: Date, onInitialized?: (sid: string) => Promise<void>) {
    const context = { sessionId: id, team: p.team, user: p.user, clientId: p.clientId, chat };
    const hub = createSessionDownstream();
    const remote = deps.upstream ? { deps: { ...deps.upstream, prisma: db.prisma }, downstream: hub.downstream } : undefined;
    const connect = async () =>
      createAggregator(connectToolServers(await loadToolServers(db.prisma, p.team.id), context, logger, remote), {
        logger,
        onFailure: (server) => metrics.upstreamFailures.inc({ server }),
      });
    const switchable = switchableAggregator(await connect());
    const aggregator = switchable.aggregator;
    let session: LiveSession | undefined;
    const server = createSessionServer(aggregator, {
      onSetLevel: async (level: LoggingLevel) => {
        hub.setLogLevel(level);
        if (session && !session.replayingNow) await store.setLogLevel(id, level);
      },
      onToolCall: (tool, outcome, durationMs) => {
        metrics.toolCalls.inc({ outcome });
        deps.audit.record({
          teamId: p.team.id,
          actor: `user:${p.user.id}`,
          userId: p.user.id,
          sessionId: id,
          chat: context.chat,
          action: 'tool_call',
          target: tool,
          outcome,
          durationMs: Math.round(durationMs),
        });
      },
    });
    hub.attach(server);
    session = await LiveSession.start({
      id,
      context,
      teamId: p.team.id,
      createdAt,
      expiresAt,
      server,
      aggregator,
      reloadToolServers: async () => switchable.swap(await connect()),
      ...(onInitialized ? { onInitialized } : {}),
    });
    return session;
  }

  function remember(s: LiveSession) {
    live.set(s.id, s);
    metrics.liveSessions.inc();
  }

  async function rehydrate(row: StoredSession, p: Principal): Promise<LiveSession> {
    const s = await build(row.id, p, row.chatExternalId, row.createdAt, row.expiresAt);
    try {
      await s.replay(
        { initializeRequest: row.initializeRequest, protocolVersion: row.protocolVersion, logLevel: row.logLevel },
        p.authInfo,
      );
    } catch (err) {
      await s.shutdown();
      throw err;
    }
    metrics.sessionsRehydrated.inc();
    logger.debug({ sessionId: row.id }, 'session rehydrated');
    return s;
  }

  // Tells this process's own tool-change announcements apart from other replicas' (NOTIFY reaches the sender too).
  const replica = randomUUID();
  function applyToolsChanged(teamId: string) {
    for (const s of [...live.values()]) {
      if (s.teamId !== teamId || s.isClosed) continue;
      if (s.inFlight === 0) live.delete(s.id);
      else void s.reloadToolServers().catch((err) => logger.warn({ err, sessionId: s.id }, 'could not reload tool servers'));
    }
  }

  return {
    get size() {
      return live.size;
    },

    /** Starts a session for an `initialize` request; the row is written once the transport accepts it. */
    async create(p: Principal, init: InitializeRequest | undefined, chat: string | null): Promise<LiveSession> {
      const id = randomUUID();
      const now = new Date(clock());
      const params = init?.params;
      const s = await build(id, p, chat, now, now, async () => {
        const row = await store.create({
          id,
          teamId: p.team.id,
          userId: p.user.id,
          clientId: p.clientId,
          chatExternalId: chat,
          clientName: params?.clientInfo?.name ?? null,
          clientVersion: params?.clientInfo?.version ?? null,
          protocolVersion: params?.protocolVersion ?? 'unknown',
          clientCapabilities: (params?.capabilities ?? {}) as object,
          initializeRequest: init as unknown as object,
        });
        s.expiresAt = row.expiresAt;
        s.lastTouchedAt = clock();
        remember(s);
        metrics.sessionsCreated.inc({ team: p.team.slug });
        logger.info({ sessionId: id, team: p.team.slug, userId: p.user.id, clientId: p.clientId, chat }, 'session created');
      });
      return s;
    },

    /**
     * The session with this id if it is open and belongs to `p` (same team, user and OAuth client); rebuilt from
     * its row when this process does not hold it. Undefined otherwise — callers answer 404 either way, so a
     * session id reveals nothing about sessions of others.
     */
    async get(id: string, p: Principal): Promise<LiveSession | undefined> {
      const owner = { teamId: p.team.id, userId: p.user.id, clientId: p.clientId };
      let s = live.get(id);
      if (!s) {
        // Keyed by id AND owner: a request with someone else's token must not join (and so fail) the owner's
        // rehydration, nor make a concurrent request of the owner share its "not yours" answer.
        const key = `${id}\n${owner.teamId}\n${owner.userId}\n${owner.clientId}`;
        let pending = rehydrating.get(key);
        if (!pending) {
          pending = (async () => {
            const row = await store.findOpen(id, owner);
            if (!row) return undefined;
            const held = live.get(id);
            if (held) return held; // another request of the owner rebuilt it meanwhile
            const built = await rehydrate(row, p);
            remember(built);
            built.lastTouchedAt = 0;
            return built;
          })().finally(() => rehydrating.delete(key));
          rehydrating.set(key, pending);
        }
        s = await pending;
        if (!s) return undefined;
      }
      if (!owns(s, owner) || s.isClosed) return undefined;
      const now = clock();
      if (now >= s.expiresAt.getTime()) {
        await this.close(id, 'expired');
        return undefined;
      }
      if (now - s.lastTouchedAt >= touchEveryMs) {
        const expiresAt = await store.touch(id, s.createdAt);
        if (!expiresAt) {
          this.evict(id);
          return undefined;
        }
        s.expiresAt = expiresAt;
        s.lastTouchedAt = now;
      }
      return s;
    },

    /** Attaches a chat to a session that had none (the chat id arrived after initialize). */
    async attachChat(s: LiveSession, chat: string): Promise<void> {
      if (s.context.chat) return;
      s.context.chat = chat;
      await store.attachChat(s.id, { teamId: s.teamId, userId: s.context.user.id, clientId: s.context.clientId }, chat);
    },

    /** Ends a session for good, on every replica. Returns false if it was not open (or not `owner`'s). */
    async close(id: string, reason: CloseReason, owner?: SessionOwner): Promise<boolean> {
      const closed = await store.close(id, reason, owner);
      // Over for good: upstream sessions are closed too (eviction alone keeps them for rehydration).
      if (closed) await live.peek(id)?.shutdown({ end: true });
      this.evict(id);
      if (closed) {
        metrics.sessionsClosed.inc({ reason });
        logger.info({ sessionId: id, reason }, 'session closed');
        if (db.shared) await db.sql.notify(SESSION_CLOSED_CHANNEL, id).catch((err) => logger.warn({ err }, 'could not announce session close'));
      }
      return closed;
    },

    /** The sessions of this team held in memory by this process. */
    liveSessionsOfTeam(teamId: string): LiveSession[] {
      return [...live.values()].filter((s) => s.teamId === teamId && !s.isClosed);
    },

    /**
     * The team's tool servers changed (admin API). Here and, through NOTIFY, on every replica: a live session that is
     * serving a request or stream switches to the new tool servers and is told `tools/list_changed`; an idle one is
     * evicted, so its next request rebuilds it with the new tool servers.
     */
    async toolsChanged(teamId: string): Promise<void> {
      applyToolsChanged(teamId);
      if (db.shared) await db.sql.notify(TOOLS_CHANGED_CHANNEL, `${replica}:${teamId}`).catch((err) => logger.warn({ err }, 'could not announce tool change'));
    },

    /** Drops the in-memory copy only (the row stays; the session can be rehydrated). */
    evict(id: string) {
      live.delete(id);
    },

    /** Evicts sessions idle in memory for longer than the cache TTL (not those serving a request or stream). */
    evictIdle() {
      const cutoff = clock() - deps.cacheTtlMs;
      for (const [id, s] of live.entries()) if (s.inFlight === 0 && s.lastUsedAt < cutoff) live.delete(id);
    },

    /** Follows session closes and tool changes announced by other replicas, and catches up after the listener reconnects. */
    async listen(): Promise<() => Promise<void>> {
      if (!db.shared) return async () => undefined;
      const dropClosed = (id: string) => {
        void live.peek(id)?.shutdown({ end: true });
        live.delete(id);
      };
      const closes = await db.sql.listen(SESSION_CLOSED_CHANNEL, dropClosed);
      const tools = await db.sql.listen(TOOLS_CHANGED_CHANNEL, (payload) => {
        const [from, teamId] = payload.split(':');
        if (from !== replica && teamId) applyToolsChanged(teamId);
      });
      // Announcements made while the listener was down are lost: ask the database which of the sessions held here
      // are no longer open (busy ones included: their streams must end too), and take every team's tool servers as
      // changed (idle sessions are evicted, busy ones reload).
      const resync = db.sql.onResync(async () => {
        const held = [...live.keys()];
        const open = new Set(
          held.length ? (await db.prisma.session.findMany({ where: { id: { in: held }, closedAt: null }, select: { id: true } })).map((r) => r.id) : [],
        );
        const gone = held.filter((id) => !open.has(id));
        gone.forEach(dropClosed);
        for (const teamId of new Set([...live.values()].map((s) => s.teamId))) applyToolsChanged(teamId);
        logger.info({ sessionsClosedMeanwhile: gone.length }, 'LISTEN connection re-established; caught up on session closes and tool-server changes');
      });
      return async () => {
        resync();
        await closes();
        await tools();
      };
    },

    /** Releases every in-memory session (shutdown); their rows stay open so clients can resume elsewhere. */
    async shutdown() {
      const all = [...live.values()];
      live.clear();
      await Promise.allSettled(all.map((s) => s.shutdown()));
    },
  };
}

export type SessionRuntime = ReturnType<typeof createSessionRuntime>;
