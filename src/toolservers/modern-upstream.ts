/**
 * How the relay (`upstream-relay.ts`) speaks to a tool server of protocol 2026-07-28: no `initialize`, no upstream
 * session, no standalone stream. Every request carries the envelope in `params._meta` (protocol version, our
 * `clientInfo`, the client capabilities the gateway forwards, the session's log level) and the headers derived from
 * the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`; basic/transports/streamable-http §Request Metadata).
 *
 * What the upstream needs from the client during a request arrives as an `input_required` result
 * (basic/patterns/mrtr): each input request is handed to the relay's sink as an ordinary server→client request
 * with an id of ours (`<call id>:<key>`), so both kinds of client are asked as they are today (a legacy client on
 * the call's event stream, a modern client as its own `input_required`). Their answers come back through
 * `sendToUpstream`, which for a modern upstream resolves the waiting ask here instead of POSTing, and the relay
 * retries the call with `inputResponses` and the upstream's `requestState`. Cancellation is closing the request
 * (basic/patterns/cancellation §Transport-Specific Cancellation): nothing else is sent.
 */
import { META, MODERN_PROTOCOL_VERSION } from '../mcp/protocol-era.js';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { RelayMessage } from './upstream-relay.js';
import type { ParamHeader } from './param-headers.js';

/** A modern upstream as seen by one session: the envelope of its requests, and its asks waiting for our client. */
export interface ModernLink {
  /** The `_meta` envelope keys for the next request (read per request: the session's log level may change). */
  envelope(): Record<string, unknown>;
  /** Answers of our client to the upstream's input requests, by the id the relay gave them. */
  readonly waiting: Map<string, (reply: RelayMessage) => void>;
  /** The upstream answered a modern request like a legacy server: its era is probed again next time. */
  mismatch(): void;
  /** The `Mcp-Param-*` headers the upstream's tool `tool` asks for (its listing's `x-mcp-header` annotations). */
  paramHeaders(tool: string, auth: AuthInfo | undefined): Promise<readonly ParamHeader[] | undefined>;
  /** The upstream refused a call's `Mcp-Param-*` headers (-32020): its listing is stale; the next one asks it. */
  toolsStale(): void;
}

/** Methods whose `Mcp-Name` header names `params.name` or `params.uri`. */
const NAMED: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** Input rounds one request may take before the relay gives up on it (an upstream asking forever). */
export const MAX_INPUT_ROUNDS = 10;

/**
 * A header value as the spec wants it (§Value Encoding): plain when it is visible ASCII without surrounding
 * whitespace, else base64 of its UTF-8 between the `=?base64?` and `?=` markers (also for a value that looks
 * like the markers).
 */
export function headerValue(v: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(v) && !(v.startsWith('=?base64?') && v.endsWith('?='));
  return plain ? v : `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

/** The 2026-07-28 headers of one request to a modern upstream (the protocol version header is the relay's). */
export function modernHeaders(method: string, params: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = { 'mcp-method': method };
  const field = NAMED[method];
  const name = field ? params[field] : undefined;
  if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
  return headers;
}

/** `params` with the envelope in `_meta`, beside the client's own keys (progress token, `openai/*`, trace context). */
export function withEnvelope(params: Record<string, unknown>, link: ModernLink): Record<string, unknown> {
  const meta = params._meta as Record<string, unknown> | undefined;
  return { ...params, _meta: { ...meta, ...link.envelope() } };
}

export interface InputRequired {
  inputRequests: Record<string, { method: string; params?: Record<string, unknown> }>;
  requestState: string | undefined;
}

/**
 * The `input_required` in an upstream's answer, if it is one; undefined for a final answer. A malformed one (input
 * requests that are not requests, a state that is not a string) is the upstream's fault: `'malformed'`.
 */
export function inputRequiredOf(answer: RelayMessage): InputRequired | 'malformed' | undefined {
  const r = answer.result as { resultType?: unknown; inputRequests?: unknown; requestState?: unknown } | undefined;
  if (!r || typeof r !== 'object' || r.resultType !== 'input_required') return undefined;
  const { inputRequests = {}, requestState } = r;
  if (!inputRequests || typeof inputRequests !== 'object' || Array.isArray(inputRequests)) return 'malformed';
  if (requestState !== undefined && typeof requestState !== 'string') return 'malformed';
  for (const req of Object.values(inputRequests as Record<string, unknown>)) {
    const q = req as { method?: unknown; params?: unknown } | null;
    if (!q || typeof q !== 'object' || typeof q.method !== 'string' || (q.params !== undefined && (typeof q.params !== 'object' || q.params === null))) return 'malformed';
  }
  return { inputRequests: inputRequests as InputRequired['inputRequests'], requestState };
}

/** A final answer as a client of either era expects it: `resultType` is the modern exchange's to set, or no one's. */
export function completed(answer: RelayMessage): RelayMessage {
  const r = answer.result as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object' || !('resultType' in r)) return answer;
  const { resultType: _t, ...rest } = r;
  return { ...answer, result: rest };
}

/** The retry's parameters: the original ones with this round's answers and state (replacing the previous round's). */
export function retryParams(params: Record<string, unknown>, responses: Record<string, unknown>, requestState: string | undefined): Record<string, unknown> {
  const { inputResponses: _r, requestState: _s, ...rest } = params;
  return { ...rest, inputResponses: responses, ...(requestState !== undefined ? { requestState } : {}) };
}

/**
 * Puts each input request to the client through `ask` (the relay's sink) under an id of ours and waits for every
 * answer (they come back through `sendToUpstream`, into `link.waiting`). Answers that are errors are left out
 * (mrtr §Error Handling: the upstream asks again or decides). Rejects when `signal` aborts.
 */
export async function askClient(
  link: ModernLink,
  callId: string,
  inputs: InputRequired['inputRequests'],
  ask: (m: RelayMessage) => void | Promise<void>,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const keys = Object.keys(inputs);
  const idOf = (key: string) => `${callId}:${key}`;
  const answers = keys.map((key) => new Promise<[string, RelayMessage]>((resolve) => link.waiting.set(idOf(key), (reply) => resolve([key, reply]))));
  let onAbort: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    for (const key of keys) {
      const { method, params } = inputs[key]!;
      const waiting = ask({ jsonrpc: '2.0', id: idOf(key), method, ...(params !== undefined ? { params } : {}) });
      if (waiting) await Promise.race([waiting, aborted]);
    }
    const replies = await Promise.race([Promise.all(answers), aborted]);
    return Object.fromEntries(replies.filter(([, r]) => r.result !== undefined && r.error === undefined).map(([k, r]) => [k, r.result]));
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    for (const key of keys) link.waiting.delete(idOf(key));
  }
}

/** The envelope a session sends a modern upstream: what the client can answer, and the log level it asked for. */
export function envelopeFor(capabilities: Record<string, unknown>, logLevel: string | undefined, clientInfo: { name: string; version: string }): Record<string, unknown> {
  return {
    [META.protocolVersion]: MODERN_PROTOCOL_VERSION,
    [META.clientInfo]: clientInfo,
    [META.clientCapabilities]: capabilities,
    ...(logLevel !== undefined ? { [META.logLevel]: logLevel } : {}),
  };
}
