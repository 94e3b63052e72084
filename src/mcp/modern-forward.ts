/**
 * A 2026-07-28 retry (`requestState` + `inputResponses`) that reaches a replica other than the one holding its parked
 * flight (`modern-flight.ts`; the state names that replica, `request-state.ts`). The flight cannot move — its tool
 * server's call waits in that replica's memory — so the retry is forwarded to it over the bus, and what the flight
 * then sends (progress, log messages, another `input_required`, the answer) comes back over the bus and is written to
 * the retry's own HTTP exchange here. The client going away here is told to the flight there (cancellation).
 *
 * If the holding replica dies meanwhile (no heartbeat, `cluster/bus.ts`), the retry is answered with an error at once
 * instead of waiting for the client's timeout.
 */
import { randomBytes } from 'node:crypto';
import type { ClientCapabilities } from '@modelcontextprotocol/server';
import type { ClusterBus, Direct } from '../cluster/bus.js';
import type { Logger } from '../observability/logger.js';
import type { Flight } from './modern-flight.js';
import type { FlightExchange, JsonRpcError, ModernExchange } from './modern-exchange.js';
import { MODERN_ERROR } from './protocol-era.js';

/** How often forwarded retries check that the replica serving them is alive. */
const WATCH_MS = 250;

export const UNKNOWN_STATE: JsonRpcError = {
  code: MODERN_ERROR.INVALID_PARAMS,
  message: 'Invalid params: requestState is unknown, expired, or belongs to another request; send the request again without it',
};
export const HOLDER_GONE: JsonRpcError = {
  code: MODERN_ERROR.INTERNAL_ERROR,
  message: 'The gateway replica serving this request stopped; send the request again without requestState',
};

type ExchangeMessage = Extract<Direct, { type: 'exchange' }>;

/** The flight's side of a forwarded retry: everything it sends goes back to the replica holding the HTTP exchange. */
class RemoteExchange implements FlightExchange {
  private chain: Promise<void> = Promise.resolve();
  private readonly goneFns: (() => void)[] = [];
  private ended = false;

  constructor(
    private readonly bus: ClusterBus,
    private readonly to: string,
    private readonly x: string,
    private readonly logger: Logger,
    private readonly onEnd: () => void,
  ) {}

  onGone(fn: () => void): void {
    this.goneFns.push(fn);
  }
  gone(): void {
    if (this.ended) return;
    this.end();
    for (const fn of this.goneFns) fn();
  }
  notify(n: { method: string; params?: unknown }): Promise<void> {
    return this.send('notify', n);
  }
  result(result: unknown): void {
    void this.send('result', result, true);
  }
  inputRequired(inputRequests: Record<string, unknown>, requestState: string): void {
    void this.send('input', inputRequests, true, requestState);
  }
  error(error: JsonRpcError): void {
    void this.send('error', error, true);
  }

  /** In order: each waits for the one before (NOTIFYs from one connection pool could overtake each other). */
  private send(op: ExchangeMessage['op'], body: unknown, last = false, state?: string): Promise<void> {
    if (this.ended) return Promise.resolve();
    if (last) this.end();
    const m: ExchangeMessage = { type: 'exchange', x: this.x, op, body, ...(state !== undefined ? { state } : {}) };
    this.chain = this.chain.then(() => this.bus.send(this.to, m)).catch((err: unknown) => this.logger.warn({ err }, 'could not send a forwarded exchange its message'));
    return this.chain;
  }
  private end(): void {
    this.ended = true;
    this.onEnd();
  }
}

export function createModernForwarding(deps: { bus: ClusterBus; logger: Logger; parked(token: string): Flight | undefined }) {
  const { bus, logger } = deps;
  /** Retries served here whose flights are elsewhere, by exchange id. */
  const away = new Map<string, { exchange: ModernExchange; home: string; done(): void }>();
  /** Retries of flights held here, received from elsewhere, by exchange id. */
  const here = new Map<string, RemoteExchange>();
  let watch: NodeJS.Timeout | undefined;

  function finish(x: string): void {
    const a = away.get(x);
    if (!a) return;
    away.delete(x);
    a.done();
    if (!away.size) {
      clearInterval(watch);
      watch = undefined;
    }
  }

  bus.onDirect('exchange', (m) => {
    const a = away.get(m.x);
    if (!a) return;
    const e = a.exchange;
    if (m.op === 'notify') return void e.notify(m.body as { method: string; params?: unknown }).catch(() => undefined);
    if (m.op === 'result') e.result(m.body);
    else if (m.op === 'input') e.inputRequired(m.body as Record<string, unknown>, m.state ?? '');
    else e.error(m.body as JsonRpcError);
    finish(m.x);
  });
  bus.onDirect('gone', (m) => here.get(m.x)?.gone());
  bus.onDirect('resume', (m) => {
    const remote = new RemoteExchange(bus, m.from, m.x, logger, () => here.delete(m.x));
    here.set(m.x, remote);
    const flight = deps.parked(m.token);
    if (!flight) return remote.error(UNKNOWN_STATE);
    flight.resume(remote, m.capabilities as ClientCapabilities | undefined, m.responses);
  });

  return {
    /** Serves the retry on `exchange` through the flight parked on `home`; resolves once the exchange is answered. */
    forward(exchange: ModernExchange, home: string, token: string, responses: Record<string, unknown>, capabilities: ClientCapabilities | undefined): Promise<void> {
      const x = randomBytes(9).toString('base64url');
      return new Promise<void>((resolve) => {
        away.set(x, { exchange, home, done: resolve });
        exchange.onGone(() => {
          if (!away.has(x)) return;
          finish(x);
          void bus.send(home, { type: 'gone', x }).catch(() => undefined);
        });
        watch ??= setInterval(() => {
          for (const [id, a] of away) {
            if (bus.alive(a.home)) continue;
            a.exchange.error(HOLDER_GONE);
            finish(id);
          }
        }, WATCH_MS);
        watch.unref();
        bus.send(home, { type: 'resume', from: bus.replica, x, token, responses, capabilities }).catch((err: unknown) => {
          logger.warn({ err }, 'could not forward a retry to the replica holding its request');
          exchange.error(HOLDER_GONE);
          finish(x);
        });
      });
    },
  };
}
