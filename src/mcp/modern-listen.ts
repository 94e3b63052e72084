/**
 * `subscriptions/listen` (2026-07-28 basic/patterns/subscriptions): a long-lived event stream of the change
 * notifications the client opted in to, fed by what the session already hears (`SessionStream`): the team's tool
 * servers changing, an upstream announcing list changes, and updates of the resources this stream subscribed to
 * upstream. The first event is the acknowledgement with the honoured filter; every event carries the subscription id
 * (the listen request's id); a comment line keeps quiet streams open; the session ending closes it gracefully (a
 * final result), the client closing it is its cancellation. Progress and log messages never go here.
 */
import type { ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Logger } from '../observability/logger.js';
import type { Aggregator } from '../toolservers/aggregator.js';
import type { SessionStream } from './session-stream.js';
import { sseEvent } from './in-flight.js';
import { META } from './protocol-era.js';

/** What a client asks `subscriptions/listen` for. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** Listen streams one session may hold open at once (each is a socket and a listener). */
export const MAX_LISTENERS_PER_SESSION = 8;
export const KEEP_ALIVE_MS = 15_000;

const FLAGS = ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const;
const FLAG_OF: Record<string, (typeof FLAGS)[number]> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

/** Per aggregator (one per session), how many open listen streams asked for each resource: the upstream subscription is shared. */
const subscriptions = new WeakMap<Aggregator, Map<string, number>>();

async function subscribe(a: Aggregator, uri: string, call: { authInfo: AuthInfo; signal: AbortSignal }): Promise<void> {
  let counts = subscriptions.get(a);
  if (!counts) subscriptions.set(a, (counts = new Map()));
  if (!counts.get(uri)) await a.subscribeResource(uri, call);
  counts.set(uri, (counts.get(uri) ?? 0) + 1);
}

async function unsubscribe(a: Aggregator, uri: string, auth: AuthInfo): Promise<void> {
  const counts = subscriptions.get(a);
  const n = (counts?.get(uri) ?? 1) - 1;
  if (n > 0) {
    counts!.set(uri, n);
    return;
  }
  counts?.delete(uri);
  await a.unsubscribeResource(uri, { authInfo: auth, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
}

/** The request's filter if it is well-formed (an object of optional flags and URIs); undefined otherwise. */
export function parseListenFilter(params: Record<string, unknown> | undefined): ListenFilter | undefined {
  const n = params?.notifications;
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const f = n as Record<string, unknown>;
  for (const k of FLAGS) if (f[k] !== undefined && typeof f[k] !== 'boolean') return undefined;
  const uris = f.resourceSubscriptions;
  if (uris !== undefined && (!Array.isArray(uris) || uris.length > 100 || !uris.every((u) => typeof u === 'string' && u.length <= 2048))) return undefined;
  return f as ListenFilter;
}

export interface ListenSession {
  readonly id: string;
  readonly stream: SessionStream;
  readonly aggregator: Aggregator;
  readonly logger: Logger;
}

/**
 * Serves one listen stream on `res` until the client closes it or the session ends. `hasRemote`: prompts and
 * resources exist (only then are their list changes and resource subscriptions honoured).
 */
export async function serveListen(s: ListenSession, res: ServerResponse, id: string | number, filter: ListenFilter, opts: { hasRemote: boolean; auth: AuthInfo }): Promise<void> {
  const honored: ListenFilter = {};
  if (filter.toolsListChanged) honored.toolsListChanged = true;
  if (opts.hasRemote && filter.promptsListChanged) honored.promptsListChanged = true;
  if (opts.hasRemote && filter.resourcesListChanged) honored.resourcesListChanged = true;
  const controller = new AbortController();
  const call = { authInfo: opts.auth, signal: controller.signal };
  const subscribed: string[] = [];
  if (opts.hasRemote) {
    for (const uri of new Set(filter.resourceSubscriptions ?? [])) {
      // A resource its tool server cannot subscribe to is left out of the acknowledgement.
      await subscribe(s.aggregator, uri, call).then(
        () => subscribed.push(uri),
        (err: unknown) => s.logger.debug({ err, sessionId: s.id }, 'resource subscription refused'),
      );
    }
    if (filter.resourceSubscriptions) honored.resourceSubscriptions = subscribed;
  }
  const stamp = (params: unknown) => ({ ...(params as object | undefined), _meta: { ...((params as { _meta?: object } | undefined)?._meta ?? {}), [META.subscriptionId]: id } });
  const write = (m: unknown) => {
    if (!res.destroyed && !res.writableEnded) res.write(sseEvent(m));
  };

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
  write({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: stamp({ notifications: honored }) });
  const wanted = new Set(subscribed);

  await new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {
      if (!res.destroyed && !res.writableEnded) res.write(': keepalive\n\n');
    }, KEEP_ALIVE_MS);
    keepAlive.unref();
    let detach = () => undefined as void;
    const end = (graceful: boolean) => {
      clearInterval(keepAlive);
      detach();
      res.off('close', gone);
      if (graceful) {
        write({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: { [META.subscriptionId]: id } } });
        if (!res.writableEnded) res.end();
      }
      resolve();
    };
    const gone = () => end(false);
    res.once('close', gone);
    detach = s.stream.listen({
      notification: (n) => {
        const flag = FLAG_OF[n.method];
        const uri = (n.params as { uri?: unknown } | undefined)?.uri;
        if ((flag && honored[flag]) || (n.method === 'notifications/resources/updated' && typeof uri === 'string' && wanted.has(uri))) {
          write({ jsonrpc: '2.0', method: n.method, params: stamp(n.params) });
        }
      },
      closed: () => end(true),
    });
  });
  controller.abort();
  for (const uri of subscribed) await unsubscribe(s.aggregator, uri, opts.auth);
}
