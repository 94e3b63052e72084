/**
 * The relay's part of tracing (README, Tracing): a call's trace context reaches the upstream as `traceparent` /
 * `tracestate` headers, and in `params._meta` (SEP-414) for an upstream of protocol 2026-07-28 or when the client's
 * request had one there (the gateway's replaces it); a call without trace context (tracing off) is sent untouched.
 * Against a plain HTTP upstream that records what it receives.
 */
import http from 'node:http';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relay, type RelayEndpoint } from '../../src/toolservers/upstream-relay.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: { id: string; params: { name: string; _meta?: Record<string, unknown> } };
}

const received: Received[] = [];
let upstream: LoopbackServer;
const dispatcher = new Agent();

beforeAll(async () => {
  upstream = await listenOnLoopback(
    http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString('utf8')));
      req.on('end', () => {
        const body = JSON.parse(text) as Received['body'];
        received.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [] } }));
      });
    }),
    '/mcp',
  );
});

afterAll(async () => {
  await upstream?.close();
  await dispatcher.close();
});

function endpoint(protocolVersion: string): RelayEndpoint {
  return {
    name: 'up',
    url: new URL(upstream.url),
    dispatcher,
    timeouts: { callMs: 5_000, maxCallMs: 10_000 },
    session: async () => ({ id: 'upstream-session', protocolVersion }),
    sessionGone: async () => undefined,
    headers: async () => ({}),
  };
}

const TRACE = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=value' };
const CLIENTS = '00-11111111111111111111111111111111-2222222222222222-01';

async function call(protocolVersion: string, params: Record<string, unknown>, trace?: Record<string, string>): Promise<Received> {
  const result = await relay(endpoint(protocolVersion), { method: 'tools/call', params, auth: undefined, controller: new AbortController(), ...(trace ? { trace } : {}) }, { message: () => undefined });
  expect(result.kind).toBe('answer');
  return received.at(-1)!;
}

describe('relay: trace context for the upstream', () => {
  it('sends traceparent and tracestate as headers; in _meta too for a 2026-07-28 upstream, beside what the client put there', async () => {
    const legacy = await call('2025-11-25', { name: 'echo', _meta: { progressToken: 1 } }, TRACE);
    expect(legacy.headers).toMatchObject(TRACE);
    expect(legacy.body.params._meta).toEqual({ progressToken: 1 });

    const modern = await call('2026-07-28', { name: 'echo', _meta: { progressToken: 1 } }, TRACE);
    expect(modern.headers).toMatchObject(TRACE);
    expect(modern.body.params._meta).toEqual({ progressToken: 1, ...TRACE });
  });

  it("replaces a client's traceparent in _meta with the gateway's, whatever the upstream's protocol", async () => {
    const r = await call('2025-11-25', { name: 'echo', _meta: { traceparent: CLIENTS } }, TRACE);
    expect(r.body.params._meta).toEqual(TRACE);
    expect(r.headers.traceparent).toBe(TRACE.traceparent);
  });

  it('sends a call without trace context (tracing off) as the client sent it', async () => {
    const r = await call('2026-07-28', { name: 'echo', _meta: { traceparent: CLIENTS } });
    expect(r.body.params._meta).toEqual({ traceparent: CLIENTS });
    expect(r.headers.traceparent).toBeUndefined();
    expect(r.headers.tracestate).toBeUndefined();
  });
});
