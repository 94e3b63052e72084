/**
 * Presents several tool servers as one: names become `{server}__{tool}` (or pass through for `prefix: false`),
 * calls are routed back, and a failing tool server drops out of the list without hiding the others.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../observability/logger.js';
import type { CallContext, ToolServerConnection } from './types.js';
import { toolError } from './packs/pack.js';

export const NAMESPACE_SEPARATOR = '__';

export interface Aggregator {
  listTools(call: CallContext): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown> | undefined, call: CallContext): Promise<CallToolResult>;
  close(): Promise<void>;
}

export function createAggregator(
  connections: ToolServerConnection[],
  opts: { logger: Logger; onFailure?: (server: string, err: unknown) => void },
): Aggregator {
  const byName = new Map(connections.map((c) => [c.name, c]));
  const passthrough = connections.filter((c) => !c.prefix);
  /** Tool name → server, for `prefix: false` servers (filled by listTools). */
  const unprefixedOwner = new Map<string, ToolServerConnection>();

  function route(name: string): { server: ToolServerConnection; tool: string } | undefined {
    const owner = unprefixedOwner.get(name);
    if (owner) return { server: owner, tool: name };
    const i = name.indexOf(NAMESPACE_SEPARATOR);
    if (i > 0) {
      const server = byName.get(name.slice(0, i));
      if (server?.prefix) return { server, tool: name.slice(i + NAMESPACE_SEPARATOR.length) };
    }
    if (passthrough.length === 1) return { server: passthrough[0]!, tool: name };
    return undefined;
  }

  return {
    async listTools(call) {
      const lists = await Promise.all(
        connections.map(async (c) => {
          try {
            return { c, tools: await c.listTools(call) };
          } catch (err) {
            opts.logger.warn({ err, toolServer: c.name }, 'tool server failed to list tools; leaving it out');
            opts.onFailure?.(c.name, err);
            return { c, tools: [] as Tool[] };
          }
        }),
      );
      const out: Tool[] = [];
      for (const { c, tools } of lists) {
        for (const t of tools) {
          if (c.prefix) out.push({ ...t, name: `${c.name}${NAMESPACE_SEPARATOR}${t.name}` });
          else {
            unprefixedOwner.set(t.name, c);
            out.push(t);
          }
        }
      }
      return out;
    },
    async callTool(name, args, call) {
      const target = route(name);
      if (!target) return toolError(`Unknown tool ${name}`);
      try {
        return await target.server.callTool(target.tool, args, call);
      } catch (err) {
        opts.logger.warn({ err, toolServer: target.server.name, tool: target.tool }, 'tool call failed');
        opts.onFailure?.(target.server.name, err);
        return toolError(`Tool server ${target.server.name} failed: ${err instanceof Error ? err.message : 'unknown error'}`);
      }
    },
    async close() {
      await Promise.allSettled(connections.map((c) => c.close()));
    },
  };
}
