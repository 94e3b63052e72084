/**
 * The OpenTelemetry variables the gateway honours: the standard `OTEL_*` names of the OpenTelemetry SDK
 * specification (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and the OTLP
 * exporter's), read with the rest of the configuration so that a bad value stops the start like any other. Tracing
 * is off unless an OTLP endpoint is set; the values are then handed to the SDK explicitly (`tracing-sdk.ts`).
 */

export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

export interface TracingConfig {
  /** Where spans are sent: the traces URL itself (`…/v1/traces`). */
  readonly url: string;
  readonly protocol: (typeof PROTOCOLS)[number];
  /** Sent with every export (e.g. a vendor's API key): never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'gzip' | 'none';
  readonly serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, `service.name` excepted. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: SamplerName;
  /** The ratio of the `*traceidratio` samplers, 0…1. */
  readonly samplerRatio: number;
  /** The batch span processor (`OTEL_BSP_*`): spans wait up to `scheduledDelayMs`; past `maxQueueSize` they are dropped. */
  readonly batch: { readonly scheduledDelayMs: number; readonly exportTimeoutMs: number; readonly maxQueueSize: number; readonly maxExportBatchSize: number };
}

type RawEnv = Readonly<Record<string, string>>;

/** `key=value,key2=value2` with percent-encoded values (the W3C Baggage form the specification uses). */
function keyValueList(name: string, value: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const item of value.split(',')) {
    if (!item.trim()) continue;
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!key) {
      problems.push(`${name}: expected key=value pairs separated by commas`);
      return {};
    }
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      problems.push(`${name}: the value of ${key} is not valid percent-encoding`);
      return {};
    }
  }
  return out;
}

function httpUrl(name: string, value: string, problems: string[]): URL | undefined {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url && /^https?:$/.test(url.protocol)) return url;
  problems.push(`${name}: must be an http(s) URL`);
  return undefined;
}

/** The traces URL: the per-signal variable as given, or the base endpoint with `v1/traces` appended. */
function tracesUrl(env: RawEnv, problems: string[]): string | undefined {
  const perSignal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (perSignal !== undefined) return httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', perSignal, problems)?.href;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (base === undefined) return undefined;
  const url = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base, problems);
  if (!url) return undefined;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

/** The traces-specific variable when set, else the general one. */
function either(env: RawEnv, name: string): { name: string; value: string | undefined } {
  const specific = `OTEL_EXPORTER_OTLP_TRACES_${name}`;
  if (env[specific] !== undefined) return { name: specific, value: env[specific] };
  return { name: `OTEL_EXPORTER_OTLP_${name}`, value: env[`OTEL_EXPORTER_OTLP_${name}`] };
}

/**
 * Tracing's configuration, or undefined when it is off: no endpoint, `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. Problems are named like every other configuration error (and only when it is on).
 */
export function parseTracingConfig(env: RawEnv): { tracing: TracingConfig | undefined; problems: string[] } {
  const problems: string[] = [];
  const off = { tracing: undefined, problems };
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return off;
  const exporter = env.OTEL_TRACES_EXPORTER?.toLowerCase();
  if (exporter === 'none') return off;
  if (exporter !== undefined && exporter !== 'otlp') {
    problems.push('OTEL_TRACES_EXPORTER: only otlp (or none) is supported');
    return off;
  }
  const url = tracesUrl(env, problems);
  if (url === undefined) return off;

  const protocol = either(env, 'PROTOCOL');
  if (protocol.value !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol.value)) {
    problems.push(`${protocol.name}: must be http/protobuf or http/json${protocol.value === 'grpc' ? ' (grpc is not supported)' : ''}`);
  }
  const timeout = either(env, 'TIMEOUT');
  const timeoutMs = timeout.value === undefined ? 10_000 : Number(timeout.value);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) problems.push(`${timeout.name}: must be a positive number of milliseconds`);
  const compression = either(env, 'COMPRESSION');
  if (compression.value !== undefined && compression.value !== 'gzip' && compression.value !== 'none') problems.push(`${compression.name}: must be gzip or none`);

  const headers = {
    ...keyValueList('OTEL_EXPORTER_OTLP_HEADERS', env.OTEL_EXPORTER_OTLP_HEADERS, problems),
    ...keyValueList('OTEL_EXPORTER_OTLP_TRACES_HEADERS', env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, problems),
  };
  const resourceAttributes = keyValueList('OTEL_RESOURCE_ATTRIBUTES', env.OTEL_RESOURCE_ATTRIBUTES, problems);
  const serviceName = env.OTEL_SERVICE_NAME ?? resourceAttributes['service.name'] ?? 'switchboard';
  delete resourceAttributes['service.name'];

  const sampler = (env.OTEL_TRACES_SAMPLER?.toLowerCase() ?? 'parentbased_always_on') as SamplerName;
  if (!SAMPLERS.includes(sampler)) problems.push(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(', ')}`);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG === undefined ? 1 : Number(env.OTEL_TRACES_SAMPLER_ARG);
  if (sampler.endsWith('traceidratio') && !(ratio >= 0 && ratio <= 1)) problems.push('OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1');

  const positive = (name: string, fallback: number): number => {
    const value = env[name] === undefined ? fallback : Number(env[name]);
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name}: must be a positive integer`);
    return value;
  };
  const batch = Object.freeze({
    scheduledDelayMs: positive('OTEL_BSP_SCHEDULE_DELAY', 5_000),
    exportTimeoutMs: positive('OTEL_BSP_EXPORT_TIMEOUT', 30_000),
    maxQueueSize: positive('OTEL_BSP_MAX_QUEUE_SIZE', 2_048),
    maxExportBatchSize: positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512),
  });

  if (problems.length) return off;
  return {
    tracing: Object.freeze({
      url,
      protocol: (protocol.value ?? 'http/protobuf') as TracingConfig['protocol'],
      headers: Object.freeze(headers),
      timeoutMs,
      compression: (compression.value ?? 'none') as TracingConfig['compression'],
      serviceName,
      resourceAttributes: Object.freeze(resourceAttributes),
      sampler,
      samplerRatio: ratio,
      batch,
    }),
    problems,
  };
}

/** Where spans go, fit for a log line: no user info, query or fragment (they may hold credentials). */
export function describeTracesUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
