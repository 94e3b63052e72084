/**
 * What the bench's `BENCH_*` choices parse to (`bench/settings.ts`), the balancer's nginx configuration, the events
 * phase's SSE reading (`bench/mcp-requests.ts`) and the report's new tables (`bench/report.ts`): a typo in a variable
 * must stop the bench, not quietly measure something else.
 */
import { describe, expect, it } from 'vitest';
import { benchNumber, benchPhases, benchReplicas, benchTracingModes, gatewayTargets, OPTIONAL_PHASES } from '../../bench/settings.js';
import { nginxConfig } from '../../bench/nginx.js';
import { firstEventId, resumedStream, sseEvents, streamBody } from '../../bench/mcp-requests.js';
import { eventsTable, targetsTable, type EventsRow, type Row } from '../../bench/report.js';
import { eventMessage, numberList } from '../../bench/cluster-db.js';
import { gatewayCode } from '../../bench/gateway-code.js';

describe('BENCH_PHASES', () => {
  it('runs every optional phase by default (today’s bench and the events), none with none, a chosen few otherwise', () => {
    expect([...benchPhases(undefined)]).toEqual([...OPTIONAL_PHASES]);
    expect([...benchPhases('all')]).toEqual([...OPTIONAL_PHASES]);
    expect(benchPhases('none').size).toBe(0);
    expect([...benchPhases(' profile, events ')]).toEqual(['profile', 'events']);
  });

  it('refuses a phase it does not know, by name', () => {
    expect(() => benchPhases('profile,heaps')).toThrow(/BENCH_PHASES: unknown phase "heaps"/);
  });
});

describe('BENCH_GATEWAY_CODE', () => {
  it('is src in a gateway process unless told dist (the runner tells dist by default), and refuses anything else', () => {
    expect(gatewayCode(undefined)).toBe('src');
    expect(gatewayCode('')).toBe('src');
    expect(gatewayCode('src')).toBe('src');
    expect(gatewayCode('dist')).toBe('dist');
    expect(() => gatewayCode('build')).toThrow(/BENCH_GATEWAY_CODE must be src or dist, not "build"/);
  });
});

describe('BENCH_REPLICAS', () => {
  it('is one process by default, a count, or a list of counts measured side by side', () => {
    expect(benchReplicas(undefined)).toEqual([1]);
    expect(benchReplicas('3')).toEqual([3]);
    expect(benchReplicas('1,3')).toEqual([1, 3]);
  });

  it('refuses zero, fractions, words, too many and repeats', () => {
    for (const bad of ['0', '1.5', 'three', '9', '-1']) expect(() => benchReplicas(bad)).toThrow(/BENCH_REPLICAS/);
    expect(() => benchReplicas('3,3')).toThrow(/given twice/);
  });
});

describe('BENCH_TRACING', () => {
  it('adds traced targets: none when off or unset, all, ratio or both', () => {
    expect(benchTracingModes(undefined)).toEqual([]);
    expect(benchTracingModes('off')).toEqual([]);
    expect(benchTracingModes('all')).toEqual(['all']);
    expect(benchTracingModes('all,ratio')).toEqual(['all', 'ratio']);
    expect(() => benchTracingModes('all,sometimes')).toThrow(/off, all, ratio or all,ratio/);
  });
});

describe('gateway targets', () => {
  it('keeps today’s single untraced gateway when nothing is asked for', () => {
    expect(gatewayTargets([1], [])).toEqual([{ key: 'gateway', label: 'gateway', replicas: 1, tracing: undefined }]);
  });

  it('keys the first replica count `gateway` (every other phase uses it) and traces with that count', () => {
    expect(gatewayTargets([3, 1], ['all', 'ratio'])).toEqual([
      { key: 'gateway', label: 'gateway ×3', replicas: 3, tracing: undefined },
      { key: 'gateway-x1', label: 'gateway ×1', replicas: 1, tracing: undefined },
      { key: 'gateway-traced-all', label: 'gateway ×3 traced (all)', replicas: 3, tracing: 'all' },
      { key: 'gateway-traced-ratio', label: 'gateway ×3 traced (ratio)', replicas: 3, tracing: 'ratio' },
    ]);
  });

  it('adds another checkout’s gateway last, measured in the same rounds (BENCH_BASELINE)', () => {
    expect(gatewayTargets([1], [], '/tmp/base')).toEqual([
      { key: 'gateway', label: 'gateway', replicas: 1, tracing: undefined },
      { key: 'baseline', label: 'baseline gateway (/tmp/base)', replicas: 1, tracing: undefined, root: '/tmp/base' },
    ]);
  });

  it('reads numbers strictly', () => {
    expect(benchNumber('BENCH_SECONDS', undefined, 5)).toBe(5);
    expect(benchNumber('BENCH_SECONDS', '0.5', 5)).toBe(0.5);
    expect(() => benchNumber('BENCH_SECONDS', 'five', 5)).toThrow(/BENCH_SECONDS must be a number/);
    expect(() => benchNumber('BENCH_STREAM_EVENTS', '0', 20, 1)).toThrow(/≥ 1/);
    expect(numberList('BENCH_DB_BATCHES', '1, 50', [])).toEqual([1, 50]);
    expect(() => numberList('BENCH_DB_BATCHES', '1,x', [])).toThrow(/BENCH_DB_BATCHES/);
  });
});

describe('the balancer’s nginx configuration', () => {
  it('lists every replica in one upstream (round robin), passes the client’s Host on, and does not buffer streams', () => {
    const conf = nginxConfig('/tmp/p', 8080, ['127.0.0.1:1001', '127.0.0.1:1002', '127.0.0.1:1003'], true);
    expect(conf.match(/^\s*server 127\.0\.0\.1:100\d;$/gm)).toHaveLength(3);
    expect(conf).not.toMatch(/ip_hash|hash |sticky|least_conn/);
    expect(conf).toContain('proxy_set_header Host $http_host;');
    expect(conf).toContain('proxy_buffering off;');
    expect(conf).toContain('listen 127.0.0.1:8080;');
    // The baseline hop in front of the upstream is as before: nginx's own Host for its upstream.
    expect(nginxConfig('/tmp/p', 8080, ['127.0.0.1:1001'])).not.toContain('$http_host');
    expect(() => nginxConfig('/tmp/p', 8080, [])).toThrow(/at least one/);
  });
});

describe('the events phase’s stream reading', () => {
  const priming = 'id: abc.1.Mg:0\nretry: 1000\ndata:\n\n';
  const event = (seq: number, json: string) => `id: abc.1.Mg:${seq}\nevent: message\ndata: ${json}\n\n`;
  const progress = (n: number) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: n } });

  it('finds the first event with data, past the priming event, only once it is complete', () => {
    expect(firstEventId(priming)).toBeUndefined();
    expect(firstEventId(priming + event(1, progress(1)).slice(0, 20))).toBeUndefined();
    expect(firstEventId(priming + event(1, progress(1)))).toBe('abc.1.Mg:1');
    expect(sseEvents(priming + event(1, '{"a":1}'))).toEqual([
      { id: 'abc.1.Mg:0', data: '' },
      { id: 'abc.1.Mg:1', data: '{"a":1}' },
    ]);
  });

  it('counts the progress of a resumed stream and requires its answer', () => {
    const answer = JSON.stringify({ jsonrpc: '2.0', id: 5, result: { content: [] } });
    expect(resumedStream({ status: 200, sid: undefined, body: event(2, progress(2)) + event(3, progress(3)) + event(4, answer) }, 5)).toEqual({ progress: 2 });
    expect(() => resumedStream({ status: 200, sid: undefined, body: event(2, progress(2)) }, 5)).toThrow(/no answer to request 5/);
    expect(() => resumedStream({ status: 200, sid: undefined, body: '' }, 5)).toThrow(/was empty/);
  });

  it('asks for the stream tool with its release token as progress token', () => {
    expect(JSON.parse(streamBody(9, 20, '12.3'))).toEqual({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'stream', arguments: { count: 20 }, _meta: { progressToken: '12.3' } } });
  });

  it('makes cluster-db events of the size asked for', () => {
    for (const bytes of [160, 4096]) expect(eventMessage(3, bytes).length).toBe(bytes);
    expect(JSON.parse(eventMessage(3, 160))).toMatchObject({ method: 'notifications/progress', params: { progress: 3 } });
  });
});

describe('the report’s gateway-target and events tables', () => {
  const row = (target: string, perSecond: number, p50: number, gateway: number, postgres: number, nginx = 0): Row => ({
    label: target,
    target,
    phase: 'fresh',
    ops: 100,
    perSecond,
    seconds: 1,
    p50,
    p99: p50,
    errors: 0,
    errorSamples: [],
    cpuPerOp: { loadgen: 0, nginx, gateway, postgres, upstream: 0 },
    busy: 0.5,
  });

  it('shows nothing for today’s single gateway, and every target against the untraced one otherwise', () => {
    expect(targetsTable({ calls: [row('gateway', 100, 10, 0.5, 0.1)], targets: gatewayTargets([1], []) })).toEqual([]);
    const lines = targetsTable({
      calls: [row('gateway', 100, 10, 0.5, 0.1), row('gateway', 120, 12, 0.7, 0.1), row('gateway-traced-all', 80, 13, 0.8, 0.2), row('gateway-x3', 200, 8, 1.0, 0.2, 0.1)],
      targets: gatewayTargets([1, 3], ['all']),
    });
    // Medians over rounds: gateway 110/s, 11 ms, 0.6 + 0.1 ms.
    expect(lines[2]).toBe('| gateway ×1 | 1 | 110 | 11 | 0.6 | 0.1 | 0.7 | — | 1 | 0 | 1 |');
    expect(lines[3]).toBe('| gateway ×3 | 3 | 200 | 8 | 1 | 0.2 | 1.2 | 0.1 | 1.818 | -3 | 1.71 |');
    expect(lines[4]).toBe('| gateway ×1 traced (all) | 1 | 80 | 13 | 0.8 | 0.2 | 1 | — | 0.727 | 2 | 1.43 |');
  });

  it('divides the events phase’s CPU by events, not calls', () => {
    const events: EventsRow = { ...row('gateway', 50, 40, 2, 1), phase: 'events', ops: 100, seconds: 2, events: 1000 };
    // 2 ms per call over 10 events per call: 200 µs per event; 1000 events in 2 s.
    expect(eventsTable([events])[2]).toBe('| gateway | 50 | 500 | 10 | 40 | 0 | 200 | 100 | 0 | 0 | 0 |');
  });
});
