/**
 * Headers recorded once (`http/fixed-headers.ts`) are exactly what helmet and cors set per request: the same
 * requests to an app running the middleware as it is and to one running it through `fixedHeaders` get the same
 * headers — without an Origin (recorded), with an allowed or a refused one and as a preflight (run as they are).
 */
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { fixedHeaders, recordHeaders } from '../../src/http/fixed-headers.js';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { INIT } from '../helpers/mcp-client.js';

const middleware = (): RequestHandler[] => [
  helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' }, contentSecurityPolicy: { directives: { defaultSrc: ["'none'"] } } }),
  cors({ origin: (origin, cb) => cb(null, origin === undefined || origin === 'https://claude.ai'), exposedHeaders: ['Mcp-Session-Id'], maxAge: 600 }),
];

function appWith(handlers: RequestHandler[]) {
  const app = express();
  app.disable('x-powered-by');
  for (const h of handlers) app.use(h);
  app.all('/x', (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}

const asIs = appWith(middleware());
const fixed = appWith([fixedHeaders(middleware())]);

async function headersOf(app: express.Express, method: 'get' | 'post' | 'options', headers: Record<string, string>) {
  let req = request(app)[method]('/x');
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req;
  const { date: _date, etag: _etag, ...rest } = res.headers as Record<string, string>;
  return { status: res.status, headers: rest };
}

describe('fixedHeaders', () => {
  const cases: [string, 'get' | 'post' | 'options', Record<string, string>][] = [
    ['a GET without Origin', 'get', {}],
    ['a POST without Origin', 'post', {}],
    ['an allowed Origin', 'post', { origin: 'https://claude.ai' }],
    ['an Origin cors does not allow', 'post', { origin: 'https://evil.example' }],
    ['a preflight', 'options', { origin: 'https://claude.ai', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }],
    ['an OPTIONS without Origin', 'options', {}],
  ];
  for (const [what, method, headers] of cases) {
    it(`sets what helmet and cors set: ${what}`, async () => {
      const expected = await headersOf(asIs, method, headers);
      expect(await headersOf(fixed, method, headers)).toEqual(expected);
      expect(expected.headers['x-content-type-options']).toBe('nosniff');
    });
  }

  it('records only middleware that passes the request on at once and adds headers', () => {
    const later: RequestHandler = (_req, _res, next) => void setTimeout(next, 1);
    const refuses: RequestHandler = (_req, _res, next) => next(new Error('no'));
    const removes: RequestHandler = (_req, res, next) => {
      res.setHeader('X-A', '1');
      res.removeHeader('X-A');
      next();
    };
    expect(recordHeaders([later])).toBeUndefined();
    expect(recordHeaders([refuses])).toBeUndefined();
    expect(recordHeaders([removes])).toBeUndefined();
    expect(recordHeaders([(_req, res, next) => (res.setHeader('X-B', ['1', '2']), next())])).toEqual([['X-B', '1, 2']]);
  });

  it('runs middleware it could not record for every request, in order', async () => {
    const seen: string[] = [];
    const app = appWith([
      fixedHeaders([
        (_req, res, next) => void setTimeout(() => (seen.push('a'), res.setHeader('X-A', '1'), next()), 1),
        (_req, res, next) => (seen.push('b'), res.setHeader('X-B', '2'), next()),
      ]),
    ]);
    await new Promise((r) => setTimeout(r, 20)); // the recording's own late call of `a` (it stopped there)
    seen.length = 0;
    const res = await request(app).get('/x').expect(200);
    expect(res.headers['x-a']).toBe('1');
    expect(res.headers['x-b']).toBe('2');
    expect(seen).toEqual(['a', 'b']);
  });
});

describe('the gateway’s MCP endpoint without Origin', () => {
  const t = useTestGateway();
  it('carries helmet’s and cors’s headers, as a browser’s request does', async () => {
    const { token } = await tokenFor(t.gw, { email: 'fixed@example.com', team: 'demo' });
    const send = (extra: Record<string, string>) =>
      fetch(`${t.gw.url}/t/demo/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra },
        body: JSON.stringify(INIT),
      });
    const server = await send({});
    const browser = await send({ origin: t.gw.url });
    expect(server.status).toBe(200);
    expect(browser.status).toBe(200);
    for (const name of ['content-security-policy', 'x-content-type-options', 'strict-transport-security', 'cross-origin-resource-policy', 'access-control-expose-headers', 'vary']) {
      expect(server.headers.get(name), name).toBe(browser.headers.get(name));
      expect(server.headers.get(name), name).toBeTruthy();
    }
    expect(server.headers.get('access-control-allow-origin')).toBeNull();
    expect(browser.headers.get('access-control-allow-origin')).toBe(t.gw.url);
  });
});
