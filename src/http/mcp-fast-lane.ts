/**
 * The MCP POST route without Express's router: `POST /mcp` and `POST /t/{team}/mcp` — every tool call — run the
 * very same middleware functions Express would run for them (the global ones, then the route's), in the same
 * order, on the same request and response objects (given Express's prototypes, as Express itself does), with the
 * same error renderer. What is skipped is only the router's walk: matching every mounted layer's path for each
 * request, which was about a tenth of the gateway's CPU per forwarded call (bench profile). Anything that is not
 * exactly one of those two paths — another method, a trailing slash, other letter case, an escaped character in
 * the team — goes to Express, which answers it as before.
 */
import http, { IncomingMessage, ServerResponse, type RequestListener } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import { NotFound } from '../errors.js';

/**
 * An HTTP server whose requests and responses are made with Express's prototypes already in their chain, once
 * `useExpressPrototypes` has named the app: the fast lane then need not give each request and response Express's
 * prototypes (`Object.setPrototypeOf` on two live objects per request was ~4 % of a forwarded call's CPU, bench
 * profile). Classes per server, because Express's prototypes are per app.
 */
export function createHttpServer(listener?: RequestListener): http.Server {
  class GatewayRequest extends IncomingMessage {}
  class GatewayResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {}
  const server = http.createServer({ IncomingMessage: GatewayRequest, ServerResponse: GatewayResponse }, listener);
  serverClasses.set(server, { request: GatewayRequest.prototype, response: GatewayResponse.prototype });
  return server;
}
const serverClasses = new WeakMap<http.Server, { request: object; response: object }>();

/** Puts `app`'s request and response prototypes under those of a server made by `createHttpServer` (once). */
export function useExpressPrototypes(server: http.Server, app: Express): void {
  const classes = serverClasses.get(server);
  if (!classes) return;
  Object.setPrototypeOf(classes.request, app.request);
  Object.setPrototypeOf(classes.response, app.response);
}

/** `/mcp` or `/t/{team}/mcp`, optionally with a query; a team of plain slug characters only. */
const MCP_PATH = /^\/(?:t\/([a-z0-9-]{1,63})\/)?mcp(?:\?|$)/;

export function mcpFastLane(app: Express, chain: readonly RequestHandler[], renderError: ErrorRequestHandler): RequestListener {
  const fail = (err: unknown, req: Request, res: Response) => renderError(err, req, res, () => undefined);

  function run(req: Request, res: Response): void {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null) {
        fail(err, req, res);
        return;
      }
      const handler = chain[i++];
      if (!handler) {
        fail(new NotFound('not_found', `No route for ${req.method} ${req.path}`), req, res);
        return;
      }
      try {
        // Express 5 turns a rejected promise from a handler into `next(err)`; so does this.
        const result = handler(req, res, next) as unknown;
        if (result instanceof Promise) result.catch(next);
      } catch (e) {
        next(e);
      }
    };
    next();
  }

  return (req: IncomingMessage, res: ServerResponse) => {
    const m = req.method === 'POST' ? MCP_PATH.exec(req.url ?? '') : null;
    if (!m) return app(req, res);
    // What Express's `app.handle` and router set up before the first middleware (the prototypes only where the
    // server did not make the objects with them: see `createHttpServer`).
    const r = (Object.getPrototypeOf(Object.getPrototypeOf(req)) === app.request ? req : Object.setPrototypeOf(req, app.request)) as Request;
    const s = (Object.getPrototypeOf(Object.getPrototypeOf(res)) === app.response ? res : Object.setPrototypeOf(res, app.response)) as Response;
    r.res = s;
    s.req = r;
    s.locals = Object.create(null) as Response['locals'];
    r.originalUrl = r.url;
    r.baseUrl = '';
    r.params = m[1] === undefined ? {} : { team: m[1] };
    (r as { route?: unknown }).route = { path: m[1] === undefined ? '/mcp' : '/t/:team/mcp' };
    run(r, s);
  };
}
