/**
 * OpenTelemetry tracing, as the rest of the gateway sees it: a switch and a handful of hooks. Off (no
 * `OTEL_EXPORTER_OTLP_ENDPOINT`), nothing of OpenTelemetry is loaded and the hooks are never reached: every call
 * site checks `tracingOn` first, and the MCP POST chain is built without the tracing steps (`mcp/mcp-endpoint.ts`),
 * so the hot path is exactly what it is without this file. On, `startTracing` loads the SDK (`tracing-sdk.ts`,
 * imported dynamically) and the hooks delegate to it.
 *
 * What is traced (docs/architecture.md §Tracing): a server span per MCP POST, named by its JSON-RPC method (the
 * incoming W3C `traceparent` — header, or `params._meta` (SEP-414) — continued); a client span per upstream call,
 * whose context the upstream receives as `traceparent` (and in `_meta` for protocol 2026-07-28); database spans
 * from Prisma's instrumentation within a request. Attributes name the method, tool, team and session — never
 * arguments, results or credentials.
 *
 * This is process state, unlike the rest of the gateway's (factories take their dependencies): OpenTelemetry's
 * context manager and Prisma's instrumentation hook are process-wide by design. Gateways started in one process
 * share it; it stops when the last of them stops.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TracingConfig } from '../config/tracing-config.js';
import { describeTracesUrl } from '../config/tracing-config.js';
import type { Logger } from './logger.js';

/** True while tracing is on. Checked by every call site before it calls anything below. */
export let tracingOn = false;

type Next = (err?: unknown) => void;

/** How an upstream call ended, as the client span records it (the relay's `RelayResult`, structurally). */
export interface UpstreamOutcome {
  kind: 'answer' | 'failed' | 'aborted';
  message?: { error?: unknown; result?: unknown };
  reason?: string;
}

/** A client span for one upstream call: its trace context for the upstream, and its end. */
export interface UpstreamSpan {
  /** `traceparent` (and `tracestate`): sent as headers, and in `_meta` where the upstream reads it there. */
  readonly context: Readonly<Record<string, string>>;
  end(outcome: UpstreamOutcome): void;
}

/** What `tracing-sdk.ts` implements. */
export interface TracingImpl {
  arrival(req: IncomingMessage, res: ServerResponse, next: Next): void;
  request<Req extends IncomingMessage, Res extends ServerResponse>(req: Req, res: Res, body: unknown, team: string | undefined, serve: () => unknown): unknown;
  answer(res: ServerResponse, message: unknown): void;
  relaySpan(res: ServerResponse, toolServer: string, url: URL, method: string, target: string): UpstreamSpan;
  fetch(toolServer: string, url: string | URL, init: RequestInit | undefined, headers: Headers, send: () => Promise<Response>): Promise<Response>;
  shutdown(): Promise<void>;
}

let impl: TracingImpl | undefined;
let users = 0;

/**
 * Turns tracing on for this process (loading the SDK), or counts one more user of it when it is on already. Call
 * it before the app is built: the MCP chain includes the tracing steps only when tracing is on at that moment.
 */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<void> {
  users++;
  if (impl) return;
  const { createTracing } = await import('./tracing-sdk.js');
  impl = createTracing(config, logger);
  tracingOn = true;
  // The export headers (OTEL_EXPORTER_OTLP_HEADERS) often carry an API key: never logged.
  logger.info(
    { endpoint: describeTracesUrl(config.url), protocol: config.protocol, sampler: config.sampler, ...(config.sampler.endsWith('traceidratio') ? { ratio: config.samplerRatio } : {}), serviceName: config.serviceName },
    `tracing on: spans exported to ${describeTracesUrl(config.url)} (${config.protocol})`,
  );
}

/** One user of tracing is done; the last one flushes what is left and turns it off. */
export async function stopTracing(): Promise<void> {
  if (users === 0 || --users > 0) return;
  const current = impl;
  impl = undefined;
  tracingOn = false;
  await current?.shutdown();
}

/** Express-style step at the start of an MCP POST: its server span starts here when the client sent a `traceparent`. */
export function traceMcpArrival(req: IncomingMessage, res: ServerResponse, next: Next): void {
  if (impl) impl.arrival(req, res, next);
  else next();
}

/**
 * Wraps the MCP POST handler: names the request's span by its JSON-RPC method (tool, team), starts it if the
 * arrival step did not (a `traceparent` in `_meta`, or none), and runs the handler in its context.
 */
export function traceMcpRequest<Req extends IncomingMessage & { body?: unknown }, Res extends ServerResponse>(
  handler: (req: Req, res: Res, next: Next) => unknown,
  teamOf: (res: Res) => string | undefined,
): (req: Req, res: Res, next: Next) => unknown {
  return (req, res, next) => (impl ? impl.request(req, res, req.body, teamOf(res), () => handler(req, res, next)) : handler(req, res, next));
}

/** The JSON-RPC answer the gateway sends for a traced request: an error (or a tool error) marks its span. */
export function traceAnswer(res: ServerResponse, message: unknown): void {
  impl?.answer(res, message);
}

/** A client span for a relayed call (`mcp/session-relay.ts`), child of the request `res` answers. */
export function traceRelayCall(res: ServerResponse, toolServer: string, url: URL, method: string, target: string): UpstreamSpan | undefined {
  return impl?.relaySpan(res, toolServer, url, method, target);
}

/** A client span around one request of an upstream's SDK client (`toolservers/upstream-client.ts`); sets `traceparent` in `headers`. */
export function traceUpstreamFetch(toolServer: string, url: string | URL, init: RequestInit | undefined, headers: Headers, send: () => Promise<Response>): Promise<Response> {
  return impl ? impl.fetch(toolServer, url, init, headers, send) : send();
}
