/**
 * A remote tool server as a session's `ToolServerConnection`: every MCP operation forwarded over the session's
 * `UpstreamClient`, with the client's progress token, cancellation and `_meta` carried along. Results come back
 * unchanged except resource URIs, which the aggregator namespaces.
 */
import type { CallToolResult, Client, Prompt, RequestOptions, Resource, ResourceTemplateType as ResourceTemplate, ServerCapabilities, ServerNotification, Tool } from '@modelcontextprotocol/client';
import {
  CallToolResultSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  GetPromptResultSchema,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  ReadResourceResultSchema,
} from '@modelcontextprotocol/core';
import type { CallContext, SessionDownstream, ToolServerConnection } from './types.js';
import type { UpstreamClient, UpstreamTimeouts } from './upstream-client.js';
import { wrapUri } from './namespacing.js';
import type { ListingCache } from './listing-cache.js';

/** Lists longer than this many pages are cut off (a misbehaving upstream must not loop forever). */
const MAX_PAGES = 100;

export function upstreamConnection(opts: {
  name: string;
  prefix: boolean;
  client: UpstreamClient;
  timeouts: UpstreamTimeouts;
  /** Where a session without an upstream session yet takes its tool list from (see `listing-cache.ts`). */
  listing?: { cache: ListingCache; key: string; server: string; onChange: () => void };
}): ToolServerConnection {
  const { client, timeouts } = opts;
  /** Set while this session relies on the shared listing: its client is told when that listing changes. */
  let unwatch: (() => void) | undefined;

  /** Request options for one forwarded call: cancellation, timeouts and progress back to the client. */
  function requestOptions(call: CallContext): RequestOptions {
    const downstream = call.downstream;
    const token = call.progressToken;
    return {
      signal: call.signal,
      timeout: timeouts.callMs,
      maxTotalTimeout: timeouts.maxCallMs,
      resetTimeoutOnProgress: true,
      ...(token !== undefined && downstream
        ? {
            onprogress: (p) => {
              void downstream.notify({ method: 'notifications/progress', params: { ...p, progressToken: token } }).catch(() => undefined);
            },
          }
        : {}),
    };
  }

  const scope = (call: CallContext) => ({ auth: call.authInfo, downstream: call.downstream });
  const meta = (call: CallContext) => (call.meta && Object.keys(call.meta).length > 0 ? { _meta: call.meta } : {});

  async function supports(call: CallContext, capability: keyof ServerCapabilities): Promise<boolean> {
    return client.run(scope(call), async (_c, server) => server.capabilities[capability] !== undefined);
  }

  async function listAll<T>(call: CallContext, capability: keyof ServerCapabilities, page: (c: Client, cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
    if (!(await supports(call, capability))) return [];
    const out: T[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const r = await client.run(scope(call), (c) => page(c, cursor));
      out.push(...r.items);
      if (!r.nextCursor) break;
      cursor = r.nextCursor;
    }
    return out;
  }

  return {
    name: opts.name,
    prefix: opts.prefix,
    ...(client.relay ? { relay: client.relay } : {}),
    async listTools(call) {
      const list = () =>
        listAll<Tool>(call, 'tools', async (c, cursor) => {
          const r = await c.request({ method: 'tools/list', params: cursor ? { cursor } : {} }, ListToolsResultSchema, requestOptions(call));
          return { items: r.tools, nextCursor: r.nextCursor };
        });
      const { listing } = opts;
      // A session with its own upstream session lists through it (the list may depend on that session's state).
      if (!listing || (await client.hasUpstreamSession())) {
        unwatch?.(); // its own upstream stream brings list changes now
        unwatch = undefined;
        return list();
      }
      const cached = listing.cache.get(listing.key);
      if (cached) {
        unwatch ??= listing.cache.watch(listing.server, listing.onChange);
        return cached;
      }
      // A fresh upstream session's list is what any other new session would be shown.
      const tools = await list();
      listing.cache.set(listing.key, tools);
      return tools;
    },
    async callTool(name, args, call) {
      return client.run(scope(call), (c) =>
        c.request({ method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}), ...meta(call) } }, CallToolResultSchema, requestOptions(call)),
      ) as Promise<CallToolResult>;
    },
    listPrompts: (call) =>
      listAll<Prompt>(call, 'prompts', async (c, cursor) => {
        const r = await c.request({ method: 'prompts/list', params: cursor ? { cursor } : {} }, ListPromptsResultSchema, requestOptions(call));
        return { items: r.prompts, nextCursor: r.nextCursor };
      }),
    getPrompt: (name, args, call) =>
      client.run(scope(call), (c) =>
        c.request({ method: 'prompts/get', params: { name, ...(args ? { arguments: args } : {}), ...meta(call) } }, GetPromptResultSchema, requestOptions(call)),
      ),
    listResources: (call) =>
      listAll<Resource>(call, 'resources', async (c, cursor) => {
        const r = await c.request({ method: 'resources/list', params: cursor ? { cursor } : {} }, ListResourcesResultSchema, requestOptions(call));
        return { items: r.resources, nextCursor: r.nextCursor };
      }),
    listResourceTemplates: (call) =>
      listAll<ResourceTemplate>(call, 'resources', async (c, cursor) => {
        const r = await c.request({ method: 'resources/templates/list', params: cursor ? { cursor } : {} }, ListResourceTemplatesResultSchema, requestOptions(call));
        return { items: r.resourceTemplates, nextCursor: r.nextCursor };
      }),
    readResource: (uri, call) =>
      client.run(scope(call), (c) => c.request({ method: 'resources/read', params: { uri, ...meta(call) } }, ReadResourceResultSchema, requestOptions(call))),
    async subscribeResource(uri, call) {
      await client.run(scope(call), (c) => c.request({ method: 'resources/subscribe', params: { uri } }, EmptyResultSchema, requestOptions(call)));
    },
    async unsubscribeResource(uri, call) {
      await client.run(scope(call), (c) => c.request({ method: 'resources/unsubscribe', params: { uri } }, EmptyResultSchema, requestOptions(call)));
    },
    complete: (params, call) => client.run(scope(call), (c) => c.request({ method: 'completion/complete', params }, CompleteResultSchema, requestOptions(call))),
    setLogLevel: (level) => client.setLogLevel(level),
    rootsChanged: () => client.rootsChanged(),
    listen: (on) => client.listen(on),
    close: (o) => {
      unwatch?.();
      return client.close(o);
    },
  };
}

/** What an upstream announces outside any request, as the client should see it. */
export function relayUpstreamNotification(server: { name: string; prefix: boolean }, downstream: SessionDownstream, n: ServerNotification): void {
  switch (n.method) {
    case 'notifications/tools/list_changed':
      return downstream.listChanged('tools');
    case 'notifications/prompts/list_changed':
      return downstream.listChanged('prompts');
    case 'notifications/resources/list_changed':
      return downstream.listChanged('resources');
    case 'notifications/resources/updated':
      return downstream.resourceUpdated(server.prefix ? wrapUri(server.name, n.params.uri) : n.params.uri);
    default:
      return undefined;
  }
}
