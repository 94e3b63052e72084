/**
 * The OpenTelemetry side of `tracing.ts`, imported only once tracing is on: the tracer provider with the OTLP
 * exporter the configuration names (`http/protobuf` or `http/json`), its sampler, the W3C trace-context
 * propagator, and Prisma's instrumentation.
 *
 * Spans travel on our own objects where we have them: the request's span is found from its `ServerResponse` (a
 * WeakMap), and the relay's client span is started from it explicitly. Two places have no object of ours to carry
 * it — Prisma, and the SDK's client inside an upstream connection, which hand requests on through their own layers —
 * so OpenTelemetry's `AsyncLocalStorage` context manager is registered too (only here, only when tracing is on), and
 * the request's handler runs in its span's context. Prisma spans outside any request (the sweeper, audit batches,
 * rate-limit sync) are not recorded: background chatter every few hundred milliseconds is not worth a trace each.
 *
 * Attribute names follow OpenTelemetry's semantic conventions for MCP (development status, so copied here rather
 * than imported from the incubating entry point, as its authors advise).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Link,
  type Span,
  type SpanKind as SpanKindType,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { currentOtelContext, runWithOtelContext } from './request-context.js';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import type { TracingConfig } from '../config/tracing-config.js';
import type { Logger } from './logger.js';
import type { TracingImpl, UpstreamOutcome, UpstreamSpan } from './tracing.js';

// OpenTelemetry semantic conventions for MCP (https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/).
const MCP_METHOD = 'mcp.method.name';
const MCP_SESSION_ID = 'mcp.session.id';
const MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
const JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
const RPC_STATUS_CODE = 'rpc.response.status_code';
const TOOL_NAME = 'gen_ai.tool.name';
const PROMPT_NAME = 'gen_ai.prompt.name';
const OPERATION = 'gen_ai.operation.name';
const NETWORK_PROTOCOL = 'network.protocol.name';
// The gateway's own.
const TEAM = 'switchboard.team';
const TOOL_SERVER = 'switchboard.tool_server';

/** Client-chosen strings (methods, tool names) go into span names: bounded. */
const MAX_NAME = 120;
const bounded = (s: string) => (s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s);

/** The JSON-RPC method (and tool) of a request body the SDK client serialized: `{"method":…,"params":{"name":…` first. */
const SDK_REQUEST = /^\{"method":"([^"\\]{1,100})"(?:,"params":\{"name":"([^"\\]{1,100})")?/;

interface RequestState {
  readonly startTime: number;
  /** The context the request's headers carry (a remote parent when the client sent `traceparent`). */
  readonly headers: Context;
  span: Span | undefined;
  /** The span's context, once it started. */
  ctx: Context;
  name: string;
  attributes: Attributes;
  rpcError: number | undefined;
  toolError: boolean;
}

const headersSetter: TextMapSetter<Headers> = { set: (carrier, key, value) => carrier.set(key, value) };

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The configured sampler, except that database spans with no request around them are dropped. */
function samplerFor(config: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  const chosen: Record<TracingConfig['sampler'], () => Sampler> = {
    always_on: () => new AlwaysOnSampler(),
    always_off: () => new AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: () => new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    parentbased_always_off: () => new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    parentbased_traceidratio: () => new ParentBasedSampler({ root: ratio() }),
  };
  const inner = chosen[config.sampler]();
  return {
    shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKindType, attributes: Attributes, links: Link[]): SamplingResult {
      if (name.startsWith('prisma:') && !trace.getSpanContext(ctx)) return { decision: SamplingDecision.NOT_RECORD };
      return inner.shouldSample(ctx, traceId, name, kind, attributes, links);
    },
    toString: () => `RequestsOnlyForPrisma{${inner.toString()}}`,
  };
}

function exporterFor(config: TracingConfig) {
  const options = { url: config.url, headers: { ...config.headers }, timeoutMillis: config.timeoutMs, compression: config.compression as never };
  return config.protocol === 'http/json' ? new OTLPJsonTraceExporter(options) : new OTLPProtobufTraceExporter(options);
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** What an error (or a tool error) in a JSON-RPC answer means for a span. */
function markAnswer(span: Span, message: { error?: unknown; result?: unknown } | undefined): void {
  const error = message?.error as { code?: unknown } | undefined;
  if (error !== undefined) {
    const code = typeof error?.code === 'number' ? String(error.code) : 'error';
    span.setAttributes({ [RPC_STATUS_CODE]: code, [ATTR_ERROR_TYPE]: code });
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if ((message?.result as { isError?: unknown } | undefined)?.isError === true) {
    span.setAttribute(ATTR_ERROR_TYPE, 'tool_error');
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/**
 * A client span's name and attributes for a request to tool server `toolServer` at `url`: where it goes and, for a
 * JSON-RPC request (`method`), what it asks (`tools/call <tool>`, `prompts/get <prompt>`). No name without a method.
 */
function upstreamRequest(toolServer: string, url: URL, method: string | undefined, target: string | undefined): { name: string | undefined; attributes: Attributes } {
  const attributes: Attributes = { [TOOL_SERVER]: toolServer, [ATTR_SERVER_ADDRESS]: url.hostname, [ATTR_SERVER_PORT]: portOf(url), [NETWORK_PROTOCOL]: 'http' };
  if (method === undefined) return { name: undefined, attributes };
  attributes[MCP_METHOD] = method;
  if (target === undefined || (method !== 'tools/call' && method !== 'prompts/get')) return { name: method, attributes };
  if (method === 'tools/call') {
    attributes[TOOL_NAME] = bounded(target);
    attributes[OPERATION] = 'execute_tool';
  } else attributes[PROMPT_NAME] = bounded(target);
  return { name: bounded(`${method} ${target}`), attributes };
}

export function createTracing(config: TracingConfig, logger: Logger): TracingImpl {
  const version = packageVersion();
  diag.setLogger(
    {
      error: (message) => logger.warn({ component: 'opentelemetry' }, message),
      warn: (message) => logger.warn({ component: 'opentelemetry' }, message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: version }),
    sampler: samplerFor(config),
    spanProcessors: [
      new BatchSpanProcessor(exporterFor(config), {
        scheduledDelayMillis: config.batch.scheduledDelayMs,
        exportTimeoutMillis: config.batch.exportTimeoutMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: Math.min(config.batch.maxExportBatchSize, config.batch.maxQueueSize),
      }),
    ],
  });
  const tracer = provider.getTracer('switchboard', version);
  const propagator = new W3CTraceContextPropagator();

  // OpenTelemetry's context lives in the gateway's one AsyncLocalStorage (`request-context.ts`): its own
  // AsyncLocalStorageContextManager would be a second instance, which on Node 20 taxes every promise of the process.
  const contextManager = requestContextManager().enable();
  const ownsContextManager = context.setGlobalContextManager(contextManager);
  if (!ownsContextManager) contextManager.disable();
  const prisma = new PrismaInstrumentation({ enabled: false });
  prisma.setTracerProvider(provider);
  prisma.enable();

  const requests = new WeakMap<ServerResponse, RequestState>();

  function start(state: RequestState, parent: Context): void {
    const span = tracer.startSpan(state.name, { kind: SpanKind.SERVER, startTime: state.startTime, attributes: state.attributes }, parent);
    state.span = span;
    state.ctx = trace.setSpan(parent, span);
  }

  /** The parent a request names in `params._meta` (SEP-414), when its headers named none. */
  function metaParent(body: unknown): Context | undefined {
    const meta = (body as { params?: { _meta?: { traceparent?: unknown; tracestate?: unknown } } } | undefined)?.params?._meta;
    if (typeof meta?.traceparent !== 'string') return undefined;
    const ctx = propagator.extract(ROOT_CONTEXT, { traceparent: meta.traceparent, ...(typeof meta.tracestate === 'string' ? { tracestate: meta.tracestate } : {}) }, defaultTextMapGetter);
    return trace.getSpanContext(ctx) ? ctx : undefined;
  }

  /** Names the request by its JSON-RPC method (`tools/call echo`), with the attributes that say what it was. */
  function describe(state: RequestState, req: IncomingMessage, body: unknown, team: string | undefined): void {
    const attributes: Attributes = {};
    if (team !== undefined) attributes[TEAM] = team;
    let name = 'batch';
    if (!Array.isArray(body)) {
      const m = body as { id?: unknown; method?: unknown; params?: { name?: unknown; protocolVersion?: unknown } } | null | undefined;
      const method = typeof m?.method === 'string' ? bounded(m.method) : undefined;
      name = method ?? 'jsonrpc';
      if (method !== undefined) attributes[MCP_METHOD] = method;
      if (typeof m?.id === 'string' || typeof m?.id === 'number') attributes[JSONRPC_REQUEST_ID] = String(m.id);
      const target = typeof m?.params?.name === 'string' ? bounded(m.params.name) : undefined;
      if (method === 'tools/call' && target !== undefined) {
        attributes[TOOL_NAME] = target;
        attributes[OPERATION] = 'execute_tool';
        name = `${method} ${target}`;
      } else if (method === 'prompts/get' && target !== undefined) {
        attributes[PROMPT_NAME] = target;
        name = `${method} ${target}`;
      }
      const version = req.headers['mcp-protocol-version'] ?? (method === 'initialize' ? m?.params?.protocolVersion : undefined);
      if (typeof version === 'string') attributes[MCP_PROTOCOL_VERSION] = bounded(version);
    }
    state.name = name;
    if (state.span) {
      state.span.updateName(name);
      state.span.setAttributes(attributes);
    } else {
      Object.assign(state.attributes, attributes);
    }
  }

  function finish(req: IncomingMessage, res: ServerResponse, state: RequestState): void {
    if (!state.span) start(state, state.headers);
    const span = state.span!;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    const session = res.getHeader('mcp-session-id') ?? req.headers['mcp-session-id'];
    if (typeof session === 'string') span.setAttribute(MCP_SESSION_ID, session);
    if (state.rpcError !== undefined) markAnswer(span, { error: { code: state.rpcError } });
    else if (state.toolError) markAnswer(span, { result: { isError: true } });
    else if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  return {
    arrival(req, res, next) {
      const route = (req as { route?: { path?: unknown } }).route?.path;
      const path = (req.url ?? '/').split('?', 1)[0]!;
      const state: RequestState = {
        // A performance timestamp (OpenTelemetry maps it onto the wall clock): an epoch time read from the
        // performance clock drifts from Date.now(), which the SDK ends a span with when a start time was given,
        // and short spans came out ending before they started.
        startTime: performance.now(),
        headers: propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter),
        span: undefined,
        ctx: ROOT_CONTEXT,
        name: `POST ${typeof route === 'string' ? route : path}`,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: 'POST',
          [ATTR_URL_PATH]: path,
          [NETWORK_PROTOCOL]: 'http',
          ...(typeof route === 'string' ? { [ATTR_HTTP_ROUTE]: route } : {}),
        },
        rpcError: undefined,
        toolError: false,
      };
      requests.set(res, state);
      res.once('close', () => finish(req, res, state));
      // A parent from the headers: the span starts now, and the whole chain (authentication's queries too) runs in it.
      // Otherwise it waits for the body, whose `_meta` may name the parent.
      if (!trace.getSpanContext(state.headers)) return next();
      start(state, state.headers);
      context.with(state.ctx, next);
    },

    request(req, res, body, team, serve) {
      const state = requests.get(res);
      if (!state) return serve();
      describe(state, req, body, team);
      if (state.span) return serve();
      start(state, metaParent(body) ?? state.headers);
      return context.with(state.ctx, serve);
    },

    answer(res, message) {
      const state = requests.get(res);
      if (!state) return;
      const m = message as { error?: { code?: unknown }; result?: { isError?: unknown } } | null | undefined;
      if (m?.error !== undefined) state.rpcError = typeof m.error?.code === 'number' ? m.error.code : -32603;
      else if (m?.result?.isError === true) state.toolError = true;
    },

    relaySpan(res, toolServer, url, method, target): UpstreamSpan {
      const parent = requests.get(res)?.ctx ?? context.active();
      const { name, attributes } = upstreamRequest(toolServer, url, method, target);
      const span = tracer.startSpan(name ?? method, { kind: SpanKind.CLIENT, attributes }, parent);
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
      return {
        context: carrier,
        end(outcome: UpstreamOutcome) {
          if (outcome.kind === 'answer') markAnswer(span, outcome.message);
          else if (outcome.kind === 'failed') {
            span.setAttribute(ATTR_ERROR_TYPE, outcome.reason ?? 'failed');
            span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason ?? 'failed' });
          } else span.setAttribute(ATTR_ERROR_TYPE, 'cancelled');
          span.end();
        },
      };
    },

    async fetch(toolServer, url, init, headers, send) {
      const u = typeof url === 'string' ? new URL(url) : url;
      const method = init?.method ?? 'GET';
      const rpc = typeof init?.body === 'string' ? SDK_REQUEST.exec(init.body) : null;
      const request = upstreamRequest(toolServer, u, rpc?.[1], rpc?.[2]);
      const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method, ...request.attributes };
      const name = request.name ?? method;
      const parent = context.active();
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
      propagator.inject(trace.setSpan(parent, span), headers, headersSetter);
      try {
        const response = await send();
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
        if (response.status >= 400) {
          span.setAttribute(ATTR_ERROR_TYPE, String(response.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return response;
      } catch (err) {
        span.setAttribute(ATTR_ERROR_TYPE, err instanceof Error ? err.name : 'error');
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },

    async shutdown() {
      prisma.disable();
      await provider.shutdown().catch((err: unknown) => logger.warn({ err }, 'tracing: spans could not be flushed at shutdown'));
      if (ownsContextManager) context.disable();
      diag.disable();
    },
  };
}

/**
 * An OpenTelemetry context manager over the gateway's request context (`request-context.ts`) instead of an
 * AsyncLocalStorage of its own. Functions are bound to a context; event emitters are returned as they are (nothing
 * here binds emitters to a span).
 */
function requestContextManager(): ContextManager {
  const manager: ContextManager = {
    active: () => (currentOtelContext() as Context | undefined) ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => runWithOtelContext(ctx, () => fn.call(thisArg, ...args)),
    bind: (ctx, target) => {
      if (typeof target !== 'function') return target;
      const fn = target as unknown as (...a: unknown[]) => unknown;
      return function (this: unknown, ...a: unknown[]) {
        return runWithOtelContext(ctx, () => fn.apply(this, a));
      } as unknown as typeof target;
    },
    enable: () => manager,
    disable: () => manager,
  };
  return manager;
}
