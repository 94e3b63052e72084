/**
 * Prometheus metrics, one registry per app (no module-level singletons, so tests can build many apps).
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly tokenFailures: Counter<'reason'>;
  readonly sessionsCreated: Counter<'team'>;
  readonly sessionsRehydrated: Counter;
  readonly sessionsClosed: Counter<'reason'>;
  readonly liveSessions: Gauge;
  readonly upstreamFailures: Counter<'server'>;
  readonly toolCalls: Counter<'outcome'>;
  readonly auditDropped: Counter<'reason'>;
  readonly auditPending: Gauge;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'switchboard_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request latency (time to response headers for streams)',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    tokenFailures: new Counter({
      name: 'switchboard_token_failures_total',
      help: 'Rejected bearer tokens by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sessionsCreated: new Counter({
      name: 'switchboard_sessions_created_total',
      help: 'MCP sessions created by initialize',
      labelNames: ['team'],
      registers: [registry],
    }),
    sessionsRehydrated: new Counter({
      name: 'switchboard_sessions_rehydrated_total',
      help: 'MCP sessions rebuilt from PostgreSQL by a process that did not hold them',
      registers: [registry],
    }),
    sessionsClosed: new Counter({
      name: 'switchboard_sessions_closed_total',
      help: 'MCP sessions closed, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    liveSessions: new Gauge({
      name: 'switchboard_active_sessions',
      help: 'MCP sessions held in memory by this process',
      registers: [registry],
    }),
    upstreamFailures: new Counter({
      name: 'switchboard_upstream_failures_total',
      help: 'Tool-server failures (connect, list, call), by tool server',
      labelNames: ['server'],
      registers: [registry],
    }),
    toolCalls: new Counter({
      name: 'switchboard_tool_calls_total',
      help: 'tools/call requests by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    auditDropped: new Counter({
      name: 'switchboard_audit_dropped_total',
      help: 'Audit records never written: buffer_full (held during a database outage past the cap), refused (the database rejected the record), shutdown (still held when the grace period ended)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    auditPending: new Gauge({
      name: 'switchboard_audit_pending',
      help: 'Audit records waiting to be written (they pile up while the database is unreachable)',
      registers: [registry],
    }),
  };
}
