/**
 * The MCP server a session talks to: one per session, built from the team's tool servers as the session's user.
 * Low-level `Server` rather than `McpServer`, because tools, prompts and resources come from tool servers at run
 * time, not from code. Each handler hands the aggregator a `CallContext` built from the SDK's request context, so
 * progress, logs, cancellation and nested requests of a forwarded call travel with it.
 */
import { Server, type JsonSchemaType, type JsonSchemaValidator, type jsonSchemaValidator, type LoggingLevel, type RequestMethod, type RequestTypeMap, type HandlerResultTypeMap, type ServerCapabilities, type ServerContext } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { ErrorCode, McpError } from './mcp-error.js';
import { isUpstreamFailure, type Aggregator } from '../toolservers/aggregator.js';
import type { CallContext } from '../toolservers/types.js';
import { requestDownstream } from './session-downstream.js';
import { PolicyDeniedError } from '../toolservers/access-policy.js';

export const SERVER_INFO = { name: 'switchboard', title: 'Switchboard MCP gateway', version: '0.1.0' };

/** `denied`: refused by the tool server's access policy (`PolicyDeniedError`), before anything reached it. */
export type ToolCallOutcome = 'ok' | 'tool_error' | 'upstream_error' | 'error' | 'denied';

/** The outcome of a tool call that threw. */
export function thrownOutcome(err: unknown): ToolCallOutcome {
  return err instanceof PolicyDeniedError ? 'denied' : 'error';
}

export interface SessionServerHooks {
  onSetLevel(level: LoggingLevel): Promise<void>;
  onToolCall(tool: string, outcome: ToolCallOutcome, durationMs: number): void;
  /** A handler failed with something that is not a JSON-RPC error: log it (the client gets a generic error). */
  onInternalError(err: unknown): void;
}

/**
 * The SDK's default JSON Schema validator, built on first use. A `Server` builds an Ajv instance (with all its
 * formats) up front for the one thing it validates with it, form elicitation results from `elicitInput`, which a
 * session server never calls; building it anyway was about a twentieth of a session handshake's CPU. Still one per
 * server, so nothing compiled is shared between sessions.
 */
class LazyJsonSchemaValidator implements jsonSchemaValidator {
  private inner: AjvJsonSchemaValidator | undefined;
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    this.inner ??= new AjvJsonSchemaValidator();
    return this.inner.getValidator<T>(schema);
  }
}

function callContext(ctx: ServerContext): CallContext {
  const { progressToken, ...meta } = ctx.mcpReq._meta ?? {};
  return {
    authInfo: ctx.http?.authInfo,
    signal: ctx.mcpReq.signal,
    downstream: requestDownstream(ctx),
    ...(progressToken !== undefined ? { progressToken } : {}),
    ...(Object.keys(meta).length > 0 ? { meta } : {}),
  };
}

/** What a session offers: teams with remote tool servers may have prompts, resources and completions; packs have tools only. */
export function sessionCapabilities(aggregator: Pick<Aggregator, 'hasRemote'>): ServerCapabilities {
  return aggregator.hasRemote
    ? { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true, listChanged: true }, completions: {}, logging: {} }
    : { tools: { listChanged: true }, logging: {} };
}

export function createSessionServer(aggregator: Aggregator, hooks: SessionServerHooks, instructions?: string): Server {
  const server = new Server(SERVER_INFO, { capabilities: sessionCapabilities(aggregator), jsonSchemaValidator: new LazyJsonSchemaValidator(), ...(instructions ? { instructions } : {}) });
  // The SDK answers a thrown error with its message: a database or driver error would reach the client verbatim.
  // JSON-RPC errors (unknown tool, an upstream's own error) pass; anything else is logged and answered generically.
  const handle = <M extends RequestMethod>(method: M, handler: (req: RequestTypeMap[M], ctx: ServerContext) => Promise<HandlerResultTypeMap[M]>) =>
    server.setRequestHandler(method, async (req, ctx) => {
      try {
        return await handler(req, ctx);
      } catch (err) {
        if (err instanceof McpError) throw err;
        hooks.onInternalError(err);
        throw new McpError(ErrorCode.InternalError, 'Internal error in the gateway; it has been logged');
      }
    });

  handle('tools/list', async (_req, ctx) => ({ tools: await aggregator.listTools(callContext(ctx)) }));
  handle('tools/call', async (req, ctx) => {
    const started = performance.now();
    try {
      const result = await aggregator.callTool(req.params.name, req.params.arguments, callContext(ctx));
      hooks.onToolCall(req.params.name, isUpstreamFailure(result) ? 'upstream_error' : result.isError ? 'tool_error' : 'ok', performance.now() - started);
      return result;
    } catch (err) {
      hooks.onToolCall(req.params.name, thrownOutcome(err), performance.now() - started);
      throw err;
    }
  });

  if (aggregator.hasRemote) {
    handle('prompts/list', async (_req, ctx) => ({ prompts: await aggregator.listPrompts(callContext(ctx)) }));
    handle('prompts/get', (req, ctx) => aggregator.getPrompt(req.params.name, req.params.arguments, callContext(ctx)));
    handle('resources/list', async (_req, ctx) => ({ resources: await aggregator.listResources(callContext(ctx)) }));
    handle('resources/templates/list', async (_req, ctx) => ({
      resourceTemplates: await aggregator.listResourceTemplates(callContext(ctx)),
    }));
    handle('resources/read', (req, ctx) => aggregator.readResource(req.params.uri, callContext(ctx)));
    handle('resources/subscribe', async (req, ctx) => (await aggregator.subscribeResource(req.params.uri, callContext(ctx)), {}));
    handle('resources/unsubscribe', async (req, ctx) => (await aggregator.unsubscribeResource(req.params.uri, callContext(ctx)), {}));
    handle('completion/complete', (req, ctx) => aggregator.complete(req.params, callContext(ctx)));
    server.setNotificationHandler('notifications/roots/list_changed', () => aggregator.rootsChanged());
  }

  // Replaces the SDK's own setLevel handler to persist the level (rehydration restores it). Log messages reach the
  // client from tool servers, filtered there; the gateway never sends its own through the SDK (`ctx.mcpReq.log`).
  handle('logging/setLevel', async (req) => {
    await hooks.onSetLevel(req.params.level);
    await aggregator.setLogLevel(req.params.level);
    return {};
  });
  return server;
}
