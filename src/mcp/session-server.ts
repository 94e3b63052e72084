/**
 * The MCP server a session talks to: one per session, built from the team's tool servers as the session's user.
 * Low-level `Server` rather than `McpServer`, because tools come from tool servers at run time, not from code.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  SetLevelRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { Aggregator } from '../toolservers/aggregator.js';

export const SERVER_INFO = { name: 'switchboard', title: 'Switchboard MCP gateway', version: '0.1.0' };

export interface SessionServerHooks {
  onSetLevel(level: LoggingLevel): Promise<void>;
  onToolCall(tool: string, outcome: 'ok' | 'tool_error' | 'error', durationMs: number): void;
}

export function createSessionServer(aggregator: Aggregator, hooks: SessionServerHooks, instructions?: string): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, logging: {} },
    ...(instructions ? { instructions } : {}),
  });
  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => ({
    tools: await aggregator.listTools({ authInfo: extra.authInfo, signal: extra.signal }),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const started = performance.now();
    try {
      const result = await aggregator.callTool(req.params.name, req.params.arguments, { authInfo: extra.authInfo, signal: extra.signal });
      hooks.onToolCall(req.params.name, result.isError ? 'tool_error' : 'ok', performance.now() - started);
      return result;
    } catch (err) {
      hooks.onToolCall(req.params.name, 'error', performance.now() - started);
      throw err;
    }
  });
  // Replaces the SDK's own setLevel handler to persist the level (rehydration restores it). The SDK filters
  // `sendLoggingMessage` by its private per-session map, so that map is kept up to date here as well.
  const levels = (server as unknown as { _loggingLevels?: Map<string | undefined, LoggingLevel> })._loggingLevels;
  server.setRequestHandler(SetLevelRequestSchema, async (req, extra) => {
    levels?.set(extra.sessionId, req.params.level);
    await hooks.onSetLevel(req.params.level);
    return {};
  });
  return server;
}
