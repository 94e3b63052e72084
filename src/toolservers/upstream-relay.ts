/**
 * The relay: one client request for one remote tool server (a `tools/call`) forwarded as JSON-RPC over a pooled
 * keep-alive connection, without the SDK's client or server in the way. Only what must change is rewritten: the
 * tool's name (namespacing, done by the caller) and the request id, which on the upstream session is the gateway's
 * own (`sb-<n>`: the SDK client that opened the session numbers its requests, so a client's id could collide with
 * one of them). The upstream's answer — plain JSON or an event stream — is read only as far as event boundaries
 * and one `JSON.parse` per message require, and handed to the caller message by message as it arrives.
 *
 * Hand-written rather than through the SDK's client because that hop (undici `fetch`, web streams, SSE parsing
 * through `TextDecoderStream`, zod on every message, then the SDK server's zod and re-encoding) was most of the
 * gateway's CPU per call; what it did for a forwarded call is small and lives here: timeouts that progress
 * restarts, cancellation both ways, a lost upstream session retried once, failures turned into short reasons.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { upstreamFailureReason } from './aggregator.js';
import { UpstreamFailure } from './upstream-failure.js';
import { mirroredHeaders } from './param-headers.js';
import { send, type UpstreamResponse } from './upstream-exchange.js';
import { askClient, completed, inputRequiredOf, MAX_INPUT_ROUNDS, modernHeaders, retryParams, withEnvelope, type ModernLink } from './modern-upstream.js';

/** A JSON-RPC message as it travels through the relay: parsed once, never validated beyond its shape. */
export interface RelayMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
}

/** One request to forward: `method` and `params` as the upstream must see them (the id is the relay's). */
export interface RelayCall {
  method: string;
  params: Record<string, unknown>;
  auth: AuthInfo | undefined;
  /**
   * The caller aborts it when the client goes away or cancels (the upstream is told, `notifications/cancelled`);
   * the relay aborts it when the call runs out of time. One controller per call, shared: each costs.
   */
  controller: AbortController;
  /**
   * The W3C trace context of the call's client span (`traceparent`, `tracestate`; only with tracing on): sent as
   * headers, and in `params._meta` (SEP-414) to an upstream of protocol 2026-07-28 or when the client put one there.
   */
  trace?: Readonly<Record<string, string>>;
}

/** Where the upstream's messages for the client go, in order; a promise means "wait, the client reads slowly". */
export interface RelaySink {
  /** A notification (progress, log message) or a request (sampling, elicitation, roots) on the call's stream. */
  message(m: RelayMessage): void | Promise<void>;
  /**
   * The upstream closed its stream before answering (2025-11-25 SSE polling) and is about to be resumed: the caller
   * may let its own client poll the same way (`cluster/response-stream.ts`).
   */
  paused?(): void;
}

export type RelayResult =
  /** The upstream's answer: `result` or `error`, to be given the client's id. */
  | { kind: 'answer'; message: RelayMessage }
  /** The tool server failed (unreachable, HTTP error, timeout, not MCP): `reason` is safe to show the client. */
  | { kind: 'failed'; reason: string; err: unknown }
  /** The client went away or cancelled; nothing is owed to it. */
  | { kind: 'aborted' };

/**
 * How to reach the upstream for one request: a legacy upstream's session id and protocol version, or, for an
 * upstream of protocol 2026-07-28, no session and the `modern` link (`modern-upstream.ts`).
 */
export interface UpstreamSession {
  id: string | undefined;
  protocolVersion: string | undefined;
  modern?: ModernLink;
}

/** What the relay needs from the upstream client that owns the upstream session. */
export interface RelayEndpoint {
  readonly name: string;
  readonly url: URL;
  readonly dispatcher: Dispatcher;
  readonly timeouts: { callMs: number; maxCallMs: number };
  /** The upstream session to use (opened on first need), and the protocol version it speaks. */
  session(auth: AuthInfo | undefined): Promise<UpstreamSession>;
  /** The upstream answered 404 for this session id: it is gone; the next `session()` opens a new one. */
  sessionGone(id: string): Promise<void>;
  headers(auth: AuthInfo | undefined): Promise<Record<string, string>>;
}

let nextId = 0;

/** The abort reason of a call that ran out of time. */
const TIMED_OUT = Symbol('timed out');

/** How long an upstream may keep a response stream open after its answer before the connection is dropped. */
const LINGER_MS = 5_000;

const RelayFailure = UpstreamFailure;

const ACCEPT = 'application/json, text/event-stream';

async function requestHeaders(
  ep: RelayEndpoint,
  auth: AuthInfo | undefined,
  session: UpstreamSession,
  trace?: Readonly<Record<string, string>>,
  request?: { method: string; params: Record<string, unknown> },
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT, ...trace };
  Object.assign(headers, await ep.headers(auth));
  if (session.id) headers['mcp-session-id'] = session.id;
  if (session.protocolVersion) headers['mcp-protocol-version'] = session.protocolVersion;
  if (session.modern && request) {
    Object.assign(headers, modernHeaders(request.method, request.params));
    const tool = request.method === 'tools/call' ? request.params.name : undefined;
    const params = typeof tool === 'string' ? await session.modern.paramHeaders(tool, auth) : undefined;
    if (params) Object.assign(headers, mirroredHeaders(params, request.params.arguments));
  }
  return headers;
}

/**
 * Sends `message` (a response to one of the upstream's requests, or a notification) on the upstream session, and
 * waits for its 202. Failures are the caller's to log: the upstream call it belongs to times out on its own.
 */
export async function sendToUpstream(ep: RelayEndpoint, message: RelayMessage, auth: AuthInfo | undefined): Promise<void> {
  const session = await ep.session(auth);
  if (session.modern) {
    // A modern upstream takes answers with the retried request, and cancellation is closing it: nothing to POST.
    if (message.method === undefined && message.id !== undefined) session.modern.waiting.get(String(message.id))?.(message);
    return;
  }
  const res = await send(ep.dispatcher, {
    origin: ep.url.origin,
    path: ep.url.pathname + ep.url.search,
    method: 'POST',
    headers: await requestHeaders(ep, auth, session),
    body: JSON.stringify(message),
    headersTimeout: ep.timeouts.callMs,
    bodyTimeout: ep.timeouts.callMs,
  });
  await res.dump();
  if (res.status >= 300) throw new RelayFailure(`answered HTTP ${res.status}`);
}

/** The protocol revision from which trace context travels in `_meta` as well as in headers. */
const TRACE_IN_META_FROM = '2026-07-28';

/**
 * The request as JSON: the call's trace context replaces the client's in `_meta`, or joins it for a modern upstream;
 * a modern upstream's envelope joins it too.
 */
function requestBody(id: string, call: RelayCall, params: Record<string, unknown>, session: UpstreamSession): string {
  const meta = call.trace && (params._meta as Record<string, unknown> | undefined);
  const { protocolVersion } = session;
  if (call.trace && ((protocolVersion !== undefined && protocolVersion >= TRACE_IN_META_FROM) || meta?.traceparent !== undefined)) {
    params = { ...params, _meta: { ...meta, ...call.trace } };
  }
  if (session.modern) params = withEnvelope(params, session.modern);
  return JSON.stringify({ jsonrpc: '2.0', id, method: call.method, params });
}

/** Forwards `call` and resolves with how it ended; never rejects. */
export async function relay(ep: RelayEndpoint, call: RelayCall, sink: RelaySink): Promise<RelayResult> {
  let id = `sb-${++nextId}`;
  /** The parameters sent: the call's, then (modern upstreams) with the client's answers of the latest input round. */
  let params = call.params;
  let rounds = 0;
  /** Whether the call was sent again after a HeaderMismatch, with the headers of a fresh listing. */
  let relisted = false;
  const { controller } = call;
  const timeUp = () => controller.abort(TIMED_OUT);
  /** Whether the upstream has the request (then it is told when the gateway gives up on it). */
  const sent = { yes: false };
  // One budget restarted by every message from the upstream (progress included), one in total.
  const total = setTimeout(timeUp, ep.timeouts.maxCallMs);
  let idle = setTimeout(timeUp, ep.timeouts.callMs);
  // The same timer, started again (no new one per message).
  const progressed = () => void idle.refresh();
  try {
    for (let attempt = 0; ; attempt++) {
      const session = await ep.session(call.auth);
      const res = await send(
        ep.dispatcher,
        {
          origin: ep.url.origin,
          path: ep.url.pathname + ep.url.search,
          method: 'POST',
          headers: await requestHeaders(ep, call.auth, session, call.trace, session.modern ? { method: call.method, params } : undefined),
          body: requestBody(id, call, params, session),
          // Our own timers decide (progress restarts them); undici's would cut a slow call at its own limits.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        controller.signal,
      );
      sent.yes = true;
      if (res.status === 404 && session.id && attempt === 0) {
        // The upstream forgot the session (expired, restarted) and did not handle the request: once more, anew.
        await res.dump();
        await ep.sessionGone(session.id);
        continue;
      }
      if (res.status !== 200) {
        const text = await res.text().catch(() => '');
        if (session.modern && res.status === 400 && call.method === 'tools/call' && !relisted && errorCode(text) === HEADER_MISMATCH) {
          // The tool's x-mcp-header annotations changed since the listing its headers came from: list, send again.
          relisted = true;
          session.modern.toolsStale();
          continue;
        }
        // A modern request refused as a legacy server refuses it: the remembered era is wrong.
        if (session.modern && (res.status === 400 || res.status === 404 || res.status === 405) && !isModernError(text)) session.modern.mismatch();
        throw new RelayFailure(`answered HTTP ${res.status}`, new Error(`HTTP ${res.status}: ${text.slice(0, 500)}`));
      }
      const answer = await readAnswer(ep, call, session, res, id, sink, progressed);
      if (!session.modern) return { kind: 'answer', message: answer };
      const input = inputRequiredOf(answer);
      if (input === undefined) return { kind: 'answer', message: completed(answer) };
      if (input === 'malformed') throw new RelayFailure('protocol error', new Error('the upstream answered a malformed input_required result'));
      if (++rounds > MAX_INPUT_ROUNDS) throw new RelayFailure('protocol error', new Error(`the upstream asked for input more than ${MAX_INPUT_ROUNDS} times`));
      // The client answers at human pace: only the total budget applies meanwhile.
      clearTimeout(idle);
      const responses = await askClient(session.modern, id, input.inputRequests, (m) => sink.message(m), controller.signal);
      idle = setTimeout(timeUp, ep.timeouts.callMs);
      params = retryParams(params, responses, input.requestState);
      id = `sb-${++nextId}`; // mrtr: the retry is a new request
    }
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason !== TIMED_OUT) {
      if (sent.yes) void sendToUpstream(ep, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'The client cancelled the request' } }, call.auth).catch(() => undefined);
      return { kind: 'aborted' };
    }
    if (controller.signal.reason === TIMED_OUT) {
      if (sent.yes) void sendToUpstream(ep, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'Timed out at the gateway' } }, call.auth).catch(() => undefined);
      return { kind: 'failed', reason: 'timed out', err };
    }
    return { kind: 'failed', reason: err instanceof RelayFailure ? err.reason : upstreamFailureReason(err), err };
  } finally {
    clearTimeout(total);
    clearTimeout(idle);
  }
}

/** The upstream's answer to request `id` in `res` (200), after whatever it sent before it went to `sink`. */
async function readAnswer(
  ep: RelayEndpoint,
  call: RelayCall,
  session: UpstreamSession,
  res: UpstreamResponse,
  id: string,
  sink: RelaySink,
  progressed: () => void,
): Promise<RelayMessage> {
  const type = res.contentType;
  if (type.includes('text/event-stream')) {
    const position: StreamPosition = {};
    let answer = await readEvents(res, id, sink, progressed, position);
    // The upstream closed the stream before answering (2025-11-25 SSE polling): resume it where it ended. A modern
    // upstream's streams are not resumable.
    for (let resumed = 0; !answer && !session.modern && position.lastEventId !== undefined && resumed < MAX_RESUMES; resumed++) {
      sink.paused?.();
      answer = await resume(ep, call, session, position, call.controller.signal, (body) => readEvents(body, id, sink, progressed, position));
    }
    if (answer) return answer;
    throw new RelayFailure('connection closed', new Error('the upstream ended its event stream without answering'));
  }
  if (type.includes('application/json')) {
    const m = parseMessage(await res.text());
    if (m && m.id === id && (m.result !== undefined || m.error !== undefined)) return m;
    throw new RelayFailure('protocol error', new Error('the upstream answered JSON that is not the response to the request'));
  }
  await res.dump();
  throw new RelayFailure('protocol error', new Error(`the upstream answered with content type ${JSON.stringify(type)}`));
}

/** The 2026-07-28 spec's HeaderMismatch: the upstream checks the `Mcp-*` headers against the body. */
const HEADER_MISMATCH = -32020;
/** The modern error codes (2026-07-28 basic/index §Error Codes): a 400 carrying one comes from a modern server. */
const MODERN_CODES = new Set([HEADER_MISMATCH, -32021, -32022]);
function errorCode(text: string): unknown {
  return (parseMessage(text)?.error as { code?: unknown } | undefined)?.code;
}
function isModernError(text: string): boolean {
  const code = errorCode(text);
  return typeof code === 'number' && MODERN_CODES.has(code);
}

/** Where an event stream stopped: its last event id, and how long the upstream asked to wait before resuming. */
interface StreamPosition {
  lastEventId?: string;
  retryMs?: number;
}

/** How many times one call's stream is resumed, and the longest wait before resuming that the relay honours. */
const MAX_RESUMES = 10;
const MAX_RETRY_MS = 10_000;

/**
 * Resumes an event stream the upstream closed: after the wait it asked for, a GET with `Last-Event-ID` on the same
 * upstream session, read on by `read`. Undefined when the stream ended again without the answer.
 */
async function resume(
  ep: RelayEndpoint,
  call: RelayCall,
  session: UpstreamSession,
  position: StreamPosition,
  signal: AbortSignal,
  read: (res: UpstreamResponse) => Promise<RelayMessage | undefined>,
): Promise<RelayMessage | undefined> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, Math.min(position.retryMs ?? 0, MAX_RETRY_MS));
    function done() {
      signal.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }
    signal.addEventListener('abort', aborted, { once: true });
  });
  const headers = await requestHeaders(ep, call.auth, session);
  delete headers['content-type'];
  headers.accept = 'text/event-stream';
  headers['last-event-id'] = position.lastEventId!;
  const res = await send(ep.dispatcher, { origin: ep.url.origin, path: ep.url.pathname + ep.url.search, method: 'GET', headers, headersTimeout: 0, bodyTimeout: 0 }, signal);
  if (res.status !== 200 || !res.contentType.includes('text/event-stream')) {
    await res.dump();
    throw new RelayFailure(`answered HTTP ${res.status}`, new Error(`resuming the event stream: HTTP ${res.status}`));
  }
  return read(res);
}

function parseMessage(text: string): RelayMessage | undefined {
  try {
    const m: unknown = JSON.parse(text);
    return m && typeof m === 'object' && !Array.isArray(m) && (m as RelayMessage).jsonrpc === '2.0' ? (m as RelayMessage) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads an SSE response (https://html.spec.whatwg.org/multipage/server-sent-events.html) event by event until the
 * answer to `id` arrives; everything before it goes to `sink` (a promise from it holds the upstream's connection
 * until it settles: the client reads slowly). Events without data (a priming event) and event types other than
 * `message` are skipped.
 *
 * The answer resolves the promise at once; the rest of the stream (its end, which a server sends right after the
 * answer) is still read, so the connection goes back to the pool rather than being destroyed, unless the upstream
 * keeps the stream open for longer than `LINGER_MS`.
 */
function readEvents(res: UpstreamResponse, id: string, sink: RelaySink, progressed: () => void, position: StreamPosition): Promise<RelayMessage | undefined> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let linger: NodeJS.Timeout | undefined;
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    /** A chunk that ends in CR may be half of a CRLF: it waits for the next one. */
    let cr = '';
    /** The complete events in `buffer`, in order, until the answer or a message the client must take first. */
    const events = (): void | Promise<void> => {
      let end: number;
      while (!answered && (end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseEvent(block);
        if (event.id !== undefined) position.lastEventId = event.id;
        if (event.retry !== undefined) position.retryMs = event.retry;
        const data = event.data;
        if (!data) continue; // no data: a priming event (2025-11-25), a comment, another event type
        const m = parseMessage(data);
        if (!m) throw new RelayFailure('protocol error', new Error('the upstream sent an event that is not JSON-RPC'));
        progressed();
        if (m.id === id && m.method === undefined) {
          answered = true;
          linger = setTimeout(() => res.destroy(), LINGER_MS).unref();
          resolve(m);
        } else if (m.method !== undefined) {
          const waiting = sink.message(m);
          if (waiting) return waiting.then(events);
        }
        // Anything else (a response to an id that is not ours) belongs to no one here and is dropped.
      }
    };
    res
      .read((bytes) => {
        if (answered) return;
        let chunk = cr + decoder.write(bytes);
        cr = chunk.endsWith('\r') ? '\r' : '';
        if (cr) chunk = chunk.slice(0, -1);
        buffer += chunk.includes('\r') ? chunk.replace(/\r\n?/g, '\n') : chunk;
        return events();
      })
      .then(
        () => {
          clearTimeout(linger);
          if (!answered) resolve(undefined);
        },
        (err: unknown) => {
          clearTimeout(linger);
          if (!answered) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
  });
}

/** One event block's fields: its data (undefined without data or for a type other than `message`), id and retry. */
export function parseEvent(block: string): { data: string | undefined; id: string | undefined; retry: number | undefined } {
  let data: string | undefined;
  let type = 'message';
  let id: string | undefined;
  let retry: number | undefined;
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue; // a comment
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') type = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  return { data: type === 'message' ? data : undefined, id, retry };
}
