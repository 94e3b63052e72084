/**
 * With `BENCH_TRACING` on, where the gateway exports its spans: an OTLP/HTTP endpoint in the bench runner's own
 * process (not the gateway's, whose CPU is what is measured) that reads each export, counts it and answers 200 — a
 * collector that costs the gateway nothing beyond sending.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  url: string;
  /** Exports received and their bytes, so far. */
  readonly received: { exports: number; bytes: number };
  stop(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const received = { exports: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (received.bytes += chunk.length));
    req.on('end', () => {
      received.exports++;
      const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
    });
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** `BENCH_TRACING`: `off` (default), `all` (every request sampled), `ratio` (`BENCH_TRACING_RATIO` of new traces, 0.1). */
export function benchTracingEnv(mode: string | undefined, sinkUrl: string | undefined, ratio: string | undefined, protocol: string | undefined): Record<string, string> {
  if (!mode || mode === 'off') return {};
  if (!sinkUrl) throw new Error('BENCH_OTLP_URL is required with BENCH_TRACING');
  const sampler: Record<string, string> | undefined =
    mode === 'all'
      ? { OTEL_TRACES_SAMPLER: 'parentbased_always_on' }
      : mode === 'ratio'
        ? { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio ?? '0.1' }
        : undefined;
  if (!sampler) throw new Error(`BENCH_TRACING must be off, all or ratio, not ${JSON.stringify(mode)}`);
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: protocol ?? 'http/protobuf', ...sampler };
}
