/** A built-in tool pack: plain tools implemented inside the gateway, registered by name in `packs/index.ts`. */
import { z } from 'zod';
import type { CallToolResult, Tool } from '@modelcontextprotocol/client';
import type { SessionContext, ToolServerConnection } from '../types.js';

export interface PackTool<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title?: string;
  description: string;
  input: S;
  annotations?: Tool['annotations'];
  run(args: z.infer<S>, ctx: SessionContext): Promise<CallToolResult> | CallToolResult;
}

export interface Pack {
  name: string;
  tools: PackTool[];
}

/** Declares a tool with its input type inferred from the zod schema. */
export function packTool<S extends z.ZodObject>(tool: PackTool<S>): PackTool {
  return tool as unknown as PackTool;
}

/**
 * A pack tool's input schema as JSON Schema text: converted once per tool rather than for every session (the
 * conversion was a noticeable part of a handshake), parsed per session so no session shares another's objects.
 */
const inputSchemas = new WeakMap<PackTool, string>();
function inputSchema(t: PackTool): Tool['inputSchema'] {
  let text = inputSchemas.get(t);
  if (text === undefined) {
    text = JSON.stringify(z.toJSONSchema(t.input, { io: 'input' }));
    inputSchemas.set(t, text);
  }
  return JSON.parse(text) as Tool['inputSchema'];
}

/** Serves a pack as a tool server for one session. */
export function packConnection(pack: Pack, opts: { name: string; prefix: boolean; session: SessionContext }): ToolServerConnection {
  const tools = new Map(pack.tools.map((t) => [t.name, t]));
  const listed: Tool[] = pack.tools.map((t) => ({
    name: t.name,
    ...(t.title ? { title: t.title } : {}),
    description: t.description,
    inputSchema: inputSchema(t),
    ...(t.annotations ? { annotations: t.annotations } : {}),
  }));
  return {
    name: opts.name,
    prefix: opts.prefix,
    async listTools() {
      return listed;
    },
    async callTool(name, args) {
      const tool = tools.get(name);
      if (!tool) return toolError(`Unknown tool ${name}`);
      const parsed = tool.input.safeParse(args ?? {});
      if (!parsed.success) {
        return toolError(`Invalid arguments for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      }
      return tool.run(parsed.data, opts.session);
    },
    async close() {},
  };
}

export function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}
