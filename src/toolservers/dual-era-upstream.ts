/**
 * A remote tool server of either protocol era as one `ToolServerConnection` (docs/architecture.md §Tool servers):
 * its era is known from the process-wide probe cache (`upstream-era.ts`), or probed on first use, and every
 * operation goes to the legacy connection (an SDK client and an upstream session, as before) or the modern one
 * (stateless requests, `modern-upstream-connection.ts`). The relay endpoint is switched the same way, so the
 * relay's calls — from legacy and modern clients alike — reach either kind of upstream.
 *
 * Nothing is probed until the session first uses the tool server, and a known era costs no extra round trip: the
 * legacy path of a call reads the cache synchronously and goes on exactly as before.
 */
import { ProtocolError, type AuthInfo } from '@modelcontextprotocol/server';
import { MODERN_PROTOCOL_VERSION } from '../mcp/protocol-era.js';
import type { CallContext, SessionDownstream, ToolServerConnection } from './types.js';
import type { RelayEndpoint, RelayMessage, UpstreamSession } from './upstream-relay.js';
import { envelopeFor, type ModernLink } from './modern-upstream.js';
import { modernUpstreamConnection } from './modern-upstream-connection.js';
import { GATEWAY_CLIENT_INFO, probeEra, type UpstreamEra, type UpstreamEras } from './upstream-era.js';
import { forwardedCapabilities } from './upstream-client.js';
import type { ListingCache } from './listing-cache.js';
import { ModernUpstreamListener } from './modern-upstream-listen.js';
import type { FetchLike } from '@modelcontextprotocol/client';
import type { ServerNotification, Tool } from '@modelcontextprotocol/client';
import { paramIndex, type ParamHeader } from './param-headers.js';
import type { Logger } from '../observability/logger.js';

/** For the listing a call's `Mcp-Param-*` headers are read from: it outlives the call that needed it first. */
const NEVER_ABORTED = new AbortController().signal;

/** The code a modern-only server answers `initialize` with (2026-07-28 basic/versioning §Backward Compatibility). */
const UNSUPPORTED_VERSION = -32022;

export interface DualEraOptions {
  name: string;
  prefix: boolean;
  url: string;
  eras: UpstreamEras;
  /** The tool server as a legacy connection; its relay endpoint gives the pool and credentials the probe uses. */
  legacy: ToolServerConnection & { readonly relay: RelayEndpoint };
  downstream: SessionDownstream;
  timeouts: { connectMs: number; maxCallMs: number };
  listing?: { cache: ListingCache; key: string; server: string; onChange: () => void };
  /** For the listen stream of a modern upstream: the pool of long-lived streams, and where its notifications go. */
  streams?: { fetch: FetchLike; onNotification: (n: ServerNotification) => void; logger: Logger };
}

/** The session's side of a modern upstream: its envelope from the session's record, and the asks awaiting answers. */
class SessionModernLink implements ModernLink {
  private waitingMap: Map<string, (reply: RelayMessage) => void> | undefined;
  constructor(
    private readonly downstream: SessionDownstream,
    readonly mismatch: () => void,
    private readonly tools: (auth: AuthInfo | undefined) => Promise<Tool[]>,
    readonly toolsStale: () => void,
  ) {}
  async paramHeaders(tool: string, auth: AuthInfo | undefined): Promise<readonly ParamHeader[] | undefined> {
    // The listing is the shared cache's (one upstream tools/list per minute at most); without it the call goes out
    // without the headers, and the upstream says if it needed them.
    const tools = await this.tools(auth).catch(() => undefined);
    return tools && paramIndex(tools).get(tool);
  }
  get waiting(): Map<string, (reply: RelayMessage) => void> {
    return (this.waitingMap ??= new Map());
  }
  envelope(): Record<string, unknown> {
    return envelopeFor(forwardedCapabilities(this.downstream.clientCapabilities()) as Record<string, unknown>, this.downstream.logLevel(), GATEWAY_CLIENT_INFO);
  }
}

export function dualEraConnection(opts: DualEraOptions): ToolServerConnection {
  const { legacy, eras, url } = opts;
  const legacyEndpoint = legacy.relay;
  const forget = () => eras.forget(url);
  // The modern side is made on first need: a session of a legacy upstream keeps nothing of it.
  let modernSessionMade: UpstreamSession | undefined;
  const modernSession = (): UpstreamSession =>
    (modernSessionMade ??= { id: undefined, protocolVersion: MODERN_PROTOCOL_VERSION, modern: new SessionModernLink(
      opts.downstream,
      forget,
      (auth) => modern().listTools({ authInfo: auth, signal: NEVER_ABORTED }),
      // Every session of the process lists anew (and hears list_changed), as when the upstream announces a change.
      () => opts.listing?.cache.invalidate(opts.listing.server),
    ) });
  let capabilities: Readonly<Record<string, unknown>> = {};

  const probe = async (auth: AuthInfo | undefined): Promise<UpstreamEra> =>
    probeEra({ url: legacyEndpoint.url, dispatcher: legacyEndpoint.dispatcher, headers: await legacyEndpoint.headers(auth), timeoutMs: opts.timeouts.connectMs });

  /** The era, remembered or probed; the modern capabilities are kept for the lists. */
  function eraFor(auth: AuthInfo | undefined): UpstreamEra | Promise<UpstreamEra> {
    const known = eras.known(url);
    if (known) return noteCapabilities(known);
    return eras.of(url, () => probe(auth)).then(noteCapabilities);
  }
  function noteCapabilities(era: UpstreamEra): UpstreamEra {
    if (era.era === 'modern') capabilities = era.capabilities;
    return era;
  }

  /**
   * A legacy connection failing to reach the upstream may have met a modern-only one: probe again next time. A
   * JSON-RPC error answer (the SDK client's `ProtocolError`, or ours) says the upstream speaks the legacy era.
   */
  const legacyFailed = (err: unknown): never => {
    const aborted = err instanceof Error && err.name === 'AbortError';
    if (!aborted && (!(err instanceof ProtocolError) || err.code === UNSUPPORTED_VERSION)) forget();
    throw err;
  };
  const legacySession = (auth: AuthInfo | undefined) => legacyEndpoint.session(auth).catch(legacyFailed);

  const endpoint: RelayEndpoint = {
    name: legacyEndpoint.name,
    url: legacyEndpoint.url,
    dispatcher: legacyEndpoint.dispatcher,
    timeouts: legacyEndpoint.timeouts,
    session(auth) {
      const era = eraFor(auth);
      if (!(era instanceof Promise)) return era.era === 'modern' ? Promise.resolve(modernSession()) : legacySession(auth);
      return era.then((e) => (e.era === 'modern' ? modernSession() : legacySession(auth)));
    },
    sessionGone: (id) => legacyEndpoint.sessionGone(id),
    headers: (auth) => legacyEndpoint.headers(auth),
  };

  let modernMade: ToolServerConnection | undefined;
  const modern = (): ToolServerConnection => (modernMade ??= modernUpstreamConnection({
    name: opts.name,
    prefix: opts.prefix,
    endpoint,
    capabilities: () => capabilities,
    downstream: opts.downstream,
    timeouts: opts.timeouts,
    ...(opts.listing ? { listing: opts.listing } : {}),
    ...(opts.streams ? { logger: opts.streams.logger } : {}),
    ...(opts.streams ? { listener: () => new ModernUpstreamListener({ name: opts.name, url, headers: (auth) => legacyEndpoint.headers(auth), envelope: () => modernSession().modern!.envelope(), ...opts.streams! }) } : {}),
  }));

  /** Runs `op` on the connection of the upstream's era. */
  async function route<T>(call: CallContext, op: (c: ToolServerConnection) => Promise<T> | undefined): Promise<T | undefined> {
    const era = await eraFor(call.authInfo);
    if (era.era === 'modern') return op(modern());
    try {
      return await op(legacy);
    } catch (err) {
      return legacyFailed(err);
    }
  }
  const required = async <T>(p: Promise<T | undefined>): Promise<T> => (await p) as T;

  return {
    name: opts.name,
    prefix: opts.prefix,
    relay: endpoint,
    listTools: (call) => required(route(call, (c) => c.listTools(call))),
    callTool: (name, args, call) => required(route(call, (c) => c.callTool(name, args, call))),
    listPrompts: (call) => required(route(call, (c) => c.listPrompts?.(call) ?? Promise.resolve([]))),
    getPrompt: (name, args, call) => required(route(call, (c) => c.getPrompt?.(name, args, call))),
    listResources: (call) => required(route(call, (c) => c.listResources?.(call) ?? Promise.resolve([]))),
    listResourceTemplates: (call) => required(route(call, (c) => c.listResourceTemplates?.(call) ?? Promise.resolve([]))),
    readResource: (uri, call) => required(route(call, (c) => c.readResource?.(uri, call))),
    subscribeResource: (uri, call) => required(route(call, (c) => c.subscribeResource?.(uri, call))),
    unsubscribeResource: (uri, call) => required(route(call, (c) => c.unsubscribeResource?.(uri, call))),
    complete: (params, call) => required(route(call, (c) => c.complete?.(params, call))),
    // A legacy upstream session hears these (a modern upstream gets them in every request's envelope).
    setLogLevel: (level) => legacy.setLogLevel?.(level) ?? Promise.resolve(),
    rootsChanged: () => legacy.rootsChanged?.() ?? Promise.resolve(),
    // A modern upstream has no standalone stream (its listen stream follows subscriptions: `modern-upstream-listen.ts`).
    listen: (on) => legacy.listen?.(on),
    async close(o) {
      await Promise.all([legacy.close(o), modernMade?.close(o)]);
    },
  };
}
