/**
 * The bench's own measuring parts (not the bench itself, which `npm run bench` runs): `/proc` CPU and socket
 * readings, and the CPU-profile summary that BENCHMARKS.md quotes.
 */
import net from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processCpuMs } from '../../bench/proc-cpu.js';
import { connectionsTo } from '../../bench/proc-sockets.js';
import { summariseProfile } from '../../bench/profile-summary.js';

describe.skipIf(process.platform !== 'linux')('bench /proc readings', () => {
  it('reads this process CPU time, and nothing for a pid that does not exist', () => {
    expect(processCpuMs(process.pid)).toBeGreaterThan(0);
    expect(processCpuMs(2 ** 22 + 1)).toBeUndefined();
  });

  it('counts a process TCP connections to one port', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const sockets = await Promise.all([1, 2].map(() => new Promise<net.Socket>((r) => { const s = net.connect(port, '127.0.0.1', () => r(s)); })));
    try {
      expect(connectionsTo(process.pid, port)).toBe(2); // the two client ends; the server ends have another remote port
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('CPU profile summary', () => {
  it('groups self time by npm package and names the JavaScript caller of native frames, leaving idle out', async () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0, columnNumber: 0, scriptId: '0' });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
        { id: 2, callFrame: frame('send', 'file:///app/node_modules/@scope/pkg/index.js'), children: [3] },
        { id: 3, callFrame: frame('writev', '') },
        { id: 4, callFrame: frame('(garbage collector)', '') },
        { id: 5, callFrame: frame('(idle)', '') },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 3, 3, 4, 5, 5, 5, 5, 5, 5],
    };
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'profile-')), 'p.cpuprofile');
    await writeFile(file, JSON.stringify(profile));
    const text = summariseProfile(file);
    expect(text).toContain('busy 4 (40 %), idle 6');
    expect(text).toContain('| 50.0 % | (native) |');
    expect(text).toContain('| 25.0 % | @scope/pkg |');
    expect(text).toContain('writev — native, called from send — @scope/pkg');
    expect(text).not.toContain('(idle)');
  });
});

describe('BENCH_TRACING', () => {
  it('maps off / all / ratio to the OTEL_* variables the gateway reads, exporting to the sink', async () => {
    const { benchTracingEnv, startOtlpSink } = await import('../../bench/otlp-sink.js');
    const { loadConfig } = await import('../../src/config/config.js');
    expect(benchTracingEnv(undefined, undefined, undefined, undefined)).toEqual({});
    expect(benchTracingEnv('off', undefined, undefined, undefined)).toEqual({});
    expect(() => benchTracingEnv('sometimes', 'http://127.0.0.1:1', undefined, undefined)).toThrow(/off, all or ratio/);
    const sink = await startOtlpSink();
    try {
      const all = loadConfig(benchTracingEnv('all', sink.url, undefined, undefined)).tracing;
      expect(all).toMatchObject({ url: `${sink.url}/v1/traces`, protocol: 'http/protobuf', sampler: 'parentbased_always_on' });
      const ratio = loadConfig(benchTracingEnv('ratio', sink.url, '0.05', 'http/json')).tracing;
      expect(ratio).toMatchObject({ protocol: 'http/json', sampler: 'parentbased_traceidratio', samplerRatio: 0.05 });
      const res = await fetch(`${sink.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(10) });
      expect(res.status).toBe(200);
      expect(sink.received).toEqual({ exports: 1, bytes: 10 });
    } finally {
      await sink.stop();
    }
  });
});
