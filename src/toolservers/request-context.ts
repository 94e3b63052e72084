/**
 * The one AsyncLocalStorage of the gateway: what the client request being served carries through the SDK's layers,
 * which hand a request on without anything of ours attached. Node visits every enabled instance on each promise it
 * creates, so a second instance taxes every request of the process (one per session made each request slower with
 * every session ever opened: 200k awaits took 44 ms with no instances, 3.3 s with 32, 61 s with 1,000). New needs for
 * request-scoped state add a field here rather than another instance.
 *
 * - `flow`: how fast the client reads this request's response (`upstream-flow.ts`), entered where the request is
 *   bridged (`mcp/http-bridge.ts`);
 * - `upstream`: the downstream request an upstream client's request serves (`upstream-client.ts`), so what arrives
 *   on that upstream response stream reaches the right client request. It names its owner: a client only ever reads
 *   the scope of its own requests.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ResponseFlow } from './upstream-flow.js';
import type { RequestScope } from './upstream-client.js';

export interface RequestContext {
  readonly flow?: ResponseFlow;
  readonly upstream?: { readonly owner: object; readonly scope: RequestScope };
}

const context = new AsyncLocalStorage<RequestContext>();

/** From here on in this async context (a client request being served), upstream streams follow `flow`. */
export function enterResponseFlow(flow: ResponseFlow): void {
  context.enterWith({ flow });
}

/** The flow of the client request being served, if any. */
export function currentResponseFlow(): ResponseFlow | undefined {
  return context.getStore()?.flow;
}

/** Runs `fn` as `owner`'s upstream request on behalf of `scope`, keeping the rest of the current context. */
export function runForUpstream<T>(owner: object, scope: RequestScope, fn: () => T): T {
  return context.run({ ...context.getStore(), upstream: { owner, scope } }, fn);
}

/** The downstream request `owner`'s upstream request in this async context serves, if it is one of `owner`'s. */
export function upstreamScopeOf(owner: object): RequestScope | undefined {
  const upstream = context.getStore()?.upstream;
  return upstream?.owner === owner ? upstream.scope : undefined;
}

/** Runs `fn` outside any client request (work that outlives it, such as an upstream's standalone stream). */
export function outsideAnyRequest<T>(fn: () => T): T {
  return context.exit(fn);
}
