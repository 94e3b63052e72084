/**
 * What the session's own answering code (front end, relay, stream) shares: how a JSON-RPC id is kept as a key, how
 * a message is framed as an event, and how a client request being answered is tracked (cancellable by the client,
 * aborted when the client goes away).
 */
import type { ServerResponse } from 'node:http';

/** A key for a JSON-RPC id that keeps `1` and `"1"` apart. */
export const idKey = (id: unknown): string => (typeof id === 'string' ? `s${id}` : `n${String(id)}`);

/** One message as a Streamable HTTP event. */
export const sseEvent = (m: unknown): string => `event: message\ndata: ${JSON.stringify(m)}\n\n`;

/**
 * Registers the client request `key` (answered on `res`) in `calls` with a fresh controller, aborted when the client
 * goes away before the answer is sent — or handed to `onGone`, which decides when (a resumable stream waits for its
 * client to come back: `cluster/response-stream.ts`); `done()` stops tracking it.
 */
export function track(calls: Map<string, AbortController>, key: string, res: ServerResponse, onGone?: (abort: () => void) => void): { controller: AbortController; done(): void } {
  const controller = new AbortController();
  calls.set(key, controller);
  const gone = () => {
    if (res.writableFinished) return;
    if (onGone) onGone(() => controller.abort());
    else controller.abort();
  };
  res.once('close', gone);
  return {
    controller,
    done() {
      res.off('close', gone);
      if (calls.get(key) === controller) calls.delete(key);
    },
  };
}
