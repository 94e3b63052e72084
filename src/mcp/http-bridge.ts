/**
 * Bridges Express to the SDK's web-standard Streamable HTTP transport. The web transport (not the Node wrapper)
 * is used because rehydration must replay a stored `initialize` without a socket (docs/architecture.md §Sessions).
 */
import type { ServerResponse } from 'node:http';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { ResponseFlow } from '../toolservers/upstream-flow.js';
import { enterResponseFlow } from '../observability/request-context.js';

/** The flow of each response being bridged: upstream streams feeding it wait while it waits for `drain`. */
const flows = new WeakMap<ExpressResponse | ServerResponse, ResponseFlow>();

/**
 * A fetch `Request` carrying the Express request's method, URL and headers; the body travels as `parsedBody`.
 * No abort signal: the transport never reads one (a client going away cancels the response stream instead, in
 * `sendWebResponse`), and aborting one per finished request cost a `DOMException` each.
 *
 * It also enters the response's flow (`upstream-flow.ts`): what the request goes on to do upstream follows how fast
 * its client reads the response.
 */
export function toWebRequest(req: ExpressRequest, baseUrl: string, sessionId?: string): Request {
  if (req.res) {
    const flow = new ResponseFlow();
    flows.set(req.res, flow);
    enterResponseFlow(flow);
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  // A request the gateway placed in a session itself (it came without `Mcp-Session-Id`) carries that session's id.
  if (sessionId) headers.set('mcp-session-id', sessionId);
  return new Request(new URL(req.originalUrl, baseUrl), { method: req.method, headers });
}

const WAITING = Symbol('waiting');

/** The next chunk if the stream has it by the next turn of the event loop, else `WAITING` (the read goes on). */
function readSoon<T>(read: Promise<T>): Promise<T | typeof WAITING> {
  return new Promise((resolve, reject) => {
    const timer = setImmediate(() => resolve(WAITING));
    read.then(
      (v) => {
        clearImmediate(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearImmediate(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Whether `res` holds more than it should: bytes of its own waiting, or a socket that asked for `drain`. Node 22's
 * `write()` may return false (and set `writableNeedDrain`) while every byte already went to a socket that never
 * asks for `drain`; no `drain` then ever comes, so that flag alone would stall the response for good.
 */
export function needsDrain(res: ExpressResponse | ServerResponse): boolean {
  if (!res.writableNeedDrain) return false;
  const socket = res.socket;
  return !socket || res.writableLength > 0 || socket.writableNeedDrain;
}

/**
 * Resolves once `res` can take more (`drain`) or never will (`close`: the client went away and the stream is
 * being cancelled).
 */
export function whenWritable(res: ExpressResponse | ServerResponse): Promise<void> {
  if (res.destroyed || !needsDrain(res)) return Promise.resolve();
  const flow = flows.get(res);
  flow?.hold();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      flow?.resume();
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams a fetch `Response` (JSON or SSE) to Express; a client disconnect cancels the stream.
 *
 * Whatever the stream already holds is written together (headers, events and the end of the response in one
 * socket write, which is the common case of a short request), and the headers and every event otherwise go out
 * as soon as the stream has nothing more to give right now: an SSE response's headers and each event reach the
 * client within one turn of the event loop, as before, without a write (and a TCP segment) per piece.
 *
 * Backpressure: when the socket's buffer is full (`write` returns false) the stream is not read again until it
 * drains (what is corked is sent first: corked bytes never drain), so a client that reads slowly holds back a
 * producer that waits for its reader. The SDK's web transport does not wait — it enqueues every message it is
 * handed (measured: 94 MB of upstream log notifications to a client reading nothing grew the process by ~124 MB) —
 * so the response's flow is held meanwhile, and the upstream streams feeding it wait too (`upstream-flow.ts`).
 */
export async function sendWebResponse(res: ExpressResponse, response: Response): Promise<void> {
  res.status(response.status);
  response.headers.forEach((value, key) => res.setHeader(key, value));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    res.uncork();
  };
  try {
    for (;;) {
      const next = reader.read();
      let chunk = await readSoon(next);
      if (chunk === WAITING) {
        // Nothing more for now: send what we have (at least the headers) before waiting for the stream.
        if (corked) uncork();
        else if (!res.headersSent) res.flushHeaders();
        chunk = await next;
      }
      if (chunk.done) break;
      if (!corked) {
        res.cork();
        corked = true;
      }
      if (!res.write(chunk.value)) {
        uncork();
        await whenWritable(res);
      }
    }
  } catch {
    // The stream was cancelled (client gone, session closed); nothing more to send.
  } finally {
    flows.get(res)?.resume();
    res.off('close', cancel);
    // Uncorked here, not left to end(): on Node 22 end() does not uncork a response whose headers were flushed
    // before it was corked, so its last bytes would sit in the socket and the client would wait for ever.
    uncork();
    res.end();
  }
}
