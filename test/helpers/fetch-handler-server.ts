/**
 * Serves a web-standard `fetch` handler (the SDK v2 server's `createMcpHandler` face) from `node:http`, for test and
 * bench upstreams: the request body is read whole (and handed to `onBody` first), the response streamed back as it
 * is produced, and the client closing the connection aborts the request's signal and cancels the response body —
 * which is how a 2026-07-28 server learns of a cancellation.
 */
import type http from 'node:http';

export function fetchHandlerListener(
  handler: (request: Request) => Promise<Response>,
  onBody?: (body: Buffer, req: http.IncomingMessage, res: http.ServerResponse) => void,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      onBody?.(body, req, res);
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method!, headers, ...(body.length ? { body } : {}), signal: gone.signal });
      const response = await handler(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (!response.body) return void res.end();
      const reader = response.body.getReader();
      gone.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined));
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (done) break;
        res.write(value);
      }
      res.end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}
