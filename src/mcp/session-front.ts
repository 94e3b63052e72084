/**
 * The session's front end: every MCP message of a legacy-era session (2025-11-25 and before) answered from its
 * record and its aggregator — there is no SDK server behind it. Answers are what an SDK server sends: the same
 * initialize result (version negotiation included), an event stream carrying what the work sends on the way
 * (progress, log messages, requests to the client) and then the answer, 202 for notifications and responses,
 * "Method not found" for a method the session does not offer (prompts, resources and completions for a team without
 * remote tool servers), and the transport's errors in its words (a second `initialize`, a request before the first).
 * JSON-RPC errors pass, and a failure inside the gateway is logged and answered with a generic error, never its text.
 * Requests are checked against the SDK's own schemas; a request that does not fit gets -32602 saying what was wrong.
 * A JSON-RPC batch (protocol versions up to 2025-03-26; taken from any version, as the SDK's transport did) is
 * answered on one event stream, each request's events and answer as they come.
 */
import type { ServerResponse } from 'node:http';
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
import { followClient, needsDrain, whenWritable } from './backpressure.js';
import { JSONRPC } from './jsonrpc-errors.js';
import type { ResumableStreams } from '../cluster/resumable-streams.js';
import { endStream } from '../cluster/response-stream.js';
import { tracingOn, traceAnswer } from '../observability/tracing.js';

/** What the front end needs of its session. */
export interface FrontSession {
  readonly id: string;
  /** Response streams, resumable when the client speaks 2025-11-25 or later (`resumable`). */
  readonly streams: ResumableStreams;
  readonly resumable: boolean;
  initialized: boolean;
  shutdown(): Promise<void>;
  /** A cancellation of a request not being answered here: perhaps another replica serves it. */
  cancelElsewhere(requestId: unknown): void;
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

  /** Answers `message`, a single JSON-RPC message (a batch: `batch`). */
  async serve(message: RelayMessage, res: ServerResponse, authInfo: AuthInfo): Promise<void> {
    const s = this.session;
    if (message.method === 'initialize') {
      // The session is made for its initialize (`mcp-endpoint.ts`): a second one is refused, as the SDK's transport does.
      if (s.initialized) return refuse(res, 400, JSONRPC.INVALID_REQUEST, 'Invalid Request: Server already initialized');
      return this.initialize(message, res);
    }
    if (!s.initialized) return refuse(res, 400, JSONRPC.SERVER_ERROR, 'Bad Request: Server not initialized');
    if (message.id === undefined || message.method === undefined) {
      await this.deliver(message);
      res.writeHead(202).end();
      return;
    }
    const method = this.method(message);
    if ('refusal' in method) return this.answer(res, method.refusal);
    const stream = s.streams.start(res, s.id, message.id, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': s.id }, method.long && s.resumable);
    await this.respond(message, res, authInfo, method.work, stream, method.long);
  }

  /**
   * A batch: its notifications and responses are delivered in order; its requests are worked on at once, each
   * request's events and answer going out on one event stream as they come, which ends with the last answer
   * (202 if there is no request). Not resumable: a batch has no one request id to name its stream by.
   */
  async batch(messages: RelayMessage[], res: ServerResponse, authInfo: AuthInfo): Promise<void> {
    const s = this.session;
    if (!s.initialized) return refuse(res, 400, JSONRPC.SERVER_ERROR, 'Bad Request: Server not initialized');
    const requests = messages.filter((m) => m.id !== undefined && m.method !== undefined);
    for (const m of messages) if (m.id === undefined || m.method === undefined) await this.deliver(m);
    if (requests.length === 0) {
      res.writeHead(202).end();
      return;
    }
    const out = new BatchResponse(res, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': s.id }, requests.length);
    await Promise.all(
      requests.map((m) => {
        const method = this.method(m);
        const share = out.share();
        if ('refusal' in method) return share.end(method.refusal);
        return this.respond(m, res, authInfo, method.work, share, true);
      }),
    );
  }

  /** What answers request `m`: its method's work, or the refusal it gets (unknown method, params that do not fit). */
  private method(m: RelayMessage): { work: Work; long: boolean } | { refusal: unknown } {
    // Own keys only: a method named `constructor` or `__proto__` is not one of ours.
    const method = Object.hasOwn(METHODS, m.method!) ? METHODS[m.method!] : undefined;
    if (!method || (method.remoteOnly && !this.hooks.aggregator.hasRemote)) {
      return { refusal: { jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.MethodNotFound, message: 'Method not found' } } };
    }
    if (method.schema) {
      const parsed = method.schema.safeParse(m);
      if (!parsed.success) {
        return { refusal: { jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: `Invalid ${m.method} request: ${problem(parsed.error as never)}` } } };
      }
    }
    return { work: method.work, long: method.long === true };
  }

  /**
   * A notification or a response from the client. Responses answer what the session's stream asked the client (one
   * nobody waits for any more is dropped, as an SDK server does); notifications the session has no use for are
   * taken and ignored, as an SDK server ignores them.
   */
  private async deliver(m: RelayMessage): Promise<void> {
    if (m.method === undefined) {
      this.stream.answer(m);
    } else if (m.method === 'notifications/cancelled') {
      const requestId = m.params?.requestId;
      if (!this.cancel(requestId)) this.session.cancelElsewhere(requestId);
    } else if (m.method === 'notifications/roots/list_changed') {
      if (this.hooks.aggregator.hasRemote) await this.hooks.aggregator.rootsChanged().catch((err: unknown) => this.hooks.logger.warn({ err, sessionId: this.session.id }, 'roots change not passed on'));
    }
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
   * Runs `work` for request `m` and answers it on `stream` (over `res`): what the work sends on the way (progress,
   * log messages, requests to the client) goes out first, on the same stream. A cancelled request gets no answer.
   * `long`: the work may read an upstream stream on the client's behalf, which then follows how fast the client reads.
   */
  private async respond(m: RelayMessage, res: ServerResponse, authInfo: AuthInfo, work: Work, stream: AnswerStream, long: boolean): Promise<void> {
    if (long) followClient(res);
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

  private answer(res: ServerResponse, m: unknown): void {
    if (tracingOn) traceAnswer(res, m);
    endStream(res, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.session.id }, sseEvent(m));
  }
}

/** A refusal in the words and shape of the SDK's transport (a JSON body, `id: null`). */
function refuse(res: ServerResponse, status: number, code: number, message: string): void {
  if (tracingOn) traceAnswer(res, { error: { code } });
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/** What one request's events and answer go out on: its own response stream, or its share of a batch's. */
interface AnswerStream {
  /** Whether anyone still reads what is written. */
  readonly wanted: boolean;
  /** One event before the answer; a promise: wait, the client reads slowly. */
  write(m: unknown): void | Promise<void>;
  /** The answer. */
  end(m: unknown): void;
  /** The request ended with nothing owed (cancelled). */
  abandon(): void;
  /** The client went away before the answer: `abort` the work (at once, or later if the stream can be resumed). */
  cut(abort: () => void): void;
}

/** The one event stream a batch's requests are answered on; it ends with the last answer. */
class BatchResponse {
  private open: number;
  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    requests: number,
  ) {
    this.open = requests;
  }

  /** The part of the stream that is one request's. */
  share(): AnswerStream {
    return new BatchShare(this);
  }

  get reading(): boolean {
    return !this.res.destroyed;
  }

  write(m: unknown): void | Promise<void> {
    if (this.res.destroyed) return;
    if (!this.res.headersSent) this.res.writeHead(200, this.headers);
    if (!this.res.write(sseEvent(m)) && needsDrain(this.res)) return whenWritable(this.res);
  }

  /** A request's answer (undefined: none, it was cancelled); the stream ends with the last. */
  last(m: unknown): void {
    if (m !== undefined) void this.write(m);
    if (--this.open > 0 || this.res.writableEnded) return;
    if (!this.res.headersSent) this.res.writeHead(200, this.headers);
    this.res.end();
  }
}

/** One request's part of a batch's stream. */
class BatchShare implements AnswerStream {
  private done = false;
  constructor(private readonly batch: BatchResponse) {}
  get wanted(): boolean {
    return !this.done && this.batch.reading;
  }
  write(m: unknown): void | Promise<void> {
    if (!this.done) return this.batch.write(m);
  }
  end(m: unknown): void {
    if (this.done) return;
    this.done = true;
    this.batch.last(m);
  }
  abandon(): void {
    this.end(undefined);
  }
  cut(abort: () => void): void {
    abort();
  }
}
