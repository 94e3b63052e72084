/**
 * The 2026-07-28 methods a session answers for a modern client, from the session's own record and aggregator (no
 * SDK server, no replayed `initialize`): lists, prompts, resources, completions and tool calls. A request for one
 * remote tool server (`tools/call`, `prompts/get`, `resources/read`, `completion/complete`) goes through the relay
 * (`toolservers/upstream-relay.ts`), as a legacy client's does; built-in packs are called in-process. What the work sends on the way goes to the
 * request's flight (`modern-flight.ts`), and so does what a tool server asks the client meanwhile (sampling,
 * elicitation, roots: put to the client as `input_required`). The client's `_meta` passes on to tool servers without the
 * envelope's own keys (an upstream speaking 2025-11-25 is not told it is being spoken to in 2026-07-28), so
 * `openai/*` keys, the progress token and trace context reach it unchanged.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import { CallToolRequestSchema, CompleteRequestSchema, GetPromptRequestSchema, ReadResourceRequestSchema } from '@modelcontextprotocol/core';
import { ErrorCode, McpError } from './mcp-error.js';
import { relayFailure, type Aggregator } from '../toolservers/aggregator.js';
import type { CallContext } from '../toolservers/types.js';
import { relay, sendToUpstream, type RelayMessage } from '../toolservers/upstream-relay.js';
import type { Logger } from '../observability/logger.js';
import type { SessionFront } from './session-front.js';
import type { ToolCallOutcome } from './session-server.js';
import type { JsonRpcError } from './modern-exchange.js';
import type { Flight } from './modern-flight.js';

/** What a method needs of the session serving it. */
export interface ModernSession {
  readonly id: string;
  readonly front: SessionFront;
}

export interface ModernCall {
  session: ModernSession;
  params: Record<string, unknown>;
  flight: Flight;
  auth: AuthInfo;
  /** The client's `_meta` minus the envelope's own keys (see the top of this file). */
  meta: Record<string, unknown>;
}

type Work = (c: ModernCall, call: CallContext) => Promise<unknown>;

interface Method {
  /** Checks the whole request (`{ method, params }`) before any session is looked up. */
  schema?: { safeParse(v: unknown): { success: boolean; error?: unknown } };
  /** Served only by teams with remote tool servers (built-in packs have tools only). */
  remoteOnly?: boolean;
  /** Its result carries caching hints (server/utilities/caching §Cacheable Results). */
  cacheable?: boolean;
  work: Work;
}

const str = (v: unknown) => v as string;
const agg = (c: ModernCall): Aggregator => c.session.front.hooks.aggregator;

/** The methods of 2026-07-28 a session serves (basic/index, server/*). */
export const MODERN_METHODS: Readonly<Record<string, Method>> = {
  'tools/list': { cacheable: true, work: async (c, call) => ({ tools: await agg(c).listTools(call) }) },
  'tools/call': { schema: CallToolRequestSchema, work: (c, call) => relayed(c, call, 'tools/call', () => c.session.front.callTool(str(c.params.name), c.params.arguments as Record<string, unknown> | undefined, call)) },
  'prompts/list': { cacheable: true, remoteOnly: true, work: async (c, call) => ({ prompts: await agg(c).listPrompts(call) }) },
  'prompts/get': {
    remoteOnly: true,
    schema: GetPromptRequestSchema,
    work: (c, call) => relayed(c, call, 'prompts/get', () => agg(c).getPrompt(str(c.params.name), c.params.arguments as Record<string, string> | undefined, call)),
  },
  'resources/list': { cacheable: true, remoteOnly: true, work: async (c, call) => ({ resources: await agg(c).listResources(call) }) },
  'resources/templates/list': { cacheable: true, remoteOnly: true, work: async (c, call) => ({ resourceTemplates: await agg(c).listResourceTemplates(call) }) },
  'resources/read': { cacheable: true, remoteOnly: true, schema: ReadResourceRequestSchema, work: (c, call) => relayed(c, call, 'resources/read', () => agg(c).readResource(str(c.params.uri), call)) },
  'completion/complete': { remoteOnly: true, schema: CompleteRequestSchema, work: (c, call) => relayed(c, call, 'completion/complete', () => agg(c).complete(c.params as never, call)) },
};

/**
 * The caching hints of a cacheable result: private (lists differ per user: tool policies, per-user upstream accounts)
 * and stale at once — a client that keeps a `subscriptions/listen` stream open hears of changes, but many (ChatGPT)
 * do not, and a team's tool servers may change at any time.
 */
export const CACHE_HINTS = { ttlMs: 0, cacheScope: 'private' } as const;

/** An error a tool server answered with, passed to the client as it is (or the relay's for a failed tool server). */
class UpstreamError extends Error {
  constructor(readonly rpc: JsonRpcError) {
    super(rpc.message);
  }
}

/** Runs `method` for one request in its session; the answer goes to the flight (whichever exchange it serves by then). */
export async function runModern(method: Method, c: ModernCall, logger: Logger): Promise<void> {
  const { progressToken, ...meta } = c.meta;
  const call: CallContext = {
    authInfo: c.auth,
    signal: c.flight.signal,
    downstream: c.flight,
    ...(typeof progressToken === 'string' || typeof progressToken === 'number' ? { progressToken } : {}),
    ...(Object.keys(meta).length > 0 ? { meta } : {}),
  };
  try {
    const result = await method.work(c, call);
    c.flight.finish({ result: method.cacheable ? { ...(result as object), ...CACHE_HINTS } : result });
  } catch (err) {
    if (err instanceof UpstreamError) return c.flight.finish({ error: err.rpc });
    if (err instanceof McpError) return c.flight.finish({ error: { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) } });
    logger.error({ err, sessionId: c.session.id }, 'MCP request failed inside the gateway');
    c.flight.finish({ error: { code: ErrorCode.InternalError, message: 'Internal error in the gateway; it has been logged' } });
  }
}

/**
 * A request for one tool server (`RELAYED_METHODS`): relayed to a remote tool server, or, where the relay declines it
 * (a built-in pack, an `oauth` tool server, a policy's refusal, an unknown name), answered by `otherwise`.
 */
async function relayed(c: ModernCall, call: CallContext, method: string, otherwise: () => Promise<unknown>): Promise<unknown> {
  const { inputResponses: _answers, requestState: _state, ...rest } = c.params;
  const target = agg(c).relayTarget(method, rest);
  if (!target) return otherwise();

  const hooks = c.session.front.hooks;
  const started = performance.now();
  const params: Record<string, unknown> = { ...target.params };
  if (Object.keys(c.meta).length > 0) params._meta = c.meta;
  const answerUpstream = (id: string | number, reply: { result: unknown } | { error: JsonRpcError }) =>
    sendToUpstream(target.endpoint, { jsonrpc: '2.0', id, ...reply }, c.auth).catch((err: unknown) =>
      hooks.logger.debug({ err, toolServer: target.server, sessionId: c.session.id }, 'could not pass an answer on to the tool server'),
    );
  const result = await relay(
    target.endpoint,
    { method, params, auth: c.auth, controller: c.flight.controller },
    {
      message: (m: RelayMessage) => {
        if (typeof m.method !== 'string') return;
        const body = { method: m.method, ...(m.params !== undefined ? { params: m.params } : {}) };
        if (m.id === undefined) return c.flight.notify(body);
        const id = m.id;
        // The client's answer comes with its retry; the tool server's call waits for it meanwhile.
        void c.flight.request(body).then(
          (r) => answerUpstream(id, { result: r }),
          (err: unknown) => answerUpstream(id, { error: err instanceof McpError ? { code: err.code, message: err.message } : { code: ErrorCode.InternalError, message: 'The request could not be put to the client' } }),
        );
      },
    },
  );
  const durationMs = performance.now() - started;
  // Tool calls are audited and counted; the other relayed requests are not, as on the front end's path.
  const tool = method === 'tools/call' ? str(c.params.name) : undefined;
  if (result.kind === 'aborted') {
    if (tool !== undefined) hooks.onToolCall(tool, 'error', durationMs);
    return {};
  }
  if (result.kind === 'failed') {
    target.failed(result.err);
    if (tool !== undefined) hooks.onToolCall(tool, 'upstream_error', durationMs);
    const failure = relayFailure(method, target.server, result.reason);
    if ('error' in failure) throw new UpstreamError(failure.error);
    return failure.result;
  }
  const { error, result: answer } = result.message;
  const outcome: ToolCallOutcome = error !== undefined ? 'error' : (answer as { isError?: unknown } | undefined)?.isError === true ? 'tool_error' : 'ok';
  if (tool !== undefined) hooks.onToolCall(tool, outcome, durationMs);
  if (error !== undefined) throw new UpstreamError(error as JsonRpcError);
  return target.result(answer);
}
