/**
 * The MCP POST route served without Express's router (`http/mcp-fast-lane.ts`) answers exactly as Express does:
 * the same requests, sent once to the gateway's listener and once to a server running the same app through Express
 * alone, get the same status, body and headers — refusals, errors and a session's start alike.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { INIT } from '../helpers/mcp-client.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const t = useTestGateway();
let viaExpress: LoopbackServer;
let token: string;

beforeAll(async () => {
  viaExpress = await listenOnLoopback(http.createServer(t.gw.app.express));
  ({ token } = await tokenFor(t.gw, { email: 'lane@example.com', team: 'demo' }));
});
afterAll(async () => {
  await viaExpress?.close();
});

/** Headers whose values differ per request or per server (the port is in the Host, so in nothing we compare). */
const VARYING = new Set(['date', 'x-request-id', 'mcp-session-id', 'content-length', 'etag', 'keep-alive', 'connection', 'transfer-encoding']);

async function answer(base: string, path: string, init: { body?: string; headers?: Record<string, string> }) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...init.headers },
    body: init.body ?? '{}',
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!VARYING.has(k)) headers[k] = v;
  });
  const text = (await res.text()).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
  return { status: res.status, headers, text, requestId: res.headers.get('x-request-id') };
}

describe('the MCP fast lane', () => {
  const cases: [string, string, () => { body?: string; headers?: Record<string, string> }][] = [
    ['no token', '/t/demo/mcp', () => ({ body: JSON.stringify(INIT) })],
    ['the /mcp alias, no token', '/mcp', () => ({ body: JSON.stringify(INIT) })],
    ['an unknown team', '/t/nope/mcp', () => ({ body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}` } })],
    ['a body that is not JSON', '/t/demo/mcp', () => ({ body: '{"jsonrpc":', headers: { authorization: `Bearer ${token}` } })],
    ['JSON that is not JSON-RPC', '/t/demo/mcp', () => ({ body: '42', headers: { authorization: `Bearer ${token}` } })],
    ['a session id nobody has', '/t/demo/mcp', () => ({ body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), headers: { authorization: `Bearer ${token}`, 'mcp-session-id': 'nope' } })],
    ['an origin that is not allowed', '/t/demo/mcp', () => ({ body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' } })],
    ['initialize', '/t/demo/mcp', () => ({ body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}` } })],
  ];
  for (const [what, path, init] of cases) {
    it(`answers as Express does: ${what}`, async () => {
      const fast = await answer(t.gw.url, path, init());
      const slow = await answer(viaExpress.url, path, init());
      expect(fast).toEqual({ ...slow, requestId: fast.requestId });
      expect(fast.requestId).toMatch(/^[\w.-]+$/);
    });
  }

  it('keeps a well-formed request id it is given, and counts the request under its route', async () => {
    const res = await answer(t.gw.url, '/t/demo/mcp', { body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}`, 'x-request-id': 'given-id.1' } });
    expect(res.requestId).toBe('given-id.1');
    expect(await t.gw.app.metrics.registry.metrics()).toMatch(/switchboard_http_requests_total\{method="POST",route="\/t\/:team\/mcp",status="200"\} [1-9]/);
  });

  it('leaves everything else to Express (other case, a trailing slash, an escaped team)', async () => {
    for (const path of ['/T/demo/MCP', '/t/demo/mcp/', '/t/d%65mo/mcp']) {
      const fast = await answer(t.gw.url, path, { body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}` } });
      const slow = await answer(viaExpress.url, path, { body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}` } });
      expect(fast).toEqual({ ...slow, requestId: fast.requestId });
    }
  });

  it('gives requests no prototypes of their own: the server made them with Express’s (createHttpServer)', async () => {
    const spy = vi.spyOn(Object, 'setPrototypeOf');
    try {
      const res = await answer(t.gw.url, '/t/demo/mcp', { body: JSON.stringify(INIT), headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const touched = spy.mock.calls.filter(([o]) => o instanceof http.IncomingMessage || o instanceof http.ServerResponse);
      expect(touched).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
