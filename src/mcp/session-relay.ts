/**
 * The relay's side of a session (docs/architecture.md §The relay): a client's request for one remote tool server —
 * `tools/call`, `prompts/get`, `resources/read`, `completion/complete` (`RELAYED_METHODS`) — is answered here, straight
 * from the upstream (`toolservers/upstream-relay.ts`), without an SDK client. Also here: what belongs to such a
 * request afterwards — the client's answers to the requests an upstream made during it (sampling, elicitation,
 * roots), and its cancellation.
 *
 * The response is an event stream, as an SDK server's responses are: whatever the upstream sends during the
 * call (progress, log messages, its requests) goes out as it arrives, then the answer with the client's id. Requests
 * of the upstream get the gateway's ids (`sb-relay:<replica>:<n>`), unique in the session, so the client's answer can
 * be recognised — on any replica, which forwards it here (`cluster/request-home.ts`) — and sent back to the upstream
 * with the id it used.
 */
import type { ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { RELAYED_METHODS, relayFailure, type Aggregator } from '../toolservers/aggregator.js';
import { relay, sendToUpstream, type RelayEndpoint, type RelayMessage } from '../toolservers/upstream-relay.js';
import type { Logger } from '../observability/logger.js';
import type { ToolCallOutcome } from './session-server.js';
import { idKey, track } from './in-flight.js';
import type { ResumableStreams } from '../cluster/resumable-streams.js';
import { tracingOn, traceAnswer, traceRelayCall } from '../observability/tracing.js';
import { RELAY_PREFIX, requestIdFor } from '../cluster/request-home.js';

/** What a relayed call reports when it ends (the audit record and metrics of a tool call). */
export type OnToolCall = (tool: string, outcome: ToolCallOutcome, durationMs: number) => void;

interface Asked {
  endpoint: RelayEndpoint;
  id: string | number;
  auth: AuthInfo | undefined;
}


function isRequest(m: RelayMessage): boolean {
  return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number');
}

export class SessionRelay {
  /** Relayed requests in flight, by the client's request id: cancelled by `notifications/cancelled`. */
  private callsMap: Map<string, AbortController> | undefined;
  /** Made on first use, as `asked` (an idle session keeps neither; see `switchable-aggregator.ts`). */
  private get calls(): Map<string, AbortController> {
    return (this.callsMap ??= new Map());
  }
  /** Requests of upstreams waiting for the client's answer, by the id the client was given. */
  private askedMap: Map<string, Asked> | undefined;
  private get asked(): Map<string, Asked> {
    return (this.askedMap ??= new Map());
  }
  private askedCount = 0;

  constructor(
    private readonly opts: {
      sessionId: string;
      /** This process's replica id (in the ids of requests put to the client). */
      replica: string;
      /** Response streams, resumable when the client speaks 2025-11-25 or later (`resumable`). */
      streams: ResumableStreams;
      resumable: boolean;
      aggregator: Aggregator;
      logger: Logger;
      onToolCall: OnToolCall;
    },
  ) {}

  /**
   * Serves `message` if it is the relay's: a request for one relayable tool server (`Aggregator.relayTarget`), an
   * answer to a request the relay passed on, or the cancellation of a relayed request. False: the front end serves it.
   */
  serve(message: unknown, res: ServerResponse, auth: AuthInfo | undefined): Promise<boolean> | false {
    if (!message || typeof message !== 'object' || Array.isArray(message)) return false;
    const m = message as RelayMessage;
    if (m.method !== undefined && RELAYED_METHODS.has(m.method)) return this.forward(m, m.method, res, auth);
    if (m.method === 'notifications/cancelled') {
      if (!this.cancel(m.params?.requestId)) return false;
      res.writeHead(202).end();
      return Promise.resolve(true);
    }
    if (m.method === undefined && typeof m.id === 'string' && m.id.startsWith(RELAY_PREFIX)) {
      return this.answer(m).then((known) => (known ? (res.writeHead(202).end(), true) : false));
    }
    return false;
  }

  /** Aborts the relayed call the client knows as `requestId`; false if none is in flight here. */
  cancel(requestId: unknown): boolean {
    const controller = this.callsMap?.get(idKey(requestId));
    controller?.abort();
    return controller !== undefined;
  }

  /** Nothing is in flight through the relay. */
  get idle(): boolean {
    return !this.callsMap?.size;
  }

  /** Ends every relayed call (the session is closing): their clients are owed nothing more. */
  abortAll(): void {
    for (const c of this.callsMap?.values() ?? []) c.abort();
  }

  /** The client's answer to a request an upstream made (here, or forwarded from another replica); false: not one of ours. */
  async answer(m: Pick<RelayMessage, 'id' | 'result' | 'error'>): Promise<boolean> {
    const asked = this.askedMap?.get(m.id as string);
    if (!asked) return false;
    this.asked.delete(m.id as string);
    const reply: RelayMessage = { jsonrpc: '2.0', id: asked.id, ...(m.error !== undefined ? { error: m.error } : { result: m.result }) };
    try {
      await sendToUpstream(asked.endpoint, reply, asked.auth);
    } catch (err) {
      // The upstream's call times out on its own; the client did its part.
      this.opts.logger.debug({ err, toolServer: asked.endpoint.name, sessionId: this.opts.sessionId }, 'could not pass an answer on to the tool server');
    }
    return true;
  }

  private async forward(m: RelayMessage, method: string, res: ServerResponse, auth: AuthInfo | undefined): Promise<boolean> {
    if (m.id === undefined || !m.params || typeof m.params !== 'object') return false;
    const target = this.opts.aggregator.relayTarget(method, m.params);
    if (!target) return false;

    const started = performance.now();
    const headers = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': this.opts.sessionId };
    // A completion answers at once (as on the front end's path): its stream is not made resumable.
    const stream = this.opts.streams.start(res, this.opts.sessionId, m.id, headers, this.opts.resumable && method !== 'completion/complete');
    const { controller, done } = track(this.calls, idKey(m.id), res, (abort) => stream.cut(abort));
    const askedHere: string[] = [];
    const span = tracingOn ? traceRelayCall(res, target.server, target.endpoint.url, method, target.name) : undefined;

    const result = await relay(
      target.endpoint,
      { method, params: target.params, auth, controller, ...(span ? { trace: span.context } : {}) },
      {
        message: (msg) => {
          if (!stream.wanted) return;
          let out = msg;
          if (isRequest(msg)) {
            const id = requestIdFor(RELAY_PREFIX, this.opts.replica, ++this.askedCount);
            this.asked.set(id, { endpoint: target.endpoint, id: msg.id!, auth });
            askedHere.push(id);
            out = { ...msg, id };
          }
          return stream.write(out);
        },
        paused: () => stream.poll(() => controller.abort()),
      },
    );

    done();
    span?.end(result);
    for (const id of askedHere) this.asked.delete(id);
    const durationMs = performance.now() - started;
    // Tool calls are audited and counted (`onToolCall`); the other relayed requests are not, as on the front end's path.
    const tool = method === 'tools/call' ? (m.params.name as string) : undefined;
    if (result.kind === 'aborted') {
      if (tool !== undefined) this.opts.onToolCall(tool, 'error', durationMs);
      stream.abandon();
      return true;
    }
    let answer: RelayMessage;
    let outcome: ToolCallOutcome;
    if (result.kind === 'failed') {
      target.failed(result.err);
      answer = { jsonrpc: '2.0', id: m.id, ...relayFailure(method, target.server, result.reason) };
      outcome = 'upstream_error';
    } else {
      const a = result.message;
      answer = a.error !== undefined ? { jsonrpc: '2.0', id: m.id, error: a.error } : { jsonrpc: '2.0', id: m.id, result: target.result(a.result) };
      outcome = a.error !== undefined ? 'error' : (a.result as { isError?: unknown } | undefined)?.isError === true ? 'tool_error' : 'ok';
    }
    if (tool !== undefined) this.opts.onToolCall(tool, outcome, durationMs);
    if (tracingOn) traceAnswer(res, answer);
    stream.end(answer);
    return true;
  }
}
