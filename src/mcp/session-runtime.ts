/**
 * The sessions this process holds in memory, and how a session is created, found (or rehydrated from PostgreSQL
 * on any replica), and ended. Idle sessions are evicted from memory and rebuilt on demand, so an idle session costs
 * a row, not a server. Closing is announced with NOTIFY so every replica drops its copy at once.
 *
 * A session has a key, (team, user, OAuth client, chat): a request that carries no `Mcp-Session-Id` (ChatGPT's
 * and Claude's connectors often send none) is served in its key's newest open session, created implicitly when
 * there is none; a new `initialize` supersedes its key's idle sessions, so one conversation keeps a bounded set.
 */
import { randomUUID } from 'node:crypto';
import { createClusterBus, type ClusterBus } from '../cluster/bus.js';
import { createResumableStreams, type ResumableStreams } from '../cluster/resumable-streams.js';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { LATEST_PROTOCOL_VERSION, type ClientCapabilities, type InitializeRequest, type LoggingLevel } from '@modelcontextprotocol/server';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AuditLog } from '../observability/audit.js';
import type { SessionStore, SessionOwner, CloseReason, StoredSession, ClientUse } from '../sessions/session-store.js';
import type { TeamRef } from '../teams/team-directory.js';
import type { UserRef } from '../teams/users.js';
import { createAggregator } from '../toolservers/aggregator.js';
import { accessFor } from '../toolservers/access-policy.js';
import { LazyAggregator, SwitchableAggregator } from '../toolservers/switchable-aggregator.js';
import { connectToolServers, loadToolServers, type UpstreamDeps } from '../toolservers/connect-tool-servers.js';
import type { SessionContext, ToolServerDefinition } from '../toolservers/types.js';
import { LiveSession, type SessionRecord, type SessionServices } from './live-session.js';
import { SessionCache } from './session-cache.js';
import { SessionHub } from './session-downstream.js';
import { SessionStream } from './session-stream.js';
import { MODERN_PROTOCOL_VERSION } from './protocol-era.js';
import { isDatabaseUnavailable } from '../errors.js';

/** How long a team's tool-server configuration is reused for new sessions without a change being announced. */
export const TOOL_SERVERS_TTL_MS = 5_000;
/** How long a session's use by its client may wait to be written with others' (see `noteUse`). */
export const USE_FLUSH_MS = 250;

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
  /** How replicas tell each other of closes and changes (default: a bus of its own, used only to announce). */
  bus?: ClusterBus;
  /** This replica's resumable response streams (default: its own, on `bus`). */
  streams?: ResumableStreams;
}

export interface Principal {
  team: TeamRef;
  user: UserRef;
  /** The user's role in the team, as admitted for this request (cached up to the team directory's TTL). */
  role: 'member' | 'admin';
  clientId: string;
  authInfo: AuthInfo;
}

/** `lookup` found a copy that was evicted (closed) before the lookup could hand it over. */
const EVICTED = Symbol('evicted');

export function createSessionRuntime(deps: SessionRuntimeDeps) {
  const { db, store, logger, metrics } = deps;
  const bus = deps.bus ?? createClusterBus({ db, logger });
  const streams = deps.streams ?? createResumableStreams({ db, bus, logger });
  const clock = deps.clock ?? Date.now;
  const touchEveryMs = 15_000;
  const live = new SessionCache(deps.cacheSize, { added: () => metrics.liveSessions.inc(), removed: () => metrics.liveSessions.dec() });
  const rehydrating = new Map<string, Promise<LiveSession | undefined>>();
  /** Sessions serving a POST right now: a new `initialize` of their key does not supersede them. */
  const working = new Set<LiveSession>();
  /** Key → the session requests without `Mcp-Session-Id` go to (a hint: always re-checked through `get`). */
  const byKey = new Map<string, string>();
  const implicitPending = new Map<string, Promise<LiveSession>>();
  /**
   * Each team's tool servers as last read: every session a handshake builds needs them, and they change rarely. A
   * change made through the gateway (admin API, CLI, console) is announced (`toolsChanged`, NOTIFY on every
   * replica) and drops the entry; the TTL bounds how long a change made any other way goes unseen.
   */
  const toolServerDefs = new Map<string, { at: number; defs: Promise<ToolServerDefinition[]> }>();
  function definitions(teamId: string): Promise<ToolServerDefinition[]> {
    const hit = toolServerDefs.get(teamId);
    if (hit && clock() - hit.at < TOOL_SERVERS_TTL_MS) return hit.defs;
    const defs = loadToolServers(db.prisma, teamId).then((list) => {
      for (const d of list) {
        if (d.policy === 'invalid') logger.error({ teamId, toolServer: d.name }, "tool server's stored access policy is not valid; everything of it is refused until it is set again");
      }
      return list;
    });
    toolServerDefs.set(teamId, { at: clock(), defs });
    defs.catch(() => {
      if (toolServerDefs.get(teamId)?.defs === defs) toolServerDefs.delete(teamId);
    });
    return defs;
  }

  const ownerOf = (p: Principal): SessionOwner => ({ teamId: p.team.id, userId: p.user.id, clientId: p.clientId });
  // `join`, not a template: a flat string, where a template leaves a tree of concatenations in the map per session.
  const keyOf = (o: SessionOwner, chat: string | null) => [o.teamId, o.userId, o.clientId, chat ?? ''].join('\n');
  const owns = (s: { teamId: string; context: { user: { id: string }; clientId: string } }, p: SessionOwner) =>
    s.teamId === p.teamId && s.context.user.id === p.userId && s.context.clientId === p.clientId;

  function point(key: string, id: string) {
    byKey.delete(key);
    byKey.set(key, id);
    // A hint per key, bounded like the cache; a dropped hint costs one indexed query.
    if (byKey.size > deps.cacheSize) byKey.delete(byKey.keys().next().value!);
  }

  /**
   * A session's tool servers, connected on first use. `fresh`: the session was just created, so it has no stored
   * upstream sessions to resume (only its first set of connections: a reload may find some stored since).
   */
  async function connect(teamId: string, context: SessionContext, hub: SessionHub, fresh: boolean): Promise<LazyAggregator> {
    const remote = remoteDeps ? { deps: remoteDeps, downstream: hub, fresh } : undefined;
    const defs = await definitions(teamId);
    // What this member may not use, fixed for this set of connections: a role change makes a new set (`lookup`).
    const access = accessFor(defs, { role: context.role, user: context.user });
    return new LazyAggregator(remote !== undefined && defs.some((d) => d.kind === 'remote' && d.url), () =>
      createAggregator(connectToolServers(defs, context, logger, remote), { logger, onFailure: (server) => metrics.upstreamFailures.inc({ server }), access }),
    );
  }
  const remoteDeps = deps.upstream ? { ...deps.upstream, prisma: db.prisma } : undefined;

  /** What every session shares (`SessionServices`): one object, not closures per session. */
  const services: SessionServices = {
    logger,
    bus,
    streams,
    toolCall(s, tool, outcome, durationMs) {
      const { user, team, clientId, chat } = s.context;
      metrics.toolCalls.inc({ outcome });
      // Seen at the default log level; never the arguments or the result.
      logger.info({ userId: user.id, team: team.slug, clientId, sessionId: s.id, tool, outcome, durationMs: Math.round(durationMs) }, 'tool call');
      deps.audit.record({
        teamId: s.teamId,
        actor: `user:${user.id}`,
        userId: user.id,
        sessionId: s.id,
        chat,
        clientId,
        action: 'tool_call',
        target: tool,
        outcome,
        durationMs: Math.round(durationMs),
      });
    },
    async setLevel(s, level) {
      s.hub.setLogLevel(level);
      s.record.logLevel = level;
      await store.setLogLevel(s.id, level);
    },
    working(s, busy) {
      if (busy) working.add(s);
      else working.delete(s);
    },
    async reload(s) {
      s.aggregator.swap(await connect(s.teamId, s.context, s.hub, false));
    },
  };

  /** `fresh`: the session was just created, so it has no stored upstream sessions to resume. */
  async function build(
    row: Pick<StoredSession, 'id' | 'chatExternalId' | 'chatId' | 'clientUse' | 'createdAt' | 'expiresAt'>,
    p: Principal,
    record: SessionRecord,
    opts: { fresh?: boolean; onInitialized?: (sid: string) => Promise<void> } = {},
  ) {
    const { onInitialized } = opts;
    const { id } = row;
    const context = { sessionId: id, team: p.team, user: p.user, role: p.role, clientId: p.clientId, chat: row.chatExternalId };
    const stream = new SessionStream(id, bus, streams);
    const hub = new SessionHub(record, stream);
    if (record.logLevel) hub.setLogLevel(record.logLevel as LoggingLevel);
    return LiveSession.start({
      id,
      context,
      teamId: p.team.id,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      chatId: row.chatId,
      clientUse: row.clientUse,
      clock,
      services,
      hub,
      record,
      stream,
      ...(onInitialized ? { awaitingInitialize: true, onInitialized } : {}),
      aggregator: new SwitchableAggregator(await connect(p.team.id, context, hub, opts.fresh === true)),
    });
  }

  /** A session held here again, from its row: its record as stored (nothing else to restore). */
  async function rehydrate(row: StoredSession, p: Principal, opts: { fresh?: boolean } = {}): Promise<LiveSession> {
    const init = row.initializeRequest as { params?: { capabilities?: ClientCapabilities } } | null;
    return build(row, p, { initializeRequest: row.initializeRequest, protocolVersion: row.protocolVersion, clientCapabilities: init?.params?.capabilities ?? {}, logLevel: row.logLevel }, opts);
  }

  /** Ends the in-memory copy of a session that is over: after the requests it is serving have their answers. */
  async function endLocal(id: string): Promise<void> {
    const s = live.take(id);
    if (!s) return;
    working.delete(s);
    await s.closeWhenIdle().catch((err: unknown) => logger.warn({ err, sessionId: id }, 'could not end session cleanly'));
  }

  /** Every replica (this one included) ends its copy of these sessions; one path for every close reason. */
  async function announceClosed(ids: string[], reason: CloseReason) {
    for (const id of ids) {
      await endLocal(id);
      metrics.sessionsClosed.inc({ reason });
      logger.info({ sessionId: id, reason }, 'session closed');
      if (db.shared) await bus.publish({ kind: 'session-closed', sessionId: id }).catch((err) => logger.warn({ err }, 'could not announce session close'));
    }
  }

  /** A session of this key now stands for it: the key's other idle sessions are closed (`SessionStore.supersede`). */
  async function supersedeOthers(s: LiveSession, owner: SessionOwner) {
    await flushUsesOf(owner);
    const closed = await store.supersede(owner, s.chatId, keepWorking(owner, s.context.chat, [s.id]));
    if (closed.length) await announceClosed(closed, 'superseded');
  }

  /** `keep` and the sessions of (owner, chat) serving a POST right now: a newer session does not supersede them. */
  function keepWorking(owner: SessionOwner, chat: string | null, keep: string[]): string[] {
    for (const w of working) if (owns(w, owner) && w.context.chat === chat) keep.push(w.id);
    return keep;
  }

  /**
   * How clients use their sessions (`noteUse`), written in batches: one statement every `USE_FLUSH_MS` for all
   * sessions instead of one per session and handshake. What reads it — `supersede` — flushes its owner's first on
   * this replica; another replica may see a use up to `USE_FLUSH_MS` late, well inside `SUPERSEDE_GRACE_MS` for a
   * new session.
   */
  const pendingUses = new Map<string, { id: string; owner: SessionOwner; use: ClientUse }>();
  let useTimer: NodeJS.Timeout | undefined;
  function scheduleUses() {
    if (useTimer) return;
    useTimer = setTimeout(() => void flushUses(), USE_FLUSH_MS);
    useTimer.unref();
  }
  async function flushUses(): Promise<void> {
    clearTimeout(useTimer);
    useTimer = undefined;
    if (!pendingUses.size) return;
    const marks = [...pendingUses.values()];
    pendingUses.clear();
    try {
      await store.markUses(marks);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) {
        logger.warn({ err, sessions: marks.length }, 'could not record how clients use their sessions');
        return;
      }
      // The database is down: the sessions keep serving, and their uses are written once it is back.
      for (const m of marks) if (!pendingUses.has(m.id)) pendingUses.set(m.id, m);
      scheduleUses();
    }
  }
  async function flushUsesOf(owner: SessionOwner): Promise<void> {
    for (const m of pendingUses.values()) {
      if (m.owner.teamId === owner.teamId && m.owner.userId === owner.userId && m.owner.clientId === owner.clientId) return flushUses();
    }
  }

  // Tells this process's own tool-change announcements apart from other replicas' (NOTIFY reaches the sender too).
  const replica = bus.replica;
  function applyToolsChanged(teamId: string) {
    toolServerDefs.delete(teamId);
    for (const s of [...live.values()]) {
      if (s.teamId !== teamId || s.isClosed) continue;
      // An idle one switches on its next use (`lookup`): evicting it instead raced with a request on its way in.
      if (s.inFlight === 0) s.toolsStale = true;
      else void s.reloadToolServers().catch((err) => logger.warn({ err, sessionId: s.id }, 'could not reload tool servers'));
    }
  }

  /** One lookup for `get`: the session, undefined (none of `p`'s open), or EVICTED (found, but evicted meanwhile). */
  async function lookup(id: string, p: Principal): Promise<LiveSession | undefined | typeof EVICTED> {
    const owner = ownerOf(p);
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
          const held = live.peek(id);
          if (held) return held; // another request of the owner rebuilt it meanwhile
          const built = await rehydrate(row, p);
          metrics.sessionsRehydrated.inc();
          logger.debug({ sessionId: row.id }, 'session rehydrated');
          live.set(built);
          built.lastTouchedAt = 0;
          return built;
        })().finally(() => rehydrating.delete(key));
        rehydrating.set(key, pending);
      }
      s = await pending;
      if (!s) return undefined;
    }
    if (!owns(s, owner)) return undefined;
    if (s.isClosed) return EVICTED;
    // The e-mail a session shows tool servers (exchange tokens, whoami) is the user's current one, not the one
    // it had when the session began: a provider that stops vouching for an address takes it away here too.
    // A changed e-mail or role may change what the tool servers' policies allow the member: the session switches
    // to connections judged for who the user is now, before serving this request, and hears `list_changed`.
    if (s.context.user.email !== p.user.email) {
      s.context.user = p.user;
      s.toolsStale = true;
    }
    if (s.context.role !== p.role) {
      s.context.role = p.role;
      s.toolsStale = true;
    }
    if (s.toolsStale) {
      s.toolsStale = false;
      await s.reloadToolServers();
    }
    const now = clock();
    if (now >= s.expiresAt.getTime()) {
      await runtime.close(id, 'expired');
      return undefined;
    }
    if (now - s.lastTouchedAt >= touchEveryMs) {
      // A session held here keeps serving while the database is down; its expiry is extended once it is back.
      const expiresAt = await store.touch(id, s.createdAt).catch((err: unknown) => {
        if (isDatabaseUnavailable(err)) return s.expiresAt;
        throw err;
      });
      if (!expiresAt) {
        runtime.evict(id);
        return undefined;
      }
      s.expiresAt = expiresAt;
      s.lastTouchedAt = now;
    }
    return s;
  }

  /**
   * The session a request without `Mcp-Session-Id` belongs to (`forKey`, `forModern`): the key's hinted session, else
   * the newest open one of the key in that era, else a new one (`create`). Parallel requests of one key (Claude
   * sends several at once) share one lookup or creation.
   */
  async function keyed(p: Principal, chat: string | null, era: 'legacy' | 'modern', create: () => Promise<LiveSession>): Promise<LiveSession> {
    const owner = ownerOf(p);
    const key = era === 'modern' ? `modern\n${keyOf(owner, chat)}` : keyOf(owner, chat);
    const hinted = byKey.get(key);
    if (hinted) {
      const s = await runtime.get(hinted, p);
      // The hint may be stale: the session may since have been given a chat (see `attachChat`).
      if (s && s.context.chat === chat) return s;
      byKey.delete(key);
    }
    let pending = implicitPending.get(key);
    if (!pending) {
      pending = (async () => {
        // A conversation never lands in a session of the other era's client.
        const versions = era === 'modern' ? { gte: MODERN_PROTOCOL_VERSION } : { lt: MODERN_PROTOCOL_VERSION };
        const newest = await store.findNewestOpen(owner, chat, versions);
        const found = newest ? await runtime.get(newest, p) : undefined;
        const s = found ?? (await create());
        point(key, s.id);
        return s;
      })().finally(() => implicitPending.delete(key));
      implicitPending.set(key, pending);
    }
    return pending;
  }

  const runtime = {
    get size() {
      return live.size;
    },

    /** Starts a session for an `initialize` request; the row is written once the transport accepts it. */
    async create(p: Principal, init: InitializeRequest, chat: string | null): Promise<LiveSession> {
      const id = randomUUID();
      const now = new Date(clock());
      const params = init.params;
      const owner = ownerOf(p);
      const record = { initializeRequest: init, protocolVersion: params.protocolVersion, clientCapabilities: params.capabilities, logLevel: null };
      const s = await build({ id, chatExternalId: chat, chatId: null, clientUse: null, createdAt: now, expiresAt: now }, p, record, { fresh: true, onInitialized: async () => {
        await flushUsesOf(owner);
        const row = await store.create({
          id,
          ...owner,
          chatExternalId: chat,
          clientName: params.clientInfo.name,
          clientVersion: params.clientInfo.version,
          protocolVersion: params.protocolVersion,
          clientCapabilities: params.capabilities as object,
          initializeRequest: init as unknown as object,
        }, { supersede: { keep: keepWorking(owner, chat, [id]) } });
        s.expiresAt = row.expiresAt;
        s.chatId = row.chatId;
        s.lastTouchedAt = clock();
        live.set(s);
        point(keyOf(owner, chat), id);
        metrics.sessionsCreated.inc({ team: p.team.slug });
        logger.info({ sessionId: id, team: p.team.slug, userId: p.user.id, clientId: p.clientId, chat }, 'session created');
        if (row.superseded.length) await announceClosed(row.superseded, 'superseded');
      } });
      return s;
    },

    /**
     * The session with this id if it is open and belongs to `p` (same team, user and OAuth client); rebuilt from
     * its row when this process does not hold it. Undefined otherwise — callers answer 404 either way, so a
     * session id reveals nothing about sessions of others.
     */
    async get(id: string, p: Principal): Promise<LiveSession | undefined> {
      // A copy found here may be evicted (closed) by the time the lookup resumes; then the session is looked up
      // again (rebuilt from its row). An ended session is not found again, so it still answers undefined.
      for (let attempt = 0; attempt < 3; attempt++) {
        const s = await lookup(id, p);
        if (s !== EVICTED) return s;
      }
      return undefined;
    },
    /**
     * Where a legacy request without `Mcp-Session-Id` goes: the newest open legacy session of (team, user, client, chat), or a
     * new one, started as if the client had sent `initialize` for `protocolVersion` with the capabilities of its
     * latest real `initialize` (none if it never sent one). Only `p`'s own sessions are ever considered.
     */
    async forKey(p: Principal, chat: string | null, protocolVersion: string = LATEST_PROTOCOL_VERSION): Promise<LiveSession> {
      return keyed(p, chat, 'legacy', () => createImplicit(p, chat, protocolVersion));
    },

    /**
     * Where a 2026-07-28 request goes (`modern-front.ts`): the newest open session a modern client started for
     * (team, user, client, chat), or a new one recording what this request's envelope declares. Only `p`'s own
     * sessions are considered and no client-sent id selects one; sessions of legacy clients are left alone.
     */
    async forModern(p: Principal, chat: string | null, hello: ModernHello): Promise<LiveSession> {
      return keyed(p, chat, 'modern', () => createModern(p, chat, hello));
    },

    /** Whether the team's sessions may offer prompts, resources and completions (it has remote tool servers). */
    async teamHasRemote(teamId: string): Promise<boolean> {
      return deps.upstream !== undefined && (await definitions(teamId)).some((d) => d.kind === 'remote' && d.url);
    },

    /**
     * Records how the client uses `s`: `echoed` (it sent the session's id: a chat-less `initialize` will not
     * supersede it) or `implicit` (the gateway placed a request without an id there). Written in batches (`flushUses`), once per session and kind.
     */
    noteUse(s: LiveSession, use: ClientUse): void {
      if (s.clientUse === use || s.clientUse === 'echoed') return;
      s.clientUse = use;
      pendingUses.set(s.id, { id: s.id, owner: { teamId: s.teamId, userId: s.context.user.id, clientId: s.context.clientId }, use });
      scheduleUses();
    },

    /** Attaches a chat to a session that had none (the chat id arrived after initialize); it now stands for that chat. */
    async attachChat(s: LiveSession, chat: string): Promise<void> {
      if (s.context.chat) return;
      const owner = { teamId: s.teamId, userId: s.context.user.id, clientId: s.context.clientId };
      const attached = await store.attachChat(s.id, owner, chat);
      // Another replica may have given it a chat first: then the row keeps that one, and so does this copy
      // (it is rebuilt from the row on its next rehydration); nothing is superseded in the wrong chat.
      if (!attached) return;
      s.context.chat = chat;
      s.chatId = attached;
      if (byKey.get(keyOf(owner, null)) === s.id) byKey.delete(keyOf(owner, null));
      point(keyOf(owner, chat), s.id);
      await supersedeOthers(s, owner);
    },

    /** Ends a session for good, on every replica. Returns false if it was not open (or not `owner`'s). */
    async close(id: string, reason: CloseReason, owner?: SessionOwner): Promise<boolean> {
      const closed = await store.close(id, reason, owner);
      if (closed) await announceClosed([id], reason);
      return closed;
    },

    /** Sessions closed by someone else (the sweeper): every replica ends its copy, with upstream sessions. */
    announceClosed,

    /** The sessions of this team held in memory by this process. */
    liveSessionsOfTeam(teamId: string): LiveSession[] {
      return [...live.values()].filter((s) => s.teamId === teamId && !s.isClosed);
    },

    /**
     * The team's tool servers changed (admin API). Here and, through NOTIFY, on every replica: a live session that is
     * serving a request or stream switches to the new tool servers and is told `tools/list_changed`; an idle one
     * switches when its next request finds it.
     */
    async toolsChanged(teamId: string): Promise<void> {
      applyToolsChanged(teamId);
      if (db.shared) await bus.publish({ kind: 'tools-changed', from: replica, teamId }).catch((err) => logger.warn({ err }, 'could not announce tool change'));
    },

    /** Drops the in-memory copy only (the row stays; the session can be rehydrated, upstream sessions are kept). */
    evict(id: string) {
      const s = live.take(id);
      if (s) {
        working.delete(s);
        void s.shutdown();
      }
    },

    /** Evicts sessions idle in memory for longer than the cache TTL (not those serving a request or stream). */
    evictIdle() {
      const cutoff = clock() - deps.cacheTtlMs;
      for (const s of [...live.values()]) if (s.inFlight === 0 && s.lastUsedAt < cutoff) runtime.evict(s.id);
    },

    /** Follows session closes and tool changes announced by other replicas, and catches up after the listener reconnects. */
    async listen(): Promise<() => Promise<void>> {
      if (!db.shared) return async () => undefined;
      const closes = bus.on('session-closed', (m) => void endLocal(m.sessionId));
      // What reached another replica for a call of this one's: the session is held here while the call runs.
      const answers = bus.onDirect('answer', (m) => void live.peek(m.sessionId)?.answerForwarded(m.message));
      const messages = bus.on('session-message', (m) => {
        if (m.from === replica) return;
        void live
          .peek(m.sessionId)
          ?.stream.deliver(m.message)
          .then((written) => (written && m.ack ? bus.send(m.from, { type: 'ack', x: m.ack }) : undefined))
          .catch(() => undefined);
      });
      const cancels = bus.on('cancelled', (m) => {
        if (m.from !== replica) live.peek(m.sessionId)?.cancelForwarded(m.requestId);
      });
      // Another replica opened an upstream session where the client does not listen: if it listens here, its
      // standalone stream is opened here.
      const upstreams = bus.on('upstream-opened', (m) => {
        if (m.from !== replica) live.peek(m.sessionId)?.aggregator.lookAgain(m.toolServer);
      });
      const tools = bus.on('tools-changed', (m) => {
        if (m.from !== replica) applyToolsChanged(m.teamId);
      });
      // Announcements made while the listener was down are lost: ask the database which of the sessions held here
      // are no longer open (busy ones included: their streams must end too), and take every team's tool servers as
      // changed (idle sessions are evicted, busy ones reload).
      const resync = bus.onResync(async () => {
        const held = [...live.values()].map((s) => s.id);
        const open = new Set(
          held.length ? (await db.prisma.session.findMany({ where: { id: { in: held }, closedAt: null }, select: { id: true } })).map((r) => r.id) : [],
        );
        const gone = held.filter((id) => !open.has(id));
        toolServerDefs.clear();
        await Promise.all(gone.map((id) => endLocal(id)));
        for (const teamId of new Set([...live.values()].map((s) => s.teamId))) applyToolsChanged(teamId);
        // Upstream sessions opened elsewhere meanwhile (`upstream-opened`): the listening sessions look again.
        for (const s of live.values()) s.aggregator.lookAgain();
        logger.info({ sessionsClosedMeanwhile: gone.length }, 'LISTEN connection re-established; caught up on session closes and tool-server changes');
      });
      return async () => {
        resync();
        closes();
        tools();
        answers();
        cancels();
        upstreams();
        messages();
      };
    },

    /** Releases every in-memory session (shutdown); their rows stay open so clients can resume elsewhere. */
    async shutdown() {
      working.clear();
      await flushUses().catch(() => undefined);
      await Promise.allSettled(live.drain().map((s) => s.shutdown()));
    },
  };

  /** A session for a key that has none, as if its client had sent `initialize` (see `forKey`). */
  async function createImplicit(p: Principal, chat: string | null, protocolVersion: string): Promise<LiveSession> {
    const owner = ownerOf(p);
    const hello = await store.latestHello(owner);
    const init = {
      jsonrpc: '2.0' as const,
      id: 0,
      method: 'initialize' as const,
      params: {
        protocolVersion,
        capabilities: (hello?.clientCapabilities ?? {}) as object,
        clientInfo: { name: hello?.clientName ?? 'unknown', version: hello?.clientVersion ?? 'unknown' },
      },
    };
    const row = await store.create({
      id: randomUUID(),
      ...owner,
      chatExternalId: chat,
      clientName: hello?.clientName ?? null,
      clientVersion: hello?.clientVersion ?? null,
      protocolVersion,
      clientCapabilities: init.params.capabilities,
      initializeRequest: init,
    }, { clientUse: 'implicit' });
    const s = await rehydrate(row, p, { fresh: true });
    s.lastTouchedAt = clock();
    live.set(s);
    metrics.sessionsCreated.inc({ team: p.team.slug });
    logger.info({ sessionId: s.id, team: p.team.slug, userId: p.user.id, clientId: p.clientId, chat, implicit: true }, 'session created');
    return s;
  }

  /** A session for a modern client's conversation: its row says `protocolVersion` 2026-07-28 (see `forModern`). */
  async function createModern(p: Principal, chat: string | null, hello: ModernHello): Promise<LiveSession> {
    const owner = ownerOf(p);
    // Stored in the shape every session's record has (what an `initialize` would have said), so the row reads back
    // the same way; nothing replays it to a client.
    const init = {
      jsonrpc: '2.0' as const,
      id: 0,
      method: 'initialize' as const,
      params: { protocolVersion: hello.protocolVersion, capabilities: hello.capabilities as object, clientInfo: hello.clientInfo ?? { name: 'unknown', version: 'unknown' } },
    };
    const row = await store.create({
      id: randomUUID(),
      ...owner,
      chatExternalId: chat,
      clientName: hello.clientInfo?.name ?? null,
      clientVersion: hello.clientInfo?.version ?? null,
      protocolVersion: hello.protocolVersion,
      clientCapabilities: hello.capabilities as object,
      initializeRequest: init,
    });
    const s = await rehydrate(row, p, { fresh: true });
    s.lastTouchedAt = clock();
    live.set(s);
    metrics.sessionsCreated.inc({ team: p.team.slug });
    logger.info({ sessionId: s.id, team: p.team.slug, userId: p.user.id, clientId: p.clientId, chat, protocolVersion: hello.protocolVersion }, 'session created');
    return s;
  }

  return runtime;
}

/** What a modern request says about its client, recorded on the session it starts. */
export interface ModernHello {
  protocolVersion: string;
  clientInfo: { name: string; version: string } | undefined;
  /** The capabilities tool servers are told the client has. */
  capabilities: ClientCapabilities;
}

export type SessionRuntime = ReturnType<typeof createSessionRuntime>;
