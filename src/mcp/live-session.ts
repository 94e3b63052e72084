/**
 * A session held in memory by this process: its SDK transport, its MCP server and its tool-server connections.
 * Built either by `initialize` or by rehydration from the session's row (DESIGN.md §Sessions): a fresh server and
 * a transport whose id generator returns the stored id, then the stored `initialize` replayed with side effects
 * muted, then the stored log level.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Aggregator } from '../toolservers/aggregator.js';
import type { SessionContext } from '../toolservers/types.js';

export interface LiveSessionInit {
  id: string;
  context: SessionContext & { chat: string | null };
  teamId: string;
  createdAt: Date;
  expiresAt: Date;
  server: Server;
  aggregator: Aggregator;
  /** Points the session at its team's current tool servers (see `switchableAggregator`). */
  reloadToolServers?: () => Promise<void>;
  /** Called once the transport accepted a fresh `initialize` (not on replay); persist the row here. */
  onInitialized?: (sessionId: string) => Promise<void>;
}

const REPLAY_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export class LiveSession {
  readonly id: string;
  readonly context: SessionContext & { chat: string | null };
  readonly teamId: string;
  readonly createdAt: Date;
  expiresAt: Date;
  lastTouchedAt = 0;
  lastUsedAt = Date.now();
  inFlight = 0;
  private replaying = false;
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
    this.server = init.server;
    this.aggregator = init.aggregator;
    this.reload = init.reloadToolServers;
    this.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => init.id,
      onsessioninitialized: async (sid) => {
        if (!this.replaying) await init.onInitialized?.(sid);
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

  /** Marks the session busy while a request or its response stream is open (it is not evicted meanwhile). */
  async busy<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.lastUsedAt = Date.now();
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.lastUsedAt = Date.now();
    }
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
    await this.transport.close().catch(() => undefined);
    await this.server.close().catch(() => undefined);
    await this.aggregator.close(opts).catch(() => undefined);
  }
}
