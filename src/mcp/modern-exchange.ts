/**
 * The answer to one 2026-07-28 request (basic/transports/streamable-http §Sending Messages, §Receiving Messages):
 * a single JSON object, or — as soon as something must go out before the answer and the client accepts event
 * streams — an event stream scoped to this request, carrying its progress and log messages and then the answer.
 * Only request-scoped notifications ride it: `notifications/progress`, and `notifications/message` at or above the
 * level the request's envelope asked for (none without one, server/utilities/logging §Per-request log level).
 * Results carry `resultType: "complete"`, or `"input_required"` when the work needs the client's input first
 * (`modern-flight.ts`). The client closing the response early is the request's cancellation (`onGone`).
 */
import type { ServerResponse } from 'node:http';
import { needsDrain, whenWritable } from './backpressure.js';
import { sseEvent } from './in-flight.js';
import { LOG_LEVELS, MODERN_ERROR, type LogLevel } from './protocol-era.js';

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
/** -32002 (resource not found) is a legacy code a 2026-07-28 server must not emit; it became -32602. */
const LEGACY_RESOURCE_NOT_FOUND = -32002;

const rank = (level: unknown): number => LOG_LEVELS.indexOf(level as LogLevel);

/** A JSON-RPC error answered outside any exchange (a refused request), as JSON with `status`. */
export function sendRpcError(res: ServerResponse, status: number, id: string | number | null, error: JsonRpcError): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id, error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** What a flight answers its client through: this request's own HTTP exchange, or one on another replica (`modern-forward.ts`). */
export interface FlightExchange {
  onGone(fn: () => void): void;
  notify(n: { method: string; params?: unknown }): Promise<void>;
  result(result: unknown): void;
  inputRequired(inputRequests: Record<string, unknown>, requestState: string): void;
  error(error: JsonRpcError): void;
}

export class ModernExchange implements FlightExchange {
  private streaming = false;

  constructor(
    readonly res: ServerResponse,
    private readonly id: string | number,
    private readonly opts: { acceptsStream: boolean; logLevel: LogLevel | undefined },
  ) {}

  /** Calls `fn` if the client goes away before its answer was sent. */
  onGone(fn: () => void): void {
    this.res.once('close', () => {
      if (!this.res.writableFinished) fn();
    });
  }

  /** Sends a notification that belongs to this request on its stream, when it is one the client may receive. */
  async notify(n: { method: string; params?: unknown }): Promise<void> {
    const { res } = this;
    if (!this.opts.acceptsStream || res.destroyed || res.writableEnded) return;
    if (n.method === 'notifications/message') {
      const level = (n.params as { level?: unknown } | undefined)?.level;
      if (this.opts.logLevel === undefined || rank(level) < rank(this.opts.logLevel)) return;
    } else if (n.method !== 'notifications/progress') {
      return;
    }
    if (!this.streaming) {
      res.writeHead(200, SSE_HEADERS);
      this.streaming = true;
    }
    if (!res.write(sseEvent({ jsonrpc: '2.0', method: n.method, ...(n.params !== undefined ? { params: n.params } : {}) })) && needsDrain(res)) await whenWritable(res);
  }

  /** Answers with `result` (given its `resultType`). */
  result(result: unknown): void {
    const r = result !== null && typeof result === 'object' && !Array.isArray(result) ? result : {};
    this.finish({ jsonrpc: '2.0', id: this.id, result: { ...r, resultType: 'complete' } });
  }

  /** Answers that the work needs `inputRequests` answered first: the client retries with them and `requestState`. */
  inputRequired(inputRequests: Record<string, unknown>, requestState: string): void {
    this.finish({ jsonrpc: '2.0', id: this.id, result: { resultType: 'input_required', inputRequests, requestState } });
  }

  /** Answers with a JSON-RPC error (in-band: HTTP 200, or on the stream if one is open). */
  error(error: JsonRpcError): void {
    const e = error.code === LEGACY_RESOURCE_NOT_FOUND ? { ...error, code: MODERN_ERROR.INVALID_PARAMS } : error;
    this.finish({ jsonrpc: '2.0', id: this.id, error: e });
  }

  private finish(m: unknown): void {
    const { res } = this;
    if (res.destroyed || res.writableEnded) return;
    if (this.streaming) {
      res.end(sseEvent(m));
      return;
    }
    const body = JSON.stringify(m);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  }
}
