/**
 * The session's own front end: the MCP methods of a session answered from its record and its aggregator, without an
 * SDK server (see `live-session.ts`). Answers are what the session's SDK server sends: the same initialize result
 * (version negotiation included), an event stream carrying what the work sends on the way (progress, log messages,
 * requests to the client) and then the answer, 202 for notifications; JSON-RPC errors pass, and a failure inside
 * the gateway is logged and answered with a generic error, never its text. Requests are checked against the SDK's
 * own schemas; a request that does not fit gets -32602 saying what was wrong.
 *
 * Not here (the SDK server answers them): batches, methods this front end does not know, and — for teams without
 * remote tool servers — prompts, resources and completions (the SDK answers "method not found", as before).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, type LoggingLevel } from '@modelcontextprotocol/server';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/core';
import { ErrorCode, McpError } from './mcp-error.js';
import { isUpstreamFailure, type Aggregator } from '../toolservers/aggregator.js';
import type { CallContext } from '../toolservers/types.js';
import type { Logger } from '../observability/logger.js';
import type { RelayMessage } from '../toolservers/upstream-relay.js';
import { SERVER_INFO, sessionCapabilities, thrownOutcome, type ToolCallOutcome } from './session-server.js';
import type { SessionStream } from './session-stream.js';
import { idKey, sseEvent, track } from './in-flight.js';
import type { ResumableStreams } from '../cluster/resumable-streams.js';
import { tracingOn, traceAnswer } from '../observability/tracing.js';

/** What the front end needs of its session. */
export interface FrontSession {
  readonly id: string;
  /** Response streams, resumable when the client speaks 2025-11-25 or later (`resumable`). */
  readonly streams: ResumableStreams;
  readonly resumable: boolean;
  initialized: boolean;
  initError: unknown;
  shutdown(): Promise<void>;
}

export interface FrontHooks {
  aggregator: Aggregator;
  logger: Logger;
  /** Persist the row of a session whose `initialize` is being answered. */
  onInitialized?: ((sessionId: string) => Promise<void>) | undefined;
  /** The client set its log level: remember it (record, row) for the session. */
  onSetLevel(level: LoggingLevel): Promise<void>;
  onToolCall(tool: string, outcome: ToolCallOutcome, durationMs: number): void;
}



/** The first problem zod found, as a reader wants it: where and what. */
function problem(error: { issues?: { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues?.[0];
  return issue ? `${issue.path.map(String).join('.') || 'request'}: ${issue.message}` : 'malformed';
}

type Work = (front: { hooks: FrontHooks; callTool: SessionFront['callTool'] }, params: Record<string, unknown>, call: CallContext) => Promise<unknown>;

const str = (v: unknown) => v as string;

/** The methods the front end answers; one table for every session (a table per session cost its heap). */
/** `long`: the answer may take a while, so its stream is resumable (`cluster/response-stream.ts`); the rest answer at once. */
const METHODS: Record<string, { schema?: { safeParse(v: unknown): { success: boolean; error?: unknown } }; remoteOnly?: boolean; long?: boolean; work: Work }> = {
  ping: { work: async () => ({}) },
  'tools/list': { work: async (f, _p, call) => ({ tools: await f.hooks.aggregator.listTools(call) }) },
  'tools/call': { long: true, schema: CallToolRequestSchema, work: (f, p, call) => f.callTool(str(p.name), p.arguments as Record<string, unknown> | undefined, call) },
  'logging/setLevel': {
    schema: SetLevelRequestSchema,
    work: async (f, p) => {
      const level = p.level as LoggingLevel;
      await f.hooks.onSetLevel(level);
      await f.hooks.aggregator.setLogLevel(level);
      return {};
    },
  },
  'prompts/list': { remoteOnly: true, work: async (f, _p, call) => ({ prompts: await f.hooks.aggregator.listPrompts(call) }) },
  'prompts/get': { long: true, remoteOnly: true, schema: GetPromptRequestSchema, work: (f, p, call) => f.hooks.aggregator.getPrompt(str(p.name), p.arguments as Record<string, string> | undefined, call) },
  'resources/list': { remoteOnly: true, work: async (f, _p, call) => ({ resources: await f.hooks.aggregator.listResources(call) }) },
  'resources/templates/list': { remoteOnly: true, work: async (f, _p, call) => ({ resourceTemplates: await f.hooks.aggregator.listResourceTemplates(call) }) },
  'resources/read': { long: true, remoteOnly: true, schema: ReadResourceRequestSchema, work: (f, p, call) => f.hooks.aggregator.readResource(str(p.uri), call) },
  'resources/subscribe': { remoteOnly: true, schema: SubscribeRequestSchema, work: async (f, p, call) => (await f.hooks.aggregator.subscribeResource(str(p.uri), call), {}) },
  'resources/unsubscribe': { remoteOnly: true, schema: UnsubscribeRequestSchema, work: async (f, p, call) => (await f.hooks.aggregator.unsubscribeResource(str(p.uri), call), {}) },
  'completion/complete': { remoteOnly: true, schema: CompleteRequestSchema, work: (f, p, call) => f.hooks.aggregator.complete(p as never, call) },
};

export class SessionFront {
  /** Requests being answered here, by the client's id: `notifications/cancelled` aborts them. */
  private callsMap: Map<string, AbortController> | undefined;
  /** Made on first use (an idle session keeps none; see `switchable-aggregator.ts`). */
  private get calls(): Map<string, AbortController> {
    return (this.callsMap ??= new Map());
  }
  constructor(
    private readonly session: FrontSession,
    private readonly stream: SessionStream,
    readonly hooks: FrontHooks,
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
    if (m.method === undefined) {
      if (!this.stream.answer(m)) return false;
      res.writeHead(202).end();
      return true;
    }
    if (m.id === undefined) return this.notification(m, res);
    // Own keys only: a method named `constructor` or `__proto__` is not one of ours.
    const method = Object.hasOwn(METHODS, m.method) ? METHODS[m.method] : undefined;
    if (!method || (method.remoteOnly && !this.hooks.aggregator.hasRemote)) return false;
    if (method.schema) {
      const parsed = method.schema.safeParse(m);
      if (!parsed.success) {
        this.answer(res, { jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: `Invalid ${m.method} request: ${problem(parsed.error as never)}` } });
        return true;
      }
    }
    await this.respond(m, res, authInfo, method.work, method.long === true);
    return true;
  }

  private async notification(m: RelayMessage, res: ServerResponse): Promise<boolean> {
    if (m.method === 'notifications/initialized') {
      // Nothing to do: the session is ready from its initialize on.
    } else if (m.method === 'notifications/cancelled') {
      if (!this.cancel(m.params?.requestId)) return false; // perhaps the relay's, or the SDK server's
    } else if (m.method === 'notifications/roots/list_changed') {
      if (this.hooks.aggregator.hasRemote) await this.hooks.aggregator.rootsChanged();
    } else {
      return false;
    }
    res.writeHead(202).end();
    return true;
  }

  /** Aborts the request the client knows as `requestId`; false if none is being answered here. */
  cancel(requestId: unknown): boolean {
    const controller = this.callsMap?.get(idKey(requestId));
    controller?.abort();
    return controller !== undefined;
  }

  private async initialize(m: RelayMessage, res: ServerResponse): Promise<void> {
    const s = this.session;
    try {
      await this.hooks.onInitialized?.(s.id);
      this.hooks.onInitialized = undefined;
    } catch (err) {
      // The row could not be written: the endpoint answers with the real cause (503 while the database is down).
      s.initError = err;
      await s.shutdown();
      throw err;
    }
    s.initialized = true;
    const requested = (m.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const protocolVersion = typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
    this.answer(res, { jsonrpc: '2.0', id: m.id, result: { protocolVersion, capabilities: sessionCapabilities(this.hooks.aggregator), serverInfo: SERVER_INFO } });
  }

  /**
   * A tool of a built-in pack, or one the relay declined (a call the tool server's policy refuses: audited `denied`),
   * audited like every tool call. (Public for `METHODS`.)
   */
  async callTool(name: string, args: Record<string, unknown> | undefined, call: CallContext): Promise<unknown> {
    const started = performance.now();
    try {
      const result = await this.hooks.aggregator.callTool(name, args, call);
      this.hooks.onToolCall(name, isUpstreamFailure(result) ? 'upstream_error' : result.isError ? 'tool_error' : 'ok', performance.now() - started);
      return result;
    } catch (err) {
      this.hooks.onToolCall(name, thrownOutcome(err), performance.now() - started);
      throw err;
    }
  }

  /**
   * Runs `work` for request `m` and answers it on `res`: what the work sends on the way (progress, log messages,
   * requests to the client) goes out first, on the same stream. A cancelled request gets no answer.
   */
  private async respond(m: RelayMessage, res: ServerResponse, authInfo: AuthInfo, work: Work, long: boolean): Promise<void> {
    const s = this.session;
    const stream = s.streams.start(res, s.id, m.id!, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': s.id }, long && s.resumable);
    const { controller, done } = track(this.calls, idKey(m.id), res, (abort) => stream.cut(abort));
    const { progressToken, ...meta } = (m.params?._meta ?? {}) as Record<string, unknown>;
    const call: CallContext = {
      authInfo,
      signal: controller.signal,
      downstream: {
        notify: async (n) => {
          if (stream.wanted) await stream.write({ jsonrpc: '2.0', ...n });
        },
        request: (r, o) => this.stream.requestOn(res, r, o, (msg) => stream.write(msg)),
      },
      ...(typeof progressToken === 'string' || typeof progressToken === 'number' ? { progressToken } : {}),
      ...(Object.keys(meta).length > 0 ? { meta } : {}),
    };
    let reply: unknown;
    try {
      reply = { jsonrpc: '2.0', id: m.id, result: await work(this, m.params ?? {}, call) };
    } catch (err) {
      reply = { jsonrpc: '2.0', id: m.id, error: this.errorOf(err) };
    } finally {
      done();
    }
    if (controller.signal.aborted) return stream.abandon();
    if (tracingOn) traceAnswer(res, reply);
    stream.end(reply);
  }

  /** An error for the client: a JSON-RPC error passes; anything else is logged and answered generically. */
  private errorOf(err: unknown): { code: number; message: string; data?: unknown } {
    if (err instanceof McpError) return { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) };
    this.hooks.logger.error({ err, sessionId: this.session.id }, 'MCP request failed inside the gateway');
    return { code: ErrorCode.InternalError, message: 'Internal error in the gateway; it has been logged' };
  }

  private head(res: ServerResponse): void {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.session.id });
  }

  private answer(res: ServerResponse, m: unknown): void {
    if (tracingOn) traceAnswer(res, m);
    this.head(res);
    res.end(sseEvent(m));
  }
}
