/**
 * The MCP server a session talks to: one per session, built from the team's tool servers as the session's user.
 * Low-level `Server` rather than `McpServer`, because tools, prompts and resources come from tool servers at run
 * time, not from code. Each handler hands the aggregator a `CallContext` built from the SDK's request `extra`, so
 * progress, logs, cancellation and nested requests of a forwarded call travel with it.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type LoggingLevel,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
  ErrorCode,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { isUpstreamFailure, type Aggregator } from '../toolservers/aggregator.js';
import type { CallContext } from '../toolservers/types.js';
import { requestDownstream } from './session-downstream.js';

export const SERVER_INFO = { name: 'switchboard', title: 'Switchboard MCP gateway', version: '0.1.0' };

export type ToolCallOutcome = 'ok' | 'tool_error' | 'upstream_error' | 'error';

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

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

function callContext(extra: Extra): CallContext {
  const { progressToken, ...meta } = extra._meta ?? {};
  return {
    authInfo: extra.authInfo,
    signal: extra.signal,
    downstream: requestDownstream(extra),
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
  const handle: typeof server.setRequestHandler = (schema, handler) =>
    server.setRequestHandler(schema, async (req, extra) => {
      try {
        return await handler(req, extra);
      } catch (err) {
        if (err instanceof McpError) throw err;
        hooks.onInternalError(err);
        throw new McpError(ErrorCode.InternalError, 'Internal error in the gateway; it has been logged');
      }
    });

  handle(ListToolsRequestSchema, async (_req, extra) => ({ tools: await aggregator.listTools(callContext(extra)) }));
  handle(CallToolRequestSchema, async (req, extra) => {
    const started = performance.now();
    try {
      const result = await aggregator.callTool(req.params.name, req.params.arguments, callContext(extra));
      hooks.onToolCall(req.params.name, isUpstreamFailure(result) ? 'upstream_error' : result.isError ? 'tool_error' : 'ok', performance.now() - started);
      return result;
    } catch (err) {
      hooks.onToolCall(req.params.name, 'error', performance.now() - started);
      throw err;
    }
  });

  if (aggregator.hasRemote) {
    handle(ListPromptsRequestSchema, async (_req, extra) => ({ prompts: await aggregator.listPrompts(callContext(extra)) }));
    handle(GetPromptRequestSchema, (req, extra) => aggregator.getPrompt(req.params.name, req.params.arguments, callContext(extra)));
    handle(ListResourcesRequestSchema, async (_req, extra) => ({ resources: await aggregator.listResources(callContext(extra)) }));
    handle(ListResourceTemplatesRequestSchema, async (_req, extra) => ({
      resourceTemplates: await aggregator.listResourceTemplates(callContext(extra)),
    }));
    handle(ReadResourceRequestSchema, (req, extra) => aggregator.readResource(req.params.uri, callContext(extra)));
    handle(SubscribeRequestSchema, async (req, extra) => (await aggregator.subscribeResource(req.params.uri, callContext(extra)), {}));
    handle(UnsubscribeRequestSchema, async (req, extra) => (await aggregator.unsubscribeResource(req.params.uri, callContext(extra)), {}));
    handle(CompleteRequestSchema, (req, extra) => aggregator.complete(req.params, callContext(extra)));
    server.setNotificationHandler(RootsListChangedNotificationSchema, () => aggregator.rootsChanged());
  }

  // Replaces the SDK's own setLevel handler to persist the level (rehydration restores it). The SDK filters
  // `sendLoggingMessage` by its private per-session map, so that map is kept up to date here as well.
  const levels = (server as unknown as { _loggingLevels?: Map<string | undefined, LoggingLevel> })._loggingLevels;
  handle(SetLevelRequestSchema, async (req, extra) => {
    levels?.set(extra.sessionId, req.params.level);
    await hooks.onSetLevel(req.params.level);
    await aggregator.setLogLevel(req.params.level);
    return {};
  });
  return server;
}
