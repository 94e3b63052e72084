/**
 * A tool server of protocol 2026-07-28 as a session's `ToolServerConnection`: every operation is one stateless
 * request through the relay (`upstream-relay.ts`, which adds the envelope and the headers), so there is no SDK
 * client, no `initialize` and no upstream session. What the upstream sends during a request (progress, log
 * messages) goes to the request's downstream; what it asks (`input_required`) is put to that downstream as a
 * server→client request, and the relay retries with the answers.
 *
 * Lists come from the shared listing cache (`listing-cache.ts`): a modern upstream keeps no state per session, so
 * every session of the process may share its listing. Resource subscriptions open a `subscriptions/listen` stream
 * to the upstream (`modern-upstream-listen.ts`), which also brings its list changes while it is open; otherwise a
 * change of its tools reaches the gateway when the listing's entry expires (60 s).
 */
import type { CallToolResult, CompleteResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/client';
import { ErrorCode, McpError } from '../mcp/mcp-error.js';
import type { CallContext, Downstream, SessionDownstream, ToolServerConnection } from './types.js';
import { relay, sendToUpstream, type RelayEndpoint, type RelayMessage } from './upstream-relay.js';
import { UpstreamFailure } from './upstream-failure.js';
import type { ListingCache } from './listing-cache.js';
import type { ModernUpstreamListener } from './modern-upstream-listen.js';
import { withoutInvalidAnnotations } from './param-headers.js';
import type { Logger } from '../observability/logger.js';

/** Lists longer than this many pages are cut off (a misbehaving upstream must not loop forever). */
const MAX_PAGES = 100;

export interface ModernConnectionOptions {
  name: string;
  prefix: boolean;
  endpoint: RelayEndpoint;
  /** What the upstream's `server/discover` declared (tools, prompts, resources, completions). */
  capabilities(): Readonly<Record<string, unknown>>;
  downstream: SessionDownstream;
  timeouts: { maxCallMs: number };
  listing?: { cache: ListingCache; key: string; server: string; onChange: () => void };
  /** The session's listen stream to this upstream, made on the first resource subscription. */
  listener?: () => ModernUpstreamListener;
  /** Told of tools left out of the upstream's list (invalid `x-mcp-header` annotations). */
  logger?: Logger;
}

export function modernUpstreamConnection(opts: ModernConnectionOptions): ToolServerConnection {
  const { endpoint } = opts;
  let unwatch: (() => void) | undefined;
  let listener: ModernUpstreamListener | undefined;

  /** One request to the upstream on behalf of `call`; its JSON-RPC error is thrown as an `McpError`. */
  async function request(method: string, params: Record<string, unknown>, call: CallContext): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const cancel = () => controller.abort();
    if (call.signal.aborted) cancel();
    else call.signal.addEventListener('abort', cancel, { once: true });
    const meta = { ...call.meta, ...(call.progressToken !== undefined ? { progressToken: call.progressToken } : {}) };
    const target: Downstream = call.downstream ?? opts.downstream;
    try {
      const result = await relay(
        endpoint,
        { method, params: Object.keys(meta).length > 0 ? { ...params, _meta: meta } : params, auth: call.authInfo, controller },
        { message: (m) => toClient(m, target, call, controller.signal) },
      );
      if (result.kind === 'aborted') throw Object.assign(new Error('The request was cancelled'), { name: 'AbortError' });
      if (result.kind === 'failed') throw new UpstreamFailure(result.reason, result.err);
      const { error, result: answer } = result.message;
      if (error !== undefined) {
        const e = error as { code?: unknown; message?: unknown; data?: unknown };
        throw new McpError(typeof e.code === 'number' ? e.code : ErrorCode.InternalError, typeof e.message === 'string' ? e.message : 'Error', e.data);
      }
      return answer && typeof answer === 'object' && !Array.isArray(answer) ? (answer as Record<string, unknown>) : {};
    } finally {
      call.signal.removeEventListener('abort', cancel);
    }
  }

  /** The upstream's notifications and input requests during `call`, to its client. */
  function toClient(m: RelayMessage, target: Downstream, call: CallContext, signal: AbortSignal): Promise<void> | void {
    if (typeof m.method !== 'string') return;
    const body = { method: m.method, ...(m.params !== undefined ? { params: m.params } : {}) };
    if (m.id === undefined) return target.notify(body as never).catch(() => undefined);
    const id = m.id;
    const reply = (r: { result: unknown } | { error: unknown }) => sendToUpstream(endpoint, { jsonrpc: '2.0', id, ...r }, call.authInfo);
    void target.request(body as never, { signal, timeoutMs: opts.timeouts.maxCallMs }).then(
      (result) => reply({ result }),
      (err: unknown) => reply({ error: err instanceof McpError ? { code: err.code, message: err.message } : { code: ErrorCode.InternalError, message: 'The request could not be put to the client' } }),
    );
  }

  const supports = (capability: string) => opts.capabilities()[capability] !== undefined;

  async function listAll<T>(call: CallContext, capability: string, method: string, field: string): Promise<T[]> {
    if (!supports(capability)) return [];
    const out: T[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const r = await request(method, cursor ? { cursor } : {}, call);
      const items = r[field];
      if (Array.isArray(items)) out.push(...(items as T[]));
      if (typeof r.nextCursor !== 'string' || !r.nextCursor) break;
      cursor = r.nextCursor;
    }
    return out;
  }

  /** The upstream's tools, less those a 2026-07-28 client must leave out (§Custom Headers from Tool Parameters). */
  async function listTools(call: CallContext): Promise<Tool[]> {
    const tools = await listAll<Tool>(call, 'tools', 'tools/list', 'tools');
    return withoutInvalidAnnotations(tools, (tool, reason) =>
      opts.logger?.warn({ toolServer: opts.name, tool, reason }, 'tool left out: its x-mcp-header annotations are invalid'),
    );
  }

  return {
    name: opts.name,
    prefix: opts.prefix,
    relay: endpoint,
    async listTools(call) {
      const { listing } = opts;
      if (!listing) return listTools(call);
      unwatch ??= listing.cache.watch(listing.server, listing.onChange);
      const cached = listing.cache.get(listing.key);
      if (cached) return cached;
      const tools = await listTools(call);
      listing.cache.set(listing.key, tools);
      return tools;
    },
    callTool: async (name, args, call) => (await request('tools/call', { name, ...(args ? { arguments: args } : {}) }, call)) as CallToolResult,
    listPrompts: (call) => listAll<Prompt>(call, 'prompts', 'prompts/list', 'prompts'),
    getPrompt: async (name, args, call) => (await request('prompts/get', { name, ...(args ? { arguments: args } : {}) }, call)) as GetPromptResult,
    listResources: (call) => listAll<Resource>(call, 'resources', 'resources/list', 'resources'),
    listResourceTemplates: (call) => listAll<ResourceTemplate>(call, 'resources', 'resources/templates/list', 'resourceTemplates'),
    readResource: async (uri, call) => (await request('resources/read', { uri }, call)) as ReadResourceResult,
    // 2026-07-28 has no resources/subscribe: subscriptions/listen replaced it.
    async subscribeResource(uri, call) {
      if (!opts.listener || (opts.capabilities().resources as { subscribe?: unknown } | undefined)?.subscribe !== true) {
        throw new McpError(ErrorCode.MethodNotFound, `Tool server ${opts.name} does not offer resource subscriptions`);
      }
      listener ??= opts.listener();
      try {
        await listener.subscribe(uri, call.authInfo);
      } catch (err) {
        throw new UpstreamFailure('could not subscribe', err);
      }
    },
    async unsubscribeResource(uri) {
      await listener?.unsubscribe(uri);
    },
    complete: async (params, call) => (await request('completion/complete', params as Record<string, unknown>, call)) as CompleteResult,
    // The log level and the client's capabilities travel in every request's envelope; roots are asked for per request.
    setLogLevel: async () => undefined,
    rootsChanged: async () => undefined,
    async close() {
      unwatch?.();
      unwatch = undefined;
      listener?.close();
    },
  };
}
