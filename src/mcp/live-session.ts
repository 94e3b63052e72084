/**
 * A session held in memory by this process: its own record (what the client said in `initialize`, its log level),
 * its tool-server connections, and — only once a request needs it — an SDK transport and MCP server.
 *
 * The requests nearly every session consists of are answered without the SDK server: `initialize`,
 * `notifications/initialized`, `ping` and `tools/list` (`session-front.ts`), and `tools/call` of remote tool
 * servers (`session-relay.ts`). Anything else (a GET stream, prompts, resources, completions, `logging/setLevel`,
 * calls of built-in packs, requests the front end declines) builds the SDK server on first need: a fresh server and
 * a transport whose id generator returns the session's id, brought to the session's state by replaying the recorded
 * `initialize` (and log level) with side effects muted. That replay is the part of the old design still here; the
 * front end takes over more of the protocol, one method at a time, until no session needs it.
 */
import { WebStandardStreamableHTTPServerTransport, type Server } from '@modelcontextprotocol/server';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { SwitchableAggregator } from '../toolservers/switchable-aggregator.js';
import type { ToolCallOutcome } from './session-server.js';
import type { SessionHub } from './session-downstream.js';
import type { SessionContext } from '../toolservers/types.js';
import type { ClientUse } from '../sessions/session-store.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import { SessionRelay } from './session-relay.js';
import { SessionFront } from './session-front.js';
import type { SessionStream } from './session-stream.js';
import type { ClusterBus } from '../cluster/bus.js';
import { homeOf, isAnswer } from '../cluster/request-home.js';
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
  /** Builds the session's SDK server (on first need). */
  createServer(s: LiveSession): Server;
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
  /** Called once a fresh `initialize` was accepted (not on replay); persist the row here. */
  onInitialized?: (sessionId: string) => Promise<void>;
  /** What the client said in `initialize`. */
  record: SessionRecord;
  /** The session's `initialize` is yet to be answered (a session being created), rather than restored from its row. */
  awaitingInitialize?: boolean;
  /** The session's own stream to its client (the GET stream). */
  stream: SessionStream;
}

const REPLAY_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The session as the protocol knows it: plain data, kept in its row, restored by reading the row. */
export interface SessionRecord {
  /** The `initialize` request as the client sent it (or as the gateway made it up for an implicit session). */
  initializeRequest: unknown;
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  logLevel: string | null;
}

export class LiveSession {
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
  /** Why persisting a fresh session failed (the endpoint answers with it instead of the transport's response). */
  initError: unknown;
  /** Tool calls for remote tool servers, answered without the session's SDK server (`session-relay.ts`). */
  readonly relay: SessionRelay;
  private replaying = false;
  private closeWhenDone = false;
  private readonly clock: () => number;
  private closed = false;
  /** The SDK transport and server, once a request needed them. */
  private sdkReady: Promise<{ transport: WebStandardStreamableHTTPServerTransport; server: Server }> | undefined;
  private sdkBuilt: { transport: WebStandardStreamableHTTPServerTransport; server: Server } | undefined;
  private readonly services: SessionServices;
  /** Persists the row of a session whose `initialize` is being answered; dropped once it has been. */
  onInitialized: ((sessionId: string) => Promise<void>) | undefined;
  readonly aggregator: SwitchableAggregator;
  readonly hub: SessionHub;
  /** Requests answered without the SDK server (`session-front.ts`). */
  readonly front: SessionFront;
  /** The session's own stream to its client (GET), whether or not it has an SDK server. */
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

  /**
   * The SDK transport and server, built on first need and brought to the session's state: the recorded `initialize`
   * replayed (not for a session whose `initialize` the transport is about to receive itself).
   */
  private sdk(authInfo: AuthInfo): Promise<{ transport: WebStandardStreamableHTTPServerTransport; server: Server }> {
    this.sdkReady ??= (async () => {
      const server = this.services.createServer(this);
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => this.id,
        // SDK v1 sent no keep-alive comments; v2 does every 15 s unless told not to. The session's own stream
        // (`session-stream.ts`) decides what its clients receive.
        keepAliveMs: 0,
        onsessioninitialized: async (sid) => {
          if (this.replaying) return;
          try {
            await this.onInitialized?.(sid);
            this.onInitialized = undefined;
            this.initialized = true;
          } catch (err) {
            this.initError = err;
            throw err;
          }
        },
      });
      await server.connect(transport);
      const built = { transport, server };
      this.sdkBuilt = built;
      if (this.initialized) await this.replay(built, this.record, authInfo);
      return built;
    })();
    this.sdkReady.catch(() => {
      this.sdkReady = undefined;
      this.sdkBuilt = undefined;
    });
    return this.sdkReady;
  }

  /** Whether a request has needed the SDK server (see the top of this file). */
  get hasSdkServer(): boolean {
    return this.sdkBuilt !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Serves one HTTP request of this session through its SDK transport and server (built on first need). */
  async handle(request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    const { transport } = await this.sdk(authInfo);
    return transport.handleRequest(request, { parsedBody, authInfo });
  }

  /**
   * Answers `message` without the SDK server if the front end or the relay can; false: `handle` must.
   * `ok`: the request is one the transport would accept (see `mcp-endpoint.ts`).
   */
  async serveDirect(message: unknown, req: IncomingMessage, res: ServerResponse, authInfo: AuthInfo): Promise<boolean> {
    if (isAnswer(message) && this.initialized) {
      const home = homeOf(message.id);
      if (home !== undefined && home !== this.replica) {
        // The request was put to the client by another replica, whose call waits for this answer: it goes there.
        await this.services.bus.send(home, { type: 'answer', sessionId: this.id, message: { id: message.id, result: message.result, error: message.error } });
        res.writeHead(202).end();
        return true;
      }
    }
    // The relay first: a tools/call it can forward is its own; the front end takes the rest it knows.
    if ((await this.relay.serve(message, res, authInfo)) || (await this.front.serve(message, req, res, authInfo))) return true;
    const method = (message as { method?: unknown } | null)?.method;
    if (method === 'notifications/cancelled' && this.services.bus.shared) {
      // Not a call of this replica's: perhaps one another replica serves. Every replica hears it; the one serving it stops.
      const requestId = (message as { params?: { requestId?: unknown } }).params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') {
        void this.services.bus.publish({ kind: 'cancelled', sessionId: this.id, requestId, from: this.replica }).catch(() => undefined);
      }
    }
    // A cancellation the relay did not know (a call that already ended) while no SDK server exists: there is no
    // other request it could be about, and building the server to ignore it would be waste.
    if (!this.sdkBuilt && this.initialized && method === 'notifications/cancelled' && (message as { id?: unknown }).id === undefined) {
      res.writeHead(202).end();
      return true;
    }
    return false;
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

  /** Brings a fresh SDK server to the recorded state (`initialize`, log level) without sending anything to anyone. */
  private async replay(sdk: { transport: WebStandardStreamableHTTPServerTransport }, stored: SessionRecord, authInfo: AuthInfo): Promise<void> {
    this.replaying = true;
    try {
      const post = async (body: unknown, withSession: boolean) => {
        const headers: Record<string, string> = { ...REPLAY_HEADERS };
        if (withSession) Object.assign(headers, { 'mcp-session-id': this.id, 'mcp-protocol-version': stored.protocolVersion });
        const res = await sdk.transport.handleRequest(new Request('http://replay.invalid/mcp', { method: 'POST', headers, body: '{}' }), {
          parsedBody: body,
          authInfo,
        });
        const text = await res.text();
        if (res.status >= 400) throw new Error(`replay failed with ${res.status}: ${text.slice(0, 200)}`);
      };
      await post(stored.initializeRequest, false);
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, true);
      if (stored.logLevel) await post({ jsonrpc: '2.0', id: '__switchboard_replay_level', method: 'logging/setLevel', params: { level: stored.logLevel } }, true);
    } finally {
      this.replaying = false;
    }
  }

  get replayingNow(): boolean {
    return this.replaying;
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
    const sdk = await this.sdkReady?.catch(() => undefined);
    await sdk?.transport.close().catch(() => undefined);
    await sdk?.server.close().catch(() => undefined);
    await this.aggregator.close(opts).catch(() => undefined);
  }
}
