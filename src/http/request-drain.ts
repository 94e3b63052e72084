/**
 * The request side of a graceful shutdown: which requests are in flight, and how the gateway answers once it
 * begins to drain.
 *
 * After `begin()`:
 * - a new request on a connection that is still open (keep-alive) gets `503` with `Retry-After` and
 *   `Connection: close`, so a load balancer retries it on another replica and opens no more connections here;
 * - every connection closes as soon as its response is complete (`Connection: close` where the headers are still
 *   to be sent, the socket ended after the last byte where they are not — a streamed tool call);
 * - long-lived streams (the standalone SSE stream of a session, a 2026-07-28 `subscriptions/listen`) are ended at
 *   once. They are not work in flight: they only wait for server-initiated messages, would hold the drain for the whole grace period, and MCP
 *   clients reopen them on whichever replica answers next. (No event store keeps what such a stream would have
 *   carried meanwhile — list-changed notifications and the like; the reopened stream starts afresh.)
 *
 * `settled(deadline)` resolves when the last request that was in flight has finished.
 */
import type { Request, RequestHandler, Response } from 'express';
import { Unavailable } from '../errors.js';

export interface RequestDrain {
  /** Mount before the routes: tracks every request, and refuses new ones once the drain has begun. */
  readonly middleware: RequestHandler;
  /** Starts draining: refuses new requests and ends long-lived GET streams. Idempotent. */
  begin(): void;
  /** `true` once no request is in flight (streams aside), `false` if `deadline` (epoch ms) comes first. */
  settled(deadline: number): Promise<boolean>;
  /** Requests in flight (long-lived GET streams not counted). */
  readonly inFlight: number;
}

/**
 * A stream open for as long as the client likes: a GET that asks for an event stream (the standalone SSE stream), or
 * a 2026-07-28 `subscriptions/listen` (its `Mcp-Method` header must match its body, or it is refused at once).
 */
function isLongLivedStream(req: Request): boolean {
  if (req.method === 'POST') return req.headers['mcp-method'] === 'subscriptions/listen';
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/event-stream');
}

export function createRequestDrain(): RequestDrain {
  const work = new Set<Response>();
  const streams = new Set<Response>();
  const waiters = new Set<() => void>();
  let draining = false;

  /** Closes the connection once this response is complete, so no further request arrives on it. */
  function closeAfter(req: Request, res: Response): void {
    if (!res.headersSent) res.setHeader('Connection', 'close');
    else res.once('finish', () => req.socket.end());
  }

  function track(req: Request, res: Response): void {
    const set = isLongLivedStream(req) ? streams : work;
    set.add(res);
    res.once('close', () => {
      set.delete(res);
      if (work.size === 0) for (const wake of [...waiters]) wake();
    });
  }

  const middleware: RequestHandler = (req, res, next) => {
    if (draining) {
      res.setHeader('Connection', 'close');
      res.setHeader('Retry-After', '1');
      next(new Unavailable('This gateway process is shutting down; retry the request'));
      return;
    }
    track(req, res);
    next();
  };

  return {
    middleware,
    begin() {
      if (draining) return;
      draining = true;
      for (const res of work) closeAfter(res.req, res);
      for (const res of streams) {
        // One still being set up is cut with the other connections once the drain is over.
        if (!res.headersSent) continue;
        // A late write from the stream's producer must not turn into an unhandled 'error' event.
        res.on('error', () => undefined);
        closeAfter(res.req, res);
        res.end();
      }
    },
    settled(deadline) {
      if (work.size === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const finish = (done: boolean) => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(done);
        };
        const wake = () => finish(true);
        const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
        waiters.add(wake);
      });
    },
    get inFlight() {
      return work.size;
    },
  };
}
