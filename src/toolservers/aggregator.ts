/**
 * Presents several tool servers as one: names become `{server}__{name}` and resource URIs
 * `switchboard://{server}/…` (see `namespacing.ts`), or pass through for `prefix: false`; requests are routed back.
 * A failing tool server drops out of every list (logged and counted) without hiding the others, and a call to it
 * is a tool error naming it with a short generic reason (`upstreamFailureReason`): what went wrong in detail (an
 * upstream's HTTP response body, a transport error) goes to the log only, never to the client. Errors an upstream
 * answers with (JSON-RPC errors) reach the client unchanged.
 *
 * The tool servers' access policies (`access-policy.ts`) are applied here, for both front ends and every path: what
 * the session's member may not use is left out of the lists — after any shared listing (`listing-cache.ts`), whose
 * entries are never filtered — and a request for it is refused before anything reaches the tool server
 * (`relayTarget` declines it, so the call takes `callTool`, which throws `PolicyDeniedError`).
 */
import {
  ProtocolError,
  SdkError,
  SdkHttpError,
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type LoggingLevel,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Tool,
} from '@modelcontextprotocol/client';
import { ErrorCode, McpError, isConnectionClosed, isTimeout } from '../mcp/mcp-error.js';
import type { Logger } from '../observability/logger.js';
import type { CallContext, ToolServerConnection } from './types.js';
import type { RelayEndpoint } from './upstream-relay.js';
import { toolError } from './packs/pack.js';
import { prefixName, splitName, unwrapUri, wrapUri, wrapUriTemplate } from './namespacing.js';
import { UpstreamFailure } from './upstream-failure.js';
import { paramIndex, type ParamHeader } from './param-headers.js';
import { denialOf, PolicyDeniedError, type PolicyKind, type SessionAccess } from './access-policy.js';

export { NAMESPACE_SEPARATOR } from './namespacing.js';

export interface Aggregator {
  listTools(call: CallContext): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown> | undefined, call: CallContext): Promise<CallToolResult>;
  listPrompts(call: CallContext): Promise<Prompt[]>;
  getPrompt(name: string, args: Record<string, string> | undefined, call: CallContext): Promise<GetPromptResult>;
  listResources(call: CallContext): Promise<Resource[]>;
  listResourceTemplates(call: CallContext): Promise<ResourceTemplate[]>;
  readResource(uri: string, call: CallContext): Promise<ReadResourceResult>;
  subscribeResource(uri: string, call: CallContext): Promise<void>;
  unsubscribeResource(uri: string, call: CallContext): Promise<void>;
  complete(params: CompleteRequest['params'], call: CallContext): Promise<CompleteResult>;
  setLogLevel(level: LoggingLevel): Promise<void>;
  rootsChanged(): Promise<void>;
  /** The session's client listens on this replica, or no longer does (`ToolServerConnection.listen`). */
  listen(on: boolean): void;
  /**
   * While the client listens here: `toolServer` (every remote one, without it) looks for an upstream session another
   * replica opened since, to open its stream here.
   */
  lookAgain(toolServer?: string): void;
  /**
   * Where the relay sends request `method` (one of `RELAYED_METHODS`) with `params`: a remote tool server it can
   * reach, the request as that server must see it, and how to give its answer back. Undefined when the request names
   * nothing known, its server is not relayable (a built-in pack, an `oauth` tool server), the member may not use it,
   * or its params are not what the method needs: the request then takes the front end's path, which answers each of
   * those cases (the pack's result, "Unknown prompt", the policy's refusal, the schema's -32602).
   */
  relayTarget(method: string, params: Record<string, unknown>): RelayTarget | undefined;
  /**
   * The `Mcp-Param-*` headers a 2026-07-28 client must send with a call of tool `name`, from its `x-mcp-header`
   * annotations as this session last listed them (listed first if it never has); undefined for none.
   */
  paramHeaders(name: string, call: CallContext): Promise<readonly ParamHeader[] | undefined>;
  /** Whether any tool server may have prompts, resources or completions (remote ones). */
  readonly hasRemote: boolean;
  close(opts?: { end?: boolean }): Promise<void>;
}

/** The requests for one tool server that the relay forwards (`upstream-relay.ts`); everything else is the front end's. */
export const RELAYED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read', 'completion/complete']);

export interface RelayTarget {
  readonly server: string;
  /** What the request is for, as the tool server knows it: the tool, the prompt, the resource URI, the completion's ref. */
  readonly name: string;
  readonly endpoint: RelayEndpoint;
  /** The request's params as the tool server must see them (its own name or URI; the rest as the client sent it). */
  readonly params: Record<string, unknown>;
  /** The tool server's result as the client must see it (resource URIs in the gateway's namespace). */
  result(r: unknown): unknown;
  /** Logs and counts the tool server failing, as for any other request. */
  failed(err: unknown): void;
}

/** The answer to a relayed request whose tool server failed: a tool error for a call, else a JSON-RPC error naming it. */
export function relayFailure(method: string, server: string, reason: string): { result: CallToolResult } | { error: { code: number; message: string } } {
  const text = failureText(server, reason);
  if (method === 'tools/call') return { result: { isError: true, content: [{ type: 'text', text }] } };
  const err = new McpError(ErrorCode.InternalError, text);
  return { error: { code: err.code, message: err.message } };
}

/** Results of calls whose tool server failed (rather than answered with a tool error): audited as such. */
const upstreamFailures = new WeakSet<CallToolResult>();
export function isUpstreamFailure(result: CallToolResult): boolean {
  return upstreamFailures.has(result);
}

/** An error the upstream answered with, as opposed to one raised on the gateway's side of the connection. */
function isUpstreamAnswer(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError && !isTimeout(err) && !isConnectionClosed(err);
}

type Kind = 'tool' | 'prompt' | 'resource';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']);

type ErrorLink = { code?: unknown; name?: unknown; cause?: unknown };

/** An error and its causes (a failed fetch is a `TypeError` whose cause has the socket's error code). */
function causeChain(err: unknown): ErrorLink[] {
  const out: ErrorLink[] = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as ErrorLink).cause, depth++) out.push(e as ErrorLink);
  return out;
}

/**
 * Why a tool server failed, in words safe to show the client: `unreachable`, `timed out`, `answered HTTP <status>`,
 * `connection closed` or `protocol error` (an answer that is not valid MCP), else `unexpected error`. Never the
 * upstream's own text.
 */
export function upstreamFailureReason(err: unknown): string {
  if (err instanceof UpstreamFailure) return err.reason;
  if (err instanceof SdkHttpError) return err.status >= 100 && err.status <= 599 ? `answered HTTP ${err.status}` : 'protocol error';
  if (isTimeout(err)) return 'timed out';
  if (isConnectionClosed(err)) return 'connection closed';
  if (err instanceof ProtocolError) return 'protocol error';
  const chain = causeChain(err);
  if (chain.some((e) => e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT')) return 'timed out';
  if (chain.some((e) => typeof e.code === 'string' && NETWORK_CODES.has(e.code)) || (err instanceof TypeError && err.message === 'fetch failed')) return 'unreachable';
  // An answer that is not valid MCP: a result or content type the SDK refused, or one that did not parse.
  if (err instanceof SdkError || chain.some((e) => e.name === 'ZodError' || e.name === 'SyntaxError')) return 'protocol error';
  return 'unexpected error';
}

/** The client's view of a tool server failure: which one, and roughly why; the gateway log has the details. */
export function failureText(server: string, reason: string): string {
  return `Tool server ${server} failed: ${reason} (details are in the gateway log)`;
}

function failureMessage(server: string, err: unknown): string {
  return failureText(server, upstreamFailureReason(err));
}

const same = (r: unknown) => r;

/**
 * A `resources/read` result with its contents' URIs in the gateway's namespace. Read only as far as that needs: a
 * result without a `contents` list passes as it is (the client's SDK judges it, as it would the tool server's own).
 */
function wrapContents(server: string, r: unknown): unknown {
  const contents = (r as { contents?: unknown } | null | undefined)?.contents;
  if (!Array.isArray(contents)) return r;
  return {
    ...(r as object),
    contents: contents.map((c: unknown) => (c && typeof c === 'object' && typeof (c as { uri?: unknown }).uri === 'string' ? { ...c, uri: wrapUri(server, (c as { uri: string }).uri) } : c)),
  };
}

export function createAggregator(
  connections: ToolServerConnection[],
  opts: { logger: Logger; onFailure?: (server: string, err: unknown) => void; access?: SessionAccess | undefined },
): Aggregator {
  /** What the session's member may not use; undefined (no lookups at all) when no tool server has a policy. */
  const access = opts.access;
  /** Throws the policy's refusal if the member may not use `name` of `server`. */
  function allow(server: string, kind: PolicyKind, name: string): void {
    const denied = denialOf(access, server, kind, name);
    if (denied !== undefined) throw new PolicyDeniedError(denied, { toolServer: server, kind, name });
  }
  const byName = new Map(connections.map((c) => [c.name, c]));
  const passthrough = connections.filter((c) => !c.prefix);
  /** Names and URIs of `prefix: false` servers → their server (filled by the lists). */
  const owners: Record<Kind, Map<string, ToolServerConnection>> = { tool: new Map(), prompt: new Map(), resource: new Map() };

  function failed(c: ToolServerConnection, what: string, err: unknown) {
    opts.logger.warn({ err, toolServer: c.name }, `tool server failed to ${what}; leaving it out`);
    opts.onFailure?.(c.name, err);
  }

  /**
   * Every connection's items the member may use (`policy`: the kind and the name each item has on its tool server),
   * namespaced; a failing connection contributes nothing.
   */
  async function gather<T>(
    what: string,
    list: (c: ToolServerConnection) => Promise<T[]> | undefined,
    rename: (c: ToolServerConnection, item: T) => T,
    key: { kind: Kind; of: (t: T) => string } | undefined,
    policy: { kind: PolicyKind; of: (t: T) => string },
  ): Promise<T[]> {
    const lists = await Promise.all(
      connections.map(async (c) => {
        try {
          return { c, items: (await list(c)) ?? [] };
        } catch (err) {
          failed(c, what, err);
          return { c, items: [] as T[] };
        }
      }),
    );
    const out: T[] = [];
    const seen = new Set<string>();
    for (const { c, items } of lists) {
      const denials = access?.get(c.name);
      const all = denials?.all !== undefined;
      const denied = denials?.[policy.kind];
      for (const item of items) {
        if (all || denied?.has(policy.of(item))) {
          // Still routed to its tool server (an unprefixed one's names route by listing), so a call by name gets
          // the policy's refusal rather than "unknown tool".
          if (key && !c.prefix && !owners[key.kind].has(key.of(item))) owners[key.kind].set(key.of(item), c);
          continue;
        }
        const renamed = c.prefix ? rename(c, item) : item;
        if (key) {
          const k = key.of(renamed);
          if (seen.has(k)) {
            opts.logger.warn({ toolServer: c.name, [key.kind]: k }, `duplicate ${key.kind} name from an unprefixed tool server; hidden`);
            continue;
          }
          seen.add(k);
          if (!c.prefix) owners[key.kind].set(k, c);
        }
        out.push(renamed);
      }
    }
    return out;
  }

  function routeName(kind: Kind, name: string): { server: ToolServerConnection; name: string } | undefined {
    const owner = owners[kind].get(name);
    if (owner) return { server: owner, name };
    const split = splitName(name);
    const server = split && byName.get(split.server);
    if (split && server?.prefix) return { server, name: split.name };
    if (passthrough.length === 1) return { server: passthrough[0]!, name };
    return undefined;
  }

  function routeUri(uri: string): { server: ToolServerConnection; uri: string } | undefined {
    const unwrapped = unwrapUri(uri);
    const server = unwrapped && byName.get(unwrapped.server);
    if (unwrapped && server?.prefix) return { server, uri: unwrapped.uri };
    const owner = owners.resource.get(uri);
    if (owner) return { server: owner, uri };
    if (passthrough.length === 1) return { server: passthrough[0]!, uri };
    return undefined;
  }

  /** Runs a routed request; a failure of the tool server itself becomes an error naming it. */
  async function forward<T>(server: ToolServerConnection, what: string, fn: () => Promise<T> | undefined): Promise<T> {
    try {
      const r = await fn();
      if (r === undefined) throw new McpError(ErrorCode.MethodNotFound, `Tool server ${server.name} does not support ${what}`);
      return r;
    } catch (err) {
      if (isUpstreamAnswer(err) || (err instanceof Error && err.name === 'AbortError')) throw err;
      failed(server, what, err);
      throw new McpError(ErrorCode.InternalError, failureMessage(server.name, err));
    }
  }

  /** What a relayable request is for (see `relayTarget`): its server, policy kind and name there, and its params there. */
  function relayRoute(
    method: string,
    params: Record<string, unknown>,
  ): { server: ToolServerConnection; kind: PolicyKind; name: string; params: Record<string, unknown>; what: string; result?: (r: unknown) => unknown } | undefined {
    switch (method) {
      case 'tools/call':
      case 'prompts/get': {
        if (typeof params.name !== 'string') return undefined;
        const tool = method === 'tools/call';
        const t = routeName(tool ? 'tool' : 'prompt', params.name);
        if (!t) return undefined;
        return { server: t.server, kind: tool ? 'tools' : 'prompts', name: t.name, params: t.name === params.name ? params : { ...params, name: t.name }, what: tool ? 'call a tool' : 'get a prompt' };
      }
      case 'resources/read': {
        if (typeof params.uri !== 'string') return undefined;
        const t = routeUri(params.uri);
        if (!t) return undefined;
        const server = t.server;
        return {
          server,
          kind: 'resources',
          name: t.uri,
          params: t.uri === params.uri ? params : { ...params, uri: t.uri },
          what: 'read a resource',
          ...(server.prefix ? { result: (r: unknown) => wrapContents(server.name, r) } : {}),
        };
      }
      case 'completion/complete': {
        const ref = params.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
        if (ref?.type === 'ref/prompt' && typeof ref.name === 'string') {
          const t = routeName('prompt', ref.name);
          return t && { server: t.server, kind: 'prompts', name: t.name, params: { ...params, ref: { ...ref, name: t.name } }, what: 'complete' };
        }
        if (ref?.type === 'ref/resource' && typeof ref.uri === 'string') {
          const t = routeUri(ref.uri);
          return t && { server: t.server, kind: 'resources', name: t.uri, params: { ...params, ref: { ...ref, uri: t.uri } }, what: 'complete' };
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  const resourceKey = { kind: 'resource' as const, of: (r: { uri: string }) => r.uri };
  const toolPolicy = { kind: 'tools' as const, of: (t: Tool) => t.name };
  const promptPolicy = { kind: 'prompts' as const, of: (p: Prompt) => p.name };
  const resourcePolicy = { kind: 'resources' as const, of: (r: Resource) => r.uri };
  const templatePolicy = { kind: 'resources' as const, of: (t: ResourceTemplate) => t.uriTemplate };

  /** The annotated tools of the session's last listing, by the name it was given (see `paramHeaders`). */
  let listedParams: ReadonlyMap<string, readonly ParamHeader[]> | undefined;
  async function listTools(call: CallContext): Promise<Tool[]> {
    const tools = await gather('list tools', (c) => c.listTools(call), (c, t) => ({ ...t, name: prefixName(c.name, t.name) }), { kind: 'tool', of: (t) => t.name }, toolPolicy);
    listedParams = paramIndex(tools);
    return tools;
  }

  return {
    hasRemote: connections.some((c) => c.listPrompts !== undefined),
    listTools,
    async paramHeaders(name, call) {
      if (listedParams === undefined) await listTools(call);
      return listedParams?.get(name);
    },
    async callTool(name, args, call) {
      const target = routeName('tool', name);
      if (!target) return toolError(`Unknown tool ${name}`);
      allow(target.server.name, 'tools', target.name);
      try {
        return await target.server.callTool(target.name, args, call);
      } catch (err) {
        if (isUpstreamAnswer(err) || call.signal.aborted) throw err;
        failed(target.server, 'call a tool', err);
        const result = toolError(failureMessage(target.server.name, err));
        upstreamFailures.add(result);
        return result;
      }
    },
    relayTarget(method, params) {
      const route = relayRoute(method, params);
      const endpoint = route?.server.relay;
      if (!route || !endpoint) return undefined;
      // A refused request takes the front end's path, which answers the refusal: the relay never sees it.
      if (access !== undefined && denialOf(access, route.server.name, route.kind, route.name) !== undefined) return undefined;
      const { server } = route;
      return {
        server: server.name,
        name: route.name,
        endpoint,
        params: route.params,
        result: route.result ?? same,
        failed: (err) => failed(server, route.what, err),
      };
    },
    listPrompts: (call) => gather('list prompts', (c) => c.listPrompts?.(call), (c, p) => ({ ...p, name: prefixName(c.name, p.name) }), { kind: 'prompt', of: (p) => p.name }, promptPolicy),
    async getPrompt(name, args, call) {
      const target = routeName('prompt', name);
      if (!target) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt ${name}`);
      allow(target.server.name, 'prompts', target.name);
      return forward(target.server, 'prompts', () => target.server.getPrompt?.(target.name, args, call));
    },
    listResources: (call) => gather('list resources', (c) => c.listResources?.(call), (c, r) => ({ ...r, uri: wrapUri(c.name, r.uri) }), resourceKey, resourcePolicy),
    listResourceTemplates: (call) =>
      gather('list resource templates', (c) => c.listResourceTemplates?.(call), (c, t) => ({ ...t, uriTemplate: wrapUriTemplate(c.name, t.uriTemplate) }), undefined, templatePolicy),
    async readResource(uri, call) {
      const target = routeUri(uri);
      if (!target) throw new McpError(ErrorCode.InvalidParams, `Unknown resource ${uri}`);
      allow(target.server.name, 'resources', target.uri);
      const r = await forward(target.server, 'resources', () => target.server.readResource?.(target.uri, call));
      return target.server.prefix ? (wrapContents(target.server.name, r) as ReadResourceResult) : r;
    },
    async subscribeResource(uri, call) {
      const target = routeUri(uri);
      if (!target) throw new McpError(ErrorCode.InvalidParams, `Unknown resource ${uri}`);
      allow(target.server.name, 'resources', target.uri);
      await forward(target.server, 'resource subscriptions', async () => (await target.server.subscribeResource?.(target.uri, call), true));
    },
    async unsubscribeResource(uri, call) {
      const target = routeUri(uri);
      if (!target) throw new McpError(ErrorCode.InvalidParams, `Unknown resource ${uri}`);
      await forward(target.server, 'resource subscriptions', async () => (await target.server.unsubscribeResource?.(target.uri, call), true));
    },
    async complete(params, call) {
      // Routed as the relay routes it (the ref's prompt or resource, and the policy that covers it).
      const route = relayRoute('completion/complete', params);
      if (!route) return { completion: { values: [], hasMore: false } };
      allow(route.server.name, route.kind, route.name);
      return forward(route.server, 'completions', () => route.server.complete?.(route.params as CompleteRequest['params'], call));
    },
    async setLogLevel(level) {
      await Promise.allSettled(connections.map((c) => c.setLogLevel?.(level)));
    },
    async rootsChanged() {
      await Promise.allSettled(connections.map((c) => c.rootsChanged?.()));
    },
    listen(on) {
      for (const c of connections) c.listen?.(on);
    },
    lookAgain(toolServer) {
      // `listen(true)` on a connection that listens already is its "look again".
      for (const c of connections) if (toolServer === undefined || c.name === toolServer) c.listen?.(true);
    },
    async close(o) {
      await Promise.allSettled(connections.map((c) => c.close(o)));
    },
  };
}
