/**
 * One modern request's work from start to end, which may outlive the HTTP exchange that started it: when a tool
 * server asks the client something during the work (sampling, elicitation, roots — a request on its legacy
 * session), a 2026-07-28 client cannot be sent a request. The flight answers the client's exchange with
 * `input_required` (2026-07-28 basic/patterns/mrtr) listing what was asked, keeps the work (and the tool server's
 * call) waiting, and is parked under a random `requestState`. The client's retry carries that state and its
 * `inputResponses`: the flight hands each answer to whoever asked, attaches the retry's exchange and goes on — more
 * progress, another `input_required`, or the final answer, which then answers the retry.
 *
 * A request is only put to the client if its envelope declares the capability, and only on the methods that may
 * answer `input_required` (`tools/call`, `prompts/get`, `resources/read`); otherwise the asker gets an error at once.
 * The client going away while attached cancels the work; a parked flight that is never resumed is given up after
 * `PARK_TTL_MS` (its askers get errors, so the tool server's call ends).
 */
import type { ClientCapabilities, Result } from '@modelcontextprotocol/server';
import { ErrorCode, McpError } from './mcp-error.js';
import type { Downstream } from '../toolservers/types.js';
import type { FlightExchange, JsonRpcError } from './modern-exchange.js';

/** How long a parked flight waits for the client's retry. */
export const PARK_TTL_MS = 10 * 60_000;

interface Ask {
  request: { method: string; params?: unknown };
  resolve(result: Result): void;
  reject(err: unknown): void;
}

/** Whether a client with `caps` can answer `request` (mrtr §Server Requirements: never ask what it did not declare). */
export function canAnswer(caps: ClientCapabilities | undefined, request: { method: string; params?: unknown }): boolean {
  if (request.method === 'sampling/createMessage') return caps?.sampling !== undefined;
  if (request.method === 'roots/list') return caps?.roots !== undefined;
  if (request.method === 'elicitation/create') {
    const e = caps?.elicitation as { form?: unknown; url?: unknown } | undefined;
    if (!e) return false;
    const url = (request.params as { mode?: unknown } | undefined)?.mode === 'url';
    // An empty elicitation capability means form mode only.
    return url ? e.url !== undefined : e.form !== undefined || e.url === undefined;
  }
  return false;
}

export interface FlightOwner {
  teamId: string;
  userId: string;
  clientId: string;
}

export class Flight implements Downstream {
  readonly controller = new AbortController();
  private exchange: FlightExchange | undefined;
  private capabilities: ClientCapabilities | undefined;
  private readonly asks = new Map<string, Ask>();
  private askCount = 0;
  private flushScheduled = false;
  private outcome: { result: unknown } | { error: JsonRpcError } | undefined;
  private expiry: NodeJS.Timeout | undefined;
  /** The state the client echoes to resume this flight, while it is parked. */
  token: string | undefined;

  constructor(
    readonly owner: FlightOwner,
    /** What the retry must repeat: the method and its `name` or `uri`. */
    readonly target: string,
    private readonly opts: {
      /** The method may answer `input_required`. */
      mayAsk: boolean;
      /** A fresh `requestState` for the flight (`request-state.ts`). */
      tokenFor(flight: Flight): string;
      /** Parks the flight under `token` until it is resumed or given up. */
      park(flight: Flight): void;
      unpark(flight: Flight): void;
    },
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Serves the flight's client on `exchange` (the first request, or a retry) with what it declares. */
  attach(exchange: FlightExchange, capabilities: ClientCapabilities | undefined): void {
    this.exchange = exchange;
    this.capabilities = capabilities;
    exchange.onGone(() => {
      if (this.exchange === exchange && this.outcome === undefined) this.controller.abort();
    });
    if (this.outcome) this.deliver();
    else if (this.asks.size) this.scheduleFlush();
  }

  /** The client's retry: answers what was asked (those it answers), then carries on on `exchange`. */
  resume(exchange: FlightExchange, capabilities: ClientCapabilities | undefined, responses: Record<string, unknown>): void {
    clearTimeout(this.expiry);
    this.opts.unpark(this);
    for (const [key, ask] of [...this.asks]) {
      if (!Object.hasOwn(responses, key)) continue;
      this.asks.delete(key);
      const { resultType: _t, ...answer } = (responses[key] ?? {}) as Record<string, unknown>;
      ask.resolve(answer as Result);
    }
    this.attach(exchange, capabilities);
  }

  async notify(n: { method: string; params?: unknown }): Promise<void> {
    await this.exchange?.notify(n);
  }

  /** A request of a tool server to the client: put to it as an input request, resolved by its retry. */
  request(request: { method: string; params?: unknown }): Promise<Result> {
    if (!this.opts.mayAsk || !canAnswer(this.capabilities, request)) {
      return Promise.reject(new McpError(ErrorCode.MethodNotFound, `The client did not declare the capability for ${request.method} on this request`));
    }
    const key = `ask-${++this.askCount}`;
    return new Promise<Result>((resolve, reject) => {
      this.asks.set(key, { request: { method: request.method, ...(request.params !== undefined ? { params: request.params } : {}) }, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** The work ended: its answer goes to the attached exchange, or waits for the retry. */
  finish(outcome: { result: unknown } | { error: JsonRpcError }): void {
    this.outcome = outcome;
    if (this.exchange) this.deliver();
  }

  /** Nobody came back for a parked flight: whoever asked gets an error, so the work can end. */
  giveUp(reason: string): void {
    clearTimeout(this.expiry);
    this.opts.unpark(this);
    for (const ask of this.asks.values()) ask.reject(new McpError(ErrorCode.RequestTimeout, reason));
    this.asks.clear();
  }

  private deliver(): void {
    const e = this.exchange!;
    this.exchange = undefined;
    const o = this.outcome!;
    if ('error' in o) e.error(o.error);
    else e.result(o.result);
  }

  /** Several requests asked at once go to the client together: answer `input_required` on the next turn. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const e = this.exchange;
      if (!e || this.outcome || !this.asks.size) return;
      this.exchange = undefined;
      this.token = this.opts.tokenFor(this);
      this.opts.park(this);
      this.expiry = setTimeout(() => this.giveUp('The client did not answer in time'), PARK_TTL_MS);
      this.expiry.unref();
      e.inputRequired(Object.fromEntries([...this.asks].map(([k, a]) => [k, a.request])), this.token);
    });
  }
}
