/**
 * Bridges Express to the SDK's web-standard Streamable HTTP transport. The web transport (not the Node wrapper)
 * is used because rehydration must replay a stored `initialize` without a socket (DESIGN.md §Sessions).
 */
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';

/** A fetch `Request` carrying the Express request's method, URL and headers; the body travels as `parsedBody`. */
export function toWebRequest(req: ExpressRequest, res: ExpressResponse, baseUrl: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  return new Request(new URL(req.originalUrl, baseUrl), { method: req.method, headers, signal: ac.signal });
}

/** Streams a fetch `Response` (JSON or SSE) to Express; a client disconnect cancels the stream. */
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
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) res.flushHeaders();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
  } catch {
    // The stream was cancelled (client gone, session closed); nothing more to send.
  } finally {
    res.off('close', cancel);
    res.end();
  }
}
