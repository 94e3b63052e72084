/**
 * The MCP POST route without Express's router: `POST /mcp` and `POST /t/{team}/mcp` — every tool call — run the
 * very same middleware functions Express would run for them (the global ones, then the route's), in the same
 * order, on the same request and response objects (given Express's prototypes, as Express itself does), with the
 * same error renderer. What is skipped is only the router's walk: matching every mounted layer's path for each
 * request, which was about a tenth of the gateway's CPU per forwarded call (bench profile). Anything that is not
 * exactly one of those two paths — another method, a trailing slash, other letter case, an escaped character in
 * the team — goes to Express, which answers it as before.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.js';

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
        fail(new ApiError('not_found', `No route for ${req.method} ${req.path}`), req, res);
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
    // What Express's `app.handle` and router set up before the first middleware.
    const r = Object.setPrototypeOf(req, app.request) as Request;
    const s = Object.setPrototypeOf(res, app.response) as Response;
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
