/**
 * Middleware whose headers are the same on every response it can be sure of, run once instead of per request.
 *
 * helmet sets a fixed list for the options the gateway gives it, and cors sets a fixed pair (`Vary: Origin` and the
 * exposed headers) on every request that carries no `Origin` — what nearly every MCP request is: ChatGPT's and
 * Claude's connectors, Cursor and the SDKs call from servers, not browsers. Together those were thirteen middleware
 * calls and about 2–3 % of a forwarded call's CPU (bench profile). `fixedHeaders` runs the middleware once on a
 * recording response at startup and then sets what it recorded; a request with an `Origin` (a browser client) or a
 * preflight (`OPTIONS`) is served by the middleware itself, as before. No library does this recording, hence here.
 */
import type { Request, RequestHandler, Response } from 'express';

/** What `handlers` set on a response to a request with no `Origin` (name, value, in order), or undefined if unsure. */
export function recordHeaders(handlers: readonly RequestHandler[]): [string, string][] | undefined {
  const set = new Map<string, [string, string]>();
  let removed = false;
  const res = {
    setHeader(name: string, value: unknown) {
      set.set(name.toLowerCase(), [name, Array.isArray(value) ? value.join(', ') : String(value)]);
      return res;
    },
    getHeader: (name: string) => set.get(name.toLowerCase())?.[1],
    hasHeader: (name: string) => set.has(name.toLowerCase()),
    removeHeader(name: string) {
      removed ||= set.delete(name.toLowerCase());
    },
  };
  const req = { method: 'GET', url: '/', headers: {} };
  for (const handler of handlers) {
    let passed = false;
    handler(req as unknown as Request, res as unknown as Response, (err?: unknown) => {
      passed = err === undefined || err === null;
    });
    // Only middleware that finished at once, passing the request on, and only added headers, can be replayed.
    if (!passed || removed) return undefined;
  }
  return [...set.values()];
}

/** `handlers` in order, for one request; each passes on to the next, the last to `next`. */
function runAll(handlers: readonly RequestHandler[], req: Request, res: Response, next: (err?: unknown) => void): void {
  let i = 0;
  const step = (err?: unknown): void => {
    if (err !== undefined && err !== null) return next(err);
    const handler = handlers[i++];
    if (!handler) return next();
    void handler(req, res, step);
  };
  step();
}

/** `handlers` as one middleware: their recorded headers for requests without `Origin`, the handlers themselves otherwise. */
export function fixedHeaders(handlers: readonly RequestHandler[]): RequestHandler {
  const recorded = recordHeaders(handlers);
  if (!recorded) return (req, res, next) => runAll(handlers, req, res, next);
  return (req, res, next) => {
    if (req.headers.origin !== undefined || req.method === 'OPTIONS') return runAll(handlers, req, res, next);
    for (let i = 0; i < recorded.length; i++) res.setHeader(recorded[i]![0], recorded[i]![1]);
    next();
  };
}
