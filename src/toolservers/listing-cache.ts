/**
 * What a remote tool server lists (`tools/list`) when a session first asks, shared by the sessions of this process:
 * a session that has not talked to the upstream yet gets its tools from here, without opening an upstream session
 * (one is opened when the session first calls a tool). A session that already has an upstream session lists through
 * it, so an upstream whose list depends on the session's own state still answers for that session.
 *
 * Keyed by tool server (team, name, URL, auth mode and configuration version) and, where the upstream sees the
 * user's identity (`exchange`, `passthrough`), by user: two users never share a listing their tokens may have
 * shaped. An entry lives `ttlMs` (60 s) at most and is dropped as soon as any session of this process hears the
 * upstream's `notifications/tools/list_changed`; other replicas keep theirs until it expires.
 */
import { LRUCache } from 'lru-cache';
import type { Tool } from '@modelcontextprotocol/client';
import type { ToolServerDefinition } from './types.js';

export interface ListingCache {
  get(key: string): Tool[] | undefined;
  set(key: string, tools: Tool[]): void;
  /** Drops every entry of one tool server (all users): its list changed; tells those who listed from here. */
  invalidate(server: string): void;
  /**
   * Calls `onChange` when the tool server's listing is invalidated: a session that listed from here holds no upstream
   * stream of its own to hear `list_changed` on. Returns the unsubscribe function.
   */
  watch(server: string, onChange: () => void): () => void;
}

/** Auth modes whose upstream answers the same to every user (no per-user credential reaches it). */
const SHARED_MODES = new Set(['none', 'static']);

/** The cache key of a tool server's listing as `userId` sees it, and the tool server's own key (for invalidation). */
export function listingKeys(teamId: string, def: ToolServerDefinition, userId: string): { server: string; key: string } {
  const server = JSON.stringify([teamId, def.name, def.url, def.authMode ?? 'none', def.updatedAt?.getTime() ?? 0]);
  return { server, key: SHARED_MODES.has(def.authMode ?? 'none') ? `${server}\n` : `${server}\n${userId}` };
}

export function createListingCache(opts: { max?: number; ttlMs?: number } = {}): ListingCache {
  const watchers = new Map<string, Set<() => void>>();
  /** Keys per tool server, so a change drops every user's entry. */
  const keysOf = new Map<string, Set<string>>();
  const serverOf = (key: string) => key.slice(0, key.lastIndexOf('\n'));
  const entries = new LRUCache<string, Tool[]>({
    max: opts.max ?? 10_000,
    ttl: opts.ttlMs ?? 60_000,
    dispose: (_tools, key) => {
      const keys = keysOf.get(serverOf(key));
      keys?.delete(key);
      if (keys?.size === 0) keysOf.delete(serverOf(key));
    },
  });
  return {
    get: (key) => entries.get(key),
    set(key, tools) {
      entries.set(key, tools);
      const server = serverOf(key);
      let keys = keysOf.get(server);
      if (!keys) keysOf.set(server, (keys = new Set()));
      keys.add(key);
    },
    invalidate(server) {
      for (const key of [...(keysOf.get(server) ?? [])]) entries.delete(key);
      for (const onChange of [...(watchers.get(server) ?? [])]) onChange();
    },
    watch(server, onChange) {
      let set = watchers.get(server);
      if (!set) watchers.set(server, (set = new Set()));
      set.add(onChange);
      return () => {
        set.delete(onChange);
        if (set.size === 0) watchers.delete(server);
      };
    },
  };
}
