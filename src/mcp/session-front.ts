/**
 * The session's own front end for the messages nearly every session consists of — `initialize`,
 * `notifications/initialized`, `ping`, `tools/list` — answered from the session's record and its aggregator, without
 * an SDK server (see `live-session.ts`). Answers are what the SDK server would send: the same initialize result
 * (version negotiation included), an event stream with one message, 202 for the notification; a failure inside the
 * gateway is logged and answered with a generic JSON-RPC error, never its text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Aggregator } from '../toolservers/aggregator.js';
import type { CallContext } from '../toolservers/types.js';
import type { Logger } from '../observability/logger.js';
import type { RelayMessage } from '../toolservers/upstream-relay.js';
import { SERVER_INFO, sessionCapabilities } from './session-server.js';
import { needsDrain, whenWritable } from './http-bridge.js';
import type { SessionStream } from './session-stream.js';

/** What the front end needs of its session. */
export interface FrontSession {
  readonly id: string;
  initialized: boolean;
  initError: unknown;
  readonly record: { protocolVersion: string };
  shutdown(): Promise<void>;
}

const event = (m: unknown) => `event: message\ndata: ${JSON.stringify(m)}\n\n`;

export class SessionFront {
  constructor(
    private readonly session: FrontSession,
    private readonly stream: SessionStream,
    private readonly opts: { aggregator: Aggregator; logger: Logger; onInitialized?: (sessionId: string) => Promise<void> },
  ) {}

  /** Answers `message` if it is one of the front end's; false: someone else must. */
  async serve(message: unknown, _req: IncomingMessage, res: ServerResponse, authInfo: AuthInfo): Promise<boolean> {
    if (!message || typeof message !== 'object' || Array.isArray(message)) return false;
    const m = message as RelayMessage;
    const s = this.session;
    if (m.method === 'initialize') {
      if (s.initialized || m.id === undefined) return false; // the transport refuses it as the SDK does
      await this.initialize(m, res);
      return true;
    }
    if (!s.initialized) return false;
    if (m.method === undefined && this.stream.answer(m)) {
      res.writeHead(202).end();
      return true;
    }
    if (m.method === 'notifications/initialized' && m.id === undefined) {
      res.writeHead(202).end();
      return true;
    }
    if (m.id === undefined) return false;
    if (m.method === 'ping') {
      this.answer(res, { jsonrpc: '2.0', id: m.id, result: {} });
      return true;
    }
    if (m.method === 'tools/list') {
      await this.listTools(m, res, authInfo);
      return true;
    }
    return false;
  }

  private async initialize(m: RelayMessage, res: ServerResponse): Promise<void> {
    const s = this.session;
    try {
      await this.opts.onInitialized?.(s.id);
    } catch (err) {
      // The row could not be written: the endpoint answers with the real cause (503 while the database is down).
      s.initError = err;
      await s.shutdown();
      throw err;
    }
    s.initialized = true;
    const requested = (m.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const protocolVersion = typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
    this.answer(res, { jsonrpc: '2.0', id: m.id, result: { protocolVersion, capabilities: sessionCapabilities(this.opts.aggregator), serverInfo: SERVER_INFO } });
  }

  private async listTools(m: RelayMessage, res: ServerResponse, authInfo: AuthInfo): Promise<void> {
    const controller = new AbortController();
    const gone = () => {
      if (!res.writableFinished) controller.abort();
    };
    res.once('close', gone);
    const { progressToken, ...meta } = (m.params?._meta ?? {}) as Record<string, unknown>;
    // Messages an upstream sends while listing (log messages, progress) go out on this response before the answer.
    const call: CallContext = {
      authInfo,
      signal: controller.signal,
      downstream: {
        notify: async (n) => {
          if (res.destroyed) return;
          this.head(res);
          if (!res.write(event({ jsonrpc: '2.0', ...n })) && needsDrain(res)) await whenWritable(res);
        },
        request: () => Promise.reject(new McpError(ErrorCode.MethodNotFound, 'The gateway does not pass requests on while listing tools')),
      },
      ...(typeof progressToken === 'string' || typeof progressToken === 'number' ? { progressToken } : {}),
      ...(Object.keys(meta).length > 0 ? { meta } : {}),
    };
    let reply: unknown;
    try {
      reply = { jsonrpc: '2.0', id: m.id, result: { tools: await this.opts.aggregator.listTools(call) } };
    } catch (err) {
      reply = { jsonrpc: '2.0', id: m.id, error: this.errorOf(err) };
    } finally {
      res.off('close', gone);
    }
    if (!res.destroyed) this.answer(res, reply);
  }

  /** An error for the client: a JSON-RPC error passes; anything else is logged and answered generically. */
  private errorOf(err: unknown): { code: number; message: string; data?: unknown } {
    if (err instanceof McpError) return { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) };
    this.opts.logger.error({ err, sessionId: this.session.id }, 'MCP request failed inside the gateway');
    return { code: ErrorCode.InternalError, message: 'Internal error in the gateway; it has been logged' };
  }

  private head(res: ServerResponse): void {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.session.id });
  }

  private answer(res: ServerResponse, m: unknown): void {
    this.head(res);
    res.end(event(m));
  }
}
