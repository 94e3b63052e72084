/**
 * A session held in memory by this process: its own record (what the client said in `initialize`, its log level),
 * its tool-server connections, and the code that answers it — `tools/call` of remote tool servers forwarded by the
 * relay (`session-relay.ts`), everything else by the session's front end (`session-front.ts`), its GET stream by its
 * own stream (`session-stream.ts`). There is no SDK server behind a session: a session restored from its row on any
 * replica is ready as soon as its record is read, with nothing to replay.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { SwitchableAggregator } from '../toolservers/switchable-aggregator.js';
import type { ToolCallOutcome } from './session-server.js';
import type { SessionHub } from './session-downstream.js';
import type { SessionContext } from '../toolservers/types.js';
import type { ClientUse } from '../sessions/session-store.js';
import type { ServerResponse } from 'node:http';
import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import { SessionRelay } from './session-relay.js';
import { SessionFront } from './session-front.js';
import type { SessionStream, StreamAudience } from './session-stream.js';
import type { ClusterBus } from '../cluster/bus.js';
import { homeOf, isAnswer } from '../cluster/request-home.js';
import type { RelayMessage } from '../toolservers/upstream-relay.js';
import type { ResumableStreams } from '../cluster/resumable-streams.js';

/** The protocol version from which response streams are resumable (priming event, ids; SEP-1699). */
const RESUMABLE_SINCE = '2025-11-25';

/**
 * What every session of a runtime shares: reporting, persisting and building, as methods that take the session —
 * one object per process, where closures per session were most of an idle session's heap (bench, heap snapshot).
 */
export interface SessionServices {
  readonly logger: Logger;
  /** How this replica reaches the others (answers and cancellations meant for another replica). */
  readonly bus: ClusterBus;
  /** This replica's resumable response streams. */
  readonly streams: ResumableStreams;
  /** Reports a tool call the relay or the front end served (the session server reports its own). */
  toolCall(s: LiveSession, tool: string, outcome: ToolCallOutcome, durationMs: number): void;
  /** The client set its log level through the front end: record and persist it. */
  setLevel(s: LiveSession, level: LoggingLevel): Promise<void>;
  /** Told when the session starts and stops serving POSTs. */
  working(s: LiveSession, busy: boolean): void;
  /** Points the session at its team's current tool servers (see `SwitchableAggregator`). */
  reload(s: LiveSession): Promise<void>;
}

export interface LiveSessionInit {
  id: string;
  context: SessionContext & { chat: string | null; user: SessionContext['user']; role: SessionContext['role'] };
  teamId: string;
  createdAt: Date;
  expiresAt: Date;
  /** The chat's row id, with the owner the session's key for requests that carry no session id. */
  chatId: string | null;
  /** How the client has used the session (see `SessionStore.supersede`). */
  clientUse: ClientUse | null;
  clock: () => number;
  services: SessionServices;
  aggregator: SwitchableAggregator;
  /** The session's client as its tool servers see it. */
  hub: SessionHub;
  /** Called once a fresh `initialize` was accepted; persist the row here. */
  onInitialized?: (sessionId: string) => Promise<void>;
  /** What the client said in `initialize`. */
  record: SessionRecord;
  /** The session's `initialize` is yet to be answered (a session being created), rather than restored from its row. */
  awaitingInitialize?: boolean;
  /** The session's own stream to its client (the GET stream). */
  stream: SessionStream;
}

/** The session as the protocol knows it: plain data, kept in its row, restored by reading the row. */
export interface SessionRecord {
  /** The `initialize` request as the client sent it (or as the gateway made it up for an implicit session): its client info, for listings. */
  initializeRequest: unknown;
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  logLevel: string | null;
}

export class LiveSession implements StreamAudience {
  readonly id: string;
  /** Mutable where it may change during the session: the chat (attached later), the user's e-mail and role (see `get`). */
  readonly context: SessionContext & { chat: string | null; user: SessionContext['user']; role: SessionContext['role'] };
  readonly teamId: string;
  readonly createdAt: Date;
  expiresAt: Date;
  chatId: string | null;
  clientUse: ClientUse | null;
  lastTouchedAt = 0;
  lastUsedAt: number;
  /** Open requests and response streams (GET streams included). */
  inFlight = 0;
  /** Open POSTs only: the session is working on something the client waits for. */
  requestsInFlight = 0;
  /** The team's tool servers changed while the session was idle: it switches to them on its next request. */
  toolsStale = false;
  /** Tool calls for remote tool servers, forwarded to the upstream as they are (`session-relay.ts`). */
  readonly relay: SessionRelay;
  private closeWhenDone = false;
  private readonly clock: () => number;
  private closed = false;
  private readonly services: SessionServices;
  /** Persists the row of a session whose `initialize` is being answered; dropped once it has been. */
  onInitialized: ((sessionId: string) => Promise<void>) | undefined;
  readonly aggregator: SwitchableAggregator;
  readonly hub: SessionHub;
  /** Everything the relay does not forward (`session-front.ts`). */
  readonly front: SessionFront;
  /** The session's own stream to its client (GET). */
  readonly stream: SessionStream;
  readonly record: SessionRecord;
  /** Its `initialize` has been answered (now or before this process held it). */
  initialized: boolean;

  private constructor(init: LiveSessionInit) {
    this.id = init.id;
    this.context = init.context;
    this.teamId = init.teamId;
    this.createdAt = init.createdAt;
    this.expiresAt = init.expiresAt;
    this.chatId = init.chatId;
    this.clientUse = init.clientUse;
    this.clock = init.clock;
    this.lastUsedAt = init.clock();
    this.services = init.services;
    this.onInitialized = init.onInitialized;
    this.hub = init.hub;
    this.record = init.record;
    this.stream = init.stream;
    this.initialized = init.awaitingInitialize !== true;
    this.aggregator = init.aggregator;
    // The session is the relay's and the front end's hooks itself: no objects or closures per session for them.
    this.relay = new SessionRelay(this);
    this.front = new SessionFront(this, init.stream, this);
    init.stream.audience = this;
  }

  /** The client started listening here, or has stopped: the tool servers' upstream streams follow (`listen`). */
  audienceChanged(listening: boolean): void {
    this.aggregator.listen(listening);
  }

  get sessionId(): string {
    return this.id;
  }
  get logger(): Logger {
    return this.services.logger;
  }
  get replica(): string {
    return this.services.bus.replica;
  }
  get streams(): ResumableStreams {
    return this.services.streams;
  }
  /** Its response streams can be resumed (2025-11-25: priming events, event ids, `Last-Event-ID`). */
  get resumable(): boolean {
    return this.record.protocolVersion >= RESUMABLE_SINCE;
  }
  onToolCall(tool: string, outcome: ToolCallOutcome, durationMs: number): void {
    this.services.toolCall(this, tool, outcome, durationMs);
  }
  onSetLevel(level: LoggingLevel): Promise<void> {
    return this.services.setLevel(this, level);
  }

  static start(init: LiveSessionInit): LiveSession {
    return new LiveSession(init);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Answers `message` (a single JSON-RPC message or a batch): an answer meant for another replica goes there, a
   * `tools/call` the relay can forward is the relay's, the front end answers the rest.
   */
  async serve(message: unknown, res: ServerResponse, authInfo: AuthInfo): Promise<void> {
    if (Array.isArray(message)) {
      // A batch's answers go where single ones go; the rest is the front end's (relayed calls included: the front
      // end serves a batch's tool calls through the aggregator, on the batch's one stream).
      const rest: RelayMessage[] = [];
      for (const m of message as RelayMessage[]) if (!(await this.passAnswer(m))) rest.push(m);
      return this.front.batch(rest, res, authInfo);
    }
    if (await this.passAnswer(message)) {
      res.writeHead(202).end();
      return;
    }
    if (await this.relay.serve(message, res, authInfo)) return;
    await this.front.serve(message as RelayMessage, res, authInfo);
  }

  /**
   * A client's answer to a request another replica put to it (it goes to that replica, whose call waits for it) or
   * that the relay passed on from an upstream (it goes to that upstream): passed on, true. Anything else: false.
   */
  private async passAnswer(message: unknown): Promise<boolean> {
    if (!isAnswer(message) || !this.initialized) return false;
    const home = homeOf(message.id);
    if (home !== undefined && home !== this.replica) {
      await this.services.bus.send(home, { type: 'answer', sessionId: this.id, message: { id: message.id, result: message.result, error: message.error } });
      return true;
    }
    return this.relay.answer(message);
  }

  /** A cancellation of a request the front end does not serve: perhaps the relay's, perhaps another replica's. */
  cancelElsewhere(requestId: unknown): void {
    if (this.relay.cancel(requestId)) return; // a relayed call of this replica's (a cancellation sent in a batch)
    if (!this.services.bus.shared || (typeof requestId !== 'string' && typeof requestId !== 'number')) return;
    // Every replica hears it; the one serving it stops.
    void this.services.bus.publish({ kind: 'cancelled', sessionId: this.id, requestId, from: this.replica }).catch(() => undefined);
  }

  /** A client's answer forwarded from another replica (see `cluster/request-home.ts`): given to whoever asked here. */
  async answerForwarded(m: { id: string; result?: unknown; error?: unknown }): Promise<void> {
    if (!(await this.relay.answer(m))) this.stream.answer(m);
  }

  /** A cancellation another replica received for a request this one may be serving. */
  cancelForwarded(requestId: string | number): void {
    if (!this.relay.cancel(requestId)) this.front.cancel(requestId);
  }

  /**
   * Marks the session busy while a request (`POST`) or a standalone stream (`GET`) is open: it is not evicted
   * meanwhile, and a close announced while a POST is open waits for it (see `closeWhenIdle`).
   */
  async busy<T>(kind: 'request' | 'stream', fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    if (kind === 'request' && this.requestsInFlight++ === 0) this.services.working(this, true);
    this.lastUsedAt = this.clock();
    try {
      return await fn();
    } finally {
      this.inFlight--;
      if (kind === 'request' && --this.requestsInFlight === 0) this.services.working(this, false);
      this.lastUsedAt = this.clock();
      if (this.closeWhenDone && this.requestsInFlight === 0) void this.shutdown({ end: true });
    }
  }

  /**
   * The session is over (closed elsewhere, superseded): end it once the requests it is serving have their answers,
   * so a call in flight is not cut; its standalone stream ends with it.
   */
  async closeWhenIdle(): Promise<void> {
    if (this.requestsInFlight === 0) await this.shutdown({ end: true });
    else this.closeWhenDone = true;
  }

  /**
   * Announces that the tool list changed (tool-server configuration, access policy, upstream `listChanged`); with
   * remote tool servers, prompts and resources too (their lists follow the same configuration and policies).
   */
  async toolsChanged(): Promise<void> {
    // Every replica holding the session hears of the change and announces it itself: not broadcast again.
    await this.stream.notify({ method: 'notifications/tools/list_changed' }, { local: true }).catch(() => undefined);
    if (!this.aggregator.hasRemote) return;
    await this.stream.notify({ method: 'notifications/prompts/list_changed' }, { local: true }).catch(() => undefined);
    await this.stream.notify({ method: 'notifications/resources/list_changed' }, { local: true }).catch(() => undefined);
  }

  /** Switches to the team's current tool servers, then announces `tools/list_changed`. */
  async reloadToolServers(): Promise<void> {
    if (this.closed) return;
    await this.services.reload(this);
    await this.toolsChanged();
  }

  /**
   * Releases memory and upstream connections; open streams end. The session row is not touched. `end`: the session
   * is over (closed, expired), so upstream sessions are ended too rather than kept for rehydration.
   */
  async shutdown(opts: { end?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.relay.abortAll();
    this.stream.close();
    await this.aggregator.close(opts).catch(() => undefined);
  }
}
