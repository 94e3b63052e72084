/**
 * A session's own stream to its client (the Streamable HTTP GET stream): what the gateway sends outside any request
 * — list changes, resource updates, messages and requests from an upstream's own stream — goes here, as the SDK
 * transport's standalone stream did, without the session needing an SDK server. One open stream per session (a
 * second GET is refused with 409, as the SDK does); nothing is kept for a client without one, as before.
 *
 * Requests to the client get ids of the form `sb-ask:<n>`, unique in the session; the client's answer arrives as a
 * POST and is matched here (`answer`).
 */
import type { ServerResponse } from 'node:http';
import { ErrorCode, McpError, type Result } from '@modelcontextprotocol/sdk/types.js';
import { needsDrain, whenWritable } from './http-bridge.js';
import { sseEvent } from './in-flight.js';

const ASK_PREFIX = 'sb-ask:';

interface Pending {
  resolve(result: Result): void;
  reject(err: unknown): void;
}


export class SessionStream {
  private res: ServerResponse | undefined;
  private readonly pending = new Map<string, Pending>();
  private asked = 0;

  constructor(private readonly sessionId: string) {}

  /** Takes `res` as the session's stream and resolves when it ends; false if one is open already. */
  open(res: ServerResponse): Promise<void> | false {
    if (this.res && !this.res.destroyed) return false;
    this.res = res;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.sessionId });
    res.flushHeaders();
    return new Promise((resolve) => {
      res.once('close', () => {
        if (this.res === res) this.res = undefined;
        resolve();
      });
    });
  }

  /** Sends a notification if the client has a stream open (else it is dropped, as the SDK drops it). */
  async notify(message: { method: string; params?: unknown }): Promise<void> {
    await this.write({ jsonrpc: '2.0', ...message });
  }

  /** Sends a request to the client on its stream and resolves with its result (its errors as `McpError`). */
  request(request: { method: string; params?: unknown }, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Result> {
    const res = this.res;
    if (!res || res.destroyed) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'The client has no stream open to receive the request'));
    return this.requestOn(res, request, opts);
  }

  /**
   * Sends a request to the client on `res` (the stream of the client's request being answered, or the session's)
   * and resolves with its result; the client's answer arrives by POST and is matched by `answer`.
   */
  requestOn(res: ServerResponse, request: { method: string; params?: unknown }, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Result> {
    const id = `${ASK_PREFIX}${++this.asked}`;
    return new Promise<Result>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        settle();
        void writeTo(res, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'The request was cancelled' } }).catch(() => undefined);
        reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new McpError(ErrorCode.RequestTimeout, 'Request cancelled'));
      };
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          settle();
          reject(new McpError(ErrorCode.RequestTimeout, 'Request timed out'));
        }, opts.timeoutMs);
      }
      opts.signal?.addEventListener('abort', aborted, { once: true });
      this.pending.set(id, {
        resolve: (r) => (settle(), resolve(r)),
        reject: (e) => (settle(), reject(e)),
      });
      writeTo(res, { jsonrpc: '2.0', id, ...request }).catch((err: unknown) => this.pending.get(id)?.reject(err));
    });
  }

  /** The client's answer to one of this stream's requests: true if it was one (then it is handled here). */
  answer(m: { id?: unknown; result?: unknown; error?: unknown }): boolean {
    if (typeof m.id !== 'string' || !m.id.startsWith(ASK_PREFIX)) return false;
    const waiting = this.pending.get(m.id);
    if (!waiting) return true; // answered late (timed out, cancelled): nothing waits for it any more
    if (m.error !== undefined) {
      const e = m.error as { code?: unknown; message?: unknown; data?: unknown };
      waiting.reject(new McpError(typeof e.code === 'number' ? e.code : ErrorCode.InternalError, typeof e.message === 'string' ? e.message : 'Error', e.data));
    } else waiting.resolve((m.result ?? {}) as Result);
    return true;
  }

  /** Ends the stream (the session is over or leaves memory); requests waiting on the client fail. */
  close(): void {
    for (const p of [...this.pending.values()]) p.reject(new McpError(ErrorCode.ConnectionClosed, 'Session closed'));
    const res = this.res;
    this.res = undefined;
    if (res && !res.writableEnded) res.end();
  }

  private async write(m: unknown): Promise<void> {
    if (this.res) await writeTo(this.res, m);
  }
}

async function writeTo(res: ServerResponse, m: unknown): Promise<void> {
  if (res.destroyed || res.writableEnded) return;
  if (!res.write(sseEvent(m)) && needsDrain(res)) await whenWritable(res);
}
