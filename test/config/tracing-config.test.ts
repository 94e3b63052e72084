/** The `OTEL_*` variables (README, Configuration): off by default, the standard names honoured, bad values named. */
import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/config.js';
import { describeTracesUrl } from '../../src/config/tracing-config.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('OTEL_* configuration', () => {
  it('is off unless an OTLP endpoint is set, and then has the specification defaults', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).tracing).toBeUndefined();
    expect(loadConfig(ENDPOINT).tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      compression: 'none',
      serviceName: 'switchboard',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: { scheduledDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
    });
  });

  it('appends v1/traces to the base endpoint and takes the traces endpoint as it is', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/otlp/' }).tracing?.url).toBe('https://otlp.example.com/otlp/v1/traces');
    expect(loadConfig({ ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/custom' }).tracing?.url).toBe('http://other:4318/custom');
  });

  it('turns off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none', () => {
    expect(loadConfig({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'otlp' }).tracing).toBeDefined();
  });

  it('reads protocol, headers (traces-specific ones win), timeout, compression, resource and sampler', () => {
    const t = loadConfig({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=general,x-team=a%20b',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=traces',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=from-resource',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    }).tracing;
    expect(t).toMatchObject({
      protocol: 'http/json',
      headers: { 'x-api-key': 'traces', 'x-team': 'a b' },
      timeoutMs: 2500,
      compression: 'gzip',
      serviceName: 'from-resource',
      resourceAttributes: { 'deployment.environment': 'prod' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduledDelayMs: 200 },
    });
    expect(loadConfig({ ...ENDPOINT, OTEL_SERVICE_NAME: 'gw', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored' }).tracing?.serviceName).toBe('gw');
  });

  it('names every bad OTEL_* variable at once', () => {
    const problems = problemsOf({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli',
      OTEL_EXPORTER_OTLP_HEADERS: 'novalue',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_BSP_MAX_QUEUE_SIZE: '0',
    });
    expect(problems).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL: must be http/protobuf or http/json (grpc is not supported)',
      'OTEL_EXPORTER_OTLP_TIMEOUT: must be a positive number of milliseconds',
      'OTEL_EXPORTER_OTLP_COMPRESSION: must be gzip or none',
      'OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas',
      'OTEL_TRACES_SAMPLER: must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
      'OTEL_BSP_MAX_QUEUE_SIZE: must be a positive integer',
    ]);
    expect(problemsOf({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1']);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL']);
    expect(problemsOf({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual(['OTEL_TRACES_EXPORTER: only otlp (or none) is supported']);
    // Together with the other variables' problems, in one message.
    expect(problemsOf({ ...ENDPOINT, PORT: 'x', OTEL_TRACES_SAMPLER: 'sometimes' })).toHaveLength(2);
  });

  it('describes the endpoint for the log without credentials', () => {
    expect(describeTracesUrl('https://user:pass@otlp.example.com/v1/traces?api_key=secret#x')).toBe('https://otlp.example.com/v1/traces');
  });
});
