/**
 * The one AsyncLocalStorage of the gateway: the request being served, as far as its code has learnt it (its id, the
 * caller, the session), for every log line written while serving it (`logger.ts`'s mixin), and what the client
 * request carries through the SDK's layers, which hand a request on without anything of ours attached. Node visits every enabled instance on each promise it
 * creates, so a second instance taxes every request of the process (one per session made each request slower with
 * every session ever opened: 200k awaits took 44 ms with no instances, 3.3 s with 32, 61 s with 1,000). New needs for
 * request-scoped state add a field here rather than another instance.
 *
 * - `request`: the request's id (`X-Request-Id`), entered by the request logger (`request-log.ts`), and the caller
 *   and session as the MCP pipeline identifies them (`noteRequest`): one object, shared by every context derived
 *   from the request's, so what is learnt later is seen by all;
 * - `flow`: how fast the client reads this request's response (`upstream-flow.ts`), entered where the session's
 *   front end starts answering a request that may read an upstream stream (`mcp/backpressure.ts`);
 * - `upstream`: the downstream request an upstream client's request serves (`upstream-client.ts`), so what arrives
 *   on that upstream response stream reaches the right client request. It names its owner: a client only ever reads
 *   the scope of its own requests.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ResponseFlow } from '../toolservers/upstream-flow.js';
import type { RequestScope } from '../toolservers/upstream-client.js';

/** What is known of the request being served; filled in as the pipeline learns it. */
export interface RequestFacts {
  readonly requestId: string;
  team?: string;
  userId?: string;
  clientId?: string;
  sessionId?: string;
}

export interface RequestContext {
  readonly request?: RequestFacts;
  /** OpenTelemetry's active context, with tracing on (`tracing-sdk.ts`'s context manager keeps it here). */
  readonly otel?: unknown;
  readonly flow?: ResponseFlow;
  readonly upstream?: { readonly owner: object; readonly scope: RequestScope };
}

const context = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (the rest of a request's handling) as the request `requestId`. */
export function runRequest<T>(requestId: string, fn: () => T): T {
  return context.run({ request: { requestId } }, fn);
}

/** What is known of the request being served, if any. */
export function requestFacts(): RequestFacts | undefined {
  return context.getStore()?.request;
}

/** Records what the pipeline learnt of the request being served (caller, session); nothing outside a request. */
export function noteRequest(facts: Omit<Partial<RequestFacts>, 'requestId'>): void {
  const request = context.getStore()?.request;
  if (request) Object.assign(request, facts);
}

/** From here on in this async context (a client request being served), upstream streams follow `flow`. */
export function enterResponseFlow(flow: ResponseFlow): void {
  context.enterWith({ ...context.getStore(), flow });
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
  // Tracing's context stays (the work is still part of the request's trace, as before it shared this storage).
  const otel = context.getStore()?.otel;
  return otel === undefined ? context.exit(fn) : context.run({ otel }, fn);
}

/** The OpenTelemetry context stored in the current async context, if any (tracing's context manager). */
export function currentOtelContext(): unknown {
  return context.getStore()?.otel;
}

/** Runs `fn` with `otel` as OpenTelemetry's active context, keeping the rest of the current context. */
export function runWithOtelContext<T>(otel: unknown, fn: () => T): T {
  return context.run({ ...context.getStore(), otel }, fn);
}
