/**
 * What a session's MCP server needs from a tool server, whatever it is: a built-in pack running in-process or,
 * later, a remote MCP server reached as the user. The aggregator only ever sees `ToolServerConnection`s.
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

/** Who and where a session is; read at call time (the chat may be attached after initialize). */
export interface SessionContext {
  readonly sessionId: string;
  readonly team: { readonly id: string; readonly slug: string; readonly name: string };
  readonly user: { readonly id: string; readonly email: string | null };
  readonly clientId: string;
  readonly chat: string | null;
}

/** Per-call context: the request's own credentials and cancellation. */
export interface CallContext {
  readonly authInfo: AuthInfo | undefined;
  readonly signal: AbortSignal;
}

export interface ToolServerConnection {
  /** The tool server's configured name (`^[a-z0-9_-]{1,32}$`). */
  readonly name: string;
  /** False when names pass through unchanged (CONTRACT §4 `"prefix": false`). */
  readonly prefix: boolean;
  listTools(call: CallContext): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown> | undefined, call: CallContext): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** A tool-server row as the runtime needs it. */
export interface ToolServerDefinition {
  readonly name: string;
  readonly kind: 'builtin' | 'remote';
  readonly pack: string | null;
  readonly url: string | null;
  readonly prefix: boolean;
}
