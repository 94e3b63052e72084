/**
 * `upstream-era.ts` and the relay's 2026-07-28 side, against real HTTP servers: what the `server/discover` probe
 * decides from each kind of answer (a modern-only SDK v2 server, a legacy SDK v1 one, refusals and faults), how the
 * answer is remembered (once for concurrent first uses, not when undecided, forgotten on demand, expiring), the
 * `Mcp-Name` encoding, and a modern request refused like a legacy server refuses it making the era be probed again.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { createUpstreamEras, LEGACY, probeEra, UndecidedProbe, type UpstreamEra } from '../../src/toolservers/upstream-era.js';
import { headerValue } from '../../src/toolservers/modern-upstream.js';
import { relay, type RelayEndpoint } from '../../src/toolservers/upstream-relay.js';
import { startModernUpstream, type ModernUpstreamFixture } from '../fixtures/modern-upstream.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const dispatcher = new Agent();
let modern: ModernUpstreamFixture;
let legacy: UpstreamFixture;
/** Answers every request with the status and body its path names (`/401`, `/500`, `/400-modern`…). */
let canned: LoopbackServer;
const CANNED: Record<string, [number, string]> = {
  '/401': [401, ''],
  '/500': [500, ''],
  '/404': [404, ''],
  '/400-modern': [400, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32020, message: 'Header mismatch' } })],
  '/400-legacy': [400, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: Server not initialized' } })],
  '/no-version': [200, JSON.stringify({ jsonrpc: '2.0', id: 'sb-discover', result: { supportedVersions: ['2099-01-01'], capabilities: {} } })],
};

beforeAll(async () => {
  [modern, legacy] = await Promise.all([startModernUpstream(), startUpstream('legacy')]);
  canned = await listenOnLoopback(
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const [status, body] = CANNED[req.url ?? ''] ?? [418, ''];
        res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      });
    }),
  );
});
afterAll(async () => {
  await Promise.all([modern?.close(), legacy?.close(), canned?.close()]);
  await dispatcher.close();
});

const probe = (url: string) => probeEra({ url: new URL(url), dispatcher, headers: {}, timeoutMs: 5_000 });

describe('the server/discover probe', () => {
  it('a modern-only SDK v2 server is modern, with the capabilities it declared; the request carries the envelope and headers', async () => {
    const era = await probe(modern.url);
    expect(era).toMatchObject({ era: 'modern', capabilities: { tools: {}, prompts: {}, resources: {} } });
    const sent = modern.requests.at(-1)!;
    expect(sent.rpcMethod).toBe('server/discover');
    expect(sent.headers).toMatchObject({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' });
    expect(sent.meta).toMatchObject({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} });
  });

  it('a legacy SDK v1 server, a 400 without a modern error, a 404, or a result without our version: legacy', async () => {
    expect(await probe(legacy.url)).toEqual(LEGACY);
    expect(legacy.initializeCount).toBe(0); // the probe opens no session
    for (const path of ['/400-legacy', '/404', '/no-version']) expect(await probe(`${canned.url}${path}`)).toEqual(LEGACY);
  });

  it('refused credentials, a server fault or no connection decide nothing', async () => {
    for (const path of ['/401', '/500']) await expect(probe(`${canned.url}${path}`)).rejects.toBeInstanceOf(UndecidedProbe);
    await expect(probe('http://127.0.0.1:1/mcp')).rejects.toBeInstanceOf(UndecidedProbe);
  });
});

describe('remembering eras', () => {
  const modernEra: UpstreamEra = { era: 'modern', capabilities: {} };

  it('concurrent first uses share one probe; the answer is then known without waiting', async () => {
    const eras = createUpstreamEras();
    let probes = 0;
    const slow = () => new Promise<UpstreamEra>((r) => setTimeout(() => (probes++, r(modernEra)), 20));
    const answers = await Promise.all([eras.of('u', slow), eras.of('u', slow), eras.of('u', slow)]);
    expect(answers).toEqual([modernEra, modernEra, modernEra]);
    expect(probes).toBe(1);
    expect(eras.known('u')).toEqual(modernEra);
    await eras.of('u', slow);
    expect(probes).toBe(1);
  });

  it('an undecided probe goes on as legacy and is not remembered; forget and expiry make it probe again', async () => {
    const eras = createUpstreamEras({ ttlMs: 50 });
    expect(await eras.of('u', () => Promise.reject(new UndecidedProbe('down')))).toEqual(LEGACY);
    expect(eras.known('u')).toBeUndefined();
    await eras.of('u', async () => modernEra);
    expect(eras.known('u')).toEqual(modernEra);
    eras.forget('u');
    expect(eras.known('u')).toBeUndefined();
    await eras.of('u', async () => LEGACY);
    await expect.poll(() => eras.known('u'), { timeout: 2_000 }).toBeUndefined();
  });
});

describe('the relay speaking 2026-07-28', () => {
  it('Mcp-Name is plain for header-safe names, base64 between the markers otherwise', () => {
    expect(headerValue('get_weather')).toBe('get_weather');
    expect(headerValue('file:///a b.txt')).toBe('file:///a b.txt');
    expect(headerValue('Hello, 世界')).toBe(`=?base64?${Buffer.from('Hello, 世界').toString('base64')}?=`);
    expect(headerValue(' padded ')).toBe(`=?base64?${Buffer.from(' padded ').toString('base64')}?=`);
    expect(headerValue('=?base64?literal?=')).toBe(`=?base64?${Buffer.from('=?base64?literal?=').toString('base64')}?=`);
  });

  it('a modern request refused as a legacy server refuses it makes the era be probed again; a modern error does not', async () => {
    const endpointAt = (path: string, onMismatch: () => void): RelayEndpoint => ({
      name: 'x',
      url: new URL(`${canned.url}${path}`),
      dispatcher,
      timeouts: { callMs: 5_000, maxCallMs: 5_000 },
      session: async () => ({ id: undefined, protocolVersion: '2026-07-28', modern: { envelope: () => ({}), waiting: new Map(), mismatch: onMismatch, paramHeaders: async () => undefined, toolsStale: () => undefined } }),
      sessionGone: async () => undefined,
      headers: async () => ({}),
    });
    const call = () => ({ method: 'tools/call', params: { name: 'echo' }, auth: undefined, controller: new AbortController() });
    let mismatches = 0;
    const legacyRefusal = await relay(endpointAt('/400-legacy', () => mismatches++), call(), { message: () => undefined });
    expect(legacyRefusal).toMatchObject({ kind: 'failed', reason: 'answered HTTP 400' });
    expect(mismatches).toBe(1);
    await relay(endpointAt('/400-modern', () => mismatches++), call(), { message: () => undefined });
    expect(mismatches).toBe(1);
  });
});
