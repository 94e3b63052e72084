/**
 * A session held in memory by this process: its SDK transport, its MCP server and its tool-server connections.
 * Built either by `initialize` or by rehydration from the session's row (docs/architecture.md §Sessions): a fresh server and
 * a transport whose id generator returns the stored id, then the stored `initialize` replayed with side effects
 * muted, then the stored log level.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Aggregator } from '../toolservers/aggregator.js';
import type { SessionContext } from '../toolservers/types.js';
import type { ClientUse } from '../sessions/session-store.js';
import type { Logger } from '../observability/logger.js';
import { SessionRelay, type OnToolCall } from './session-relay.js';

export interface LiveSessionInit {
  id: string;
  context: SessionContext & { chat: string | null; user: SessionContext['user'] };
  teamId: string;
  createdAt: Date;
  expiresAt: Date;
  /** The chat's row id, with the owner the session's key for requests that carry no session id. */
  chatId: string | null;
  /** How the client has used the session (see `SessionStore.supersede`). */
  clientUse: ClientUse | null;
  clock: () => number;
  /** Told when the session starts and stops serving POSTs. */
  onWorking?: (s: LiveSession, working: boolean) => void;
  server: Server;
  aggregator: Aggregator;
  /** Points the session at its team's current tool servers (see `switchableAggregator`). */
  reloadToolServers?: () => Promise<void>;
  /** Called once the transport accepted a fresh `initialize` (not on replay); persist the row here. */
  onInitialized?: (sessionId: string) => Promise<void>;
  logger: Logger;
  /** Reports a tool call the relay served (the session server reports its own). */
  onToolCall: OnToolCall;
}

const REPLAY_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export class LiveSession {
  readonly id: string;
  /** Mutable where it may change during the session: the chat (attached later) and the user's e-mail (see `get`). */
  readonly context: SessionContext & { chat: string | null; user: SessionContext['user'] };
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
  private readonly onWorking: ((s: LiveSession, working: boolean) => void) | undefined;
  private closed = false;
  private readonly transport: WebStandardStreamableHTTPServerTransport;
  private readonly server: Server;
  private readonly aggregator: Aggregator;
  private readonly reload: (() => Promise<void>) | undefined;

  private constructor(init: LiveSessionInit) {
    this.id = init.id;
    this.context = init.context;
    this.teamId = init.teamId;
    this.createdAt = init.createdAt;
    this.expiresAt = init.expiresAt;
    this.chatId = init.chatId;
    this.clientUse = init.clientUse;
    this.clock = init.clock;
    this.onWorking = init.onWorking;
    this.lastUsedAt = init.clock();
    this.server = init.server;
    this.aggregator = init.aggregator;
    this.reload = init.reloadToolServers;
    this.relay = new SessionRelay({ sessionId: init.id, aggregator: init.aggregator, logger: init.logger, onToolCall: init.onToolCall });
    this.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => init.id,
      onsessioninitialized: async (sid) => {
        if (this.replaying) return;
        try {
          await init.onInitialized?.(sid);
        } catch (err) {
          this.initError = err;
          throw err;
        }
      },
    });
  }

  static async start(init: LiveSessionInit): Promise<LiveSession> {
    const s = new LiveSession(init);
    await s.server.connect(s.transport);
    return s;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Serves one HTTP request of this session. */
  handle(request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    return this.transport.handleRequest(request, { parsedBody, authInfo });
  }

  /**
   * Marks the session busy while a request (`POST`) or a standalone stream (`GET`) is open: it is not evicted
   * meanwhile, and a close announced while a POST is open waits for it (see `closeWhenIdle`).
   */
  async busy<T>(kind: 'request' | 'stream', fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    if (kind === 'request' && this.requestsInFlight++ === 0) this.onWorking?.(this, true);
    this.lastUsedAt = this.clock();
    try {
      return await fn();
    } finally {
      this.inFlight--;
      if (kind === 'request' && --this.requestsInFlight === 0) this.onWorking?.(this, false);
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

  /** Restores protocol state from the stored `initialize` (and log level) without sending anything to anyone. */
  async replay(stored: { initializeRequest: unknown; protocolVersion: string; logLevel: string | null }, authInfo: AuthInfo): Promise<void> {
    this.replaying = true;
    try {
      const post = async (body: unknown, withSession: boolean) => {
        const headers: Record<string, string> = { ...REPLAY_HEADERS };
        if (withSession) Object.assign(headers, { 'mcp-session-id': this.id, 'mcp-protocol-version': stored.protocolVersion });
        const res = await this.transport.handleRequest(new Request('http://replay.invalid/mcp', { method: 'POST', headers, body: '{}' }), {
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

  /** Announces that the tool list changed (tool-server configuration, upstream `listChanged`). */
  async toolsChanged(): Promise<void> {
    await this.server.sendToolListChanged().catch(() => undefined);
  }

  /** Switches to the team's current tool servers, then announces `tools/list_changed`. */
  async reloadToolServers(): Promise<void> {
    if (this.closed) return;
    await this.reload?.();
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
    await this.transport.close().catch(() => undefined);
    await this.server.close().catch(() => undefined);
    await this.aggregator.close(opts).catch(() => undefined);
  }
}
