/**
 * What a session's MCP server needs from a tool server, whatever it is: a built-in pack running in-process or a
 * remote MCP server reached as the user. The aggregator only ever sees `ToolServerConnection`s.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import type {
  CallToolResult,
  ClientCapabilities,
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Result,
  ServerNotification,
  ServerRequest,
  Tool,
} from '@modelcontextprotocol/client';
import type { RelayEndpoint } from './upstream-relay.js';
import type { StoredPolicy } from './access-policy.js';

/** Who and where a session is; read at call time (the chat may be attached after initialize). */
export interface SessionContext {
  readonly sessionId: string;
  readonly team: { readonly id: string; readonly slug: string; readonly name: string };
  /** The session's user as of its latest request: the e-mail follows the identity provider's latest verified claim. */
  readonly user: { readonly id: string; readonly email: string | null };
  /**
   * The user's role in the team as of the request that built the session's tool servers: what the tool servers'
   * policies judge (`access-policy.ts`). A change is taken up on the session's next request (see `session-runtime.ts`).
   */
  readonly role: 'member' | 'admin';
  readonly clientId: string;
  readonly chat: string | null;
}

/**
 * The MCP client on the other side of the gateway. A request-scoped one sends on the stream of the request being
 * served (progress, logs and nested requests of a tool call); the session-wide one on the session's own stream.
 */
export interface Downstream {
  notify(notification: ServerNotification): Promise<void>;
  /** Sends a request to the client and resolves with its raw result (errors are the client's own). */
  request(request: ServerRequest, opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<Result>;
}

/** The session-wide downstream, plus what tool servers announce outside any request. */
export interface SessionDownstream extends Downstream {
  /** What the client declared in `initialize` (undefined before it). */
  clientCapabilities(): ClientCapabilities | undefined;
  /** The log level the client asked for, if any. */
  logLevel(): LoggingLevel | undefined;
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void;
  /** `uri` as the client knows it (already namespaced). */
  resourceUpdated(uri: string): void;
  /**
   * A new upstream session was opened on this replica while the client does not listen here: a replica where it
   * listens is told, to open that session's standalone stream (`UpstreamClient.listen`).
   */
  upstreamOpenedUnheard?(toolServer: string): void;
}

/** Per-call context: the request's own credentials, cancellation and downstream stream. */
export interface CallContext {
  readonly authInfo: AuthInfo | undefined;
  readonly signal: AbortSignal;
  /** Where notifications and nested requests caused by this call go; the session's stream when absent. */
  readonly downstream?: Downstream;
  /** The client's `_meta.progressToken` of the request being served, if it asked for progress. */
  readonly progressToken?: string | number;
  /** The client's other `_meta` of the request being served, passed on unchanged. */
  readonly meta?: Record<string, unknown>;
}

export interface ToolServerConnection {
  /** The tool server's configured name (`^[a-z0-9_-]{1,32}$`). */
  readonly name: string;
  /** False when names pass through unchanged (docs/interface.md §4 `"prefix": false`). */
  readonly prefix: boolean;
  listTools(call: CallContext): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown> | undefined, call: CallContext): Promise<CallToolResult>;
  /** Prompts, resources and completions: remote tool servers only (built-in packs have none). */
  listPrompts?(call: CallContext): Promise<Prompt[]>;
  getPrompt?(name: string, args: Record<string, string> | undefined, call: CallContext): Promise<GetPromptResult>;
  listResources?(call: CallContext): Promise<Resource[]>;
  listResourceTemplates?(call: CallContext): Promise<ResourceTemplate[]>;
  readResource?(uri: string, call: CallContext): Promise<ReadResourceResult>;
  subscribeResource?(uri: string, call: CallContext): Promise<void>;
  unsubscribeResource?(uri: string, call: CallContext): Promise<void>;
  complete?(params: CompleteRequest['params'], call: CallContext): Promise<CompleteResult>;
  /** The client changed its log level / roots: passed on to tool servers already connected. */
  setLogLevel?(level: LoggingLevel): Promise<void>;
  rootsChanged?(): Promise<void>;
  /**
   * The session's client listens on this replica (`on`), or no longer does: a remote tool server keeps its upstream
   * session's standalone stream open only meanwhile (`UpstreamClient.listen`). `true` again: look for an upstream
   * session another replica opened since.
   */
  listen?(on: boolean): void;
  /** `end`: the session is over for good (close upstream sessions too), not merely evicted from memory. */
  close(opts?: { end?: boolean }): Promise<void>;
  /** A remote tool server reachable by the relay: calls are forwarded as JSON-RPC (`upstream-relay.ts`). */
  readonly relay?: RelayEndpoint;
}

/** A tool-server row as the runtime needs it. */
export interface ToolServerDefinition {
  /** The row's id (auth mode `oauth` binds users' connections to it). */
  readonly id?: string;
  readonly name: string;
  readonly kind: 'builtin' | 'remote';
  readonly pack: string | null;
  readonly url: string | null;
  readonly prefix: boolean;
  readonly authMode?: string;
  readonly authHeader?: string | null;
  readonly secretEncrypted?: string | null;
  /** Auth mode `oauth`: `{clientId?, scopes?}` as stored (`oauth/oauth-auth-config.ts`). */
  readonly authOptions?: unknown;
  /** A platform admin or operator set the URL: connections may reach private addresses (else public ones only). */
  readonly allowPrivateAddresses?: boolean;
  /** When its configuration last changed: a new version gets a new listing-cache entry. */
  readonly updatedAt?: Date;
  /** Who may use what (`access-policy.ts`); undefined when nothing is restricted. */
  readonly policy?: StoredPolicy;
}
