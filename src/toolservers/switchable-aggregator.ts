/**
 * Lets a live session take up its team's new tool-server configuration without being rebuilt: the session's MCP
 * server holds this stand-in, and `swap` points it at a freshly connected aggregator. Calls already running on the
 * old one finish there; it is closed after a grace period (as an eviction: its upstream sessions stay open, and
 * the new aggregator reuses their stored ids).
 */
import type { Aggregator } from './aggregator.js';

export const SWAP_GRACE_MS = 60_000;

export interface SwitchableAggregator {
  /** Delegates every call to the current aggregator. */
  readonly aggregator: Aggregator;
  swap(next: Aggregator): void;
}

export function switchableAggregator(initial: Aggregator): SwitchableAggregator {
  let current = initial;
  const aggregator = new Proxy({} as Aggregator, {
    get(_target, prop) {
      const value = (current as unknown as Record<PropertyKey, unknown>)[prop];
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
  return {
    aggregator,
    swap(next) {
      const old = current;
      current = next;
      setTimeout(() => void old.close().catch(() => undefined), SWAP_GRACE_MS).unref();
    },
  };
}

/**
 * An aggregator whose tool-server connections are made on first use: a session that only initialized (an idle one,
 * most of those a process holds) keeps no connections, upstream clients or closures for them. `hasRemote` is known
 * from the definitions; a log level or roots change before any use has no connection to reach (connections take
 * the current level when they are made), and closing an unused one has nothing to close.
 */
export function lazyAggregator(hasRemote: boolean, make: () => Aggregator): Aggregator {
  let made: Aggregator | undefined;
  const use = () => (made ??= make());
  return {
    hasRemote,
    listTools: (call) => use().listTools(call),
    callTool: (name, args, call) => use().callTool(name, args, call),
    relayTarget: (name) => use().relayTarget(name),
    listPrompts: (call) => use().listPrompts(call),
    getPrompt: (name, args, call) => use().getPrompt(name, args, call),
    listResources: (call) => use().listResources(call),
    listResourceTemplates: (call) => use().listResourceTemplates(call),
    readResource: (uri, call) => use().readResource(uri, call),
    subscribeResource: (uri, call) => use().subscribeResource(uri, call),
    unsubscribeResource: (uri, call) => use().unsubscribeResource(uri, call),
    complete: (params, call) => use().complete(params, call),
    setLogLevel: async (level) => made?.setLogLevel(level),
    rootsChanged: async () => made?.rootsChanged(),
    close: async (opts) => made?.close(opts),
  };
}
