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
