/**
 * The stateless front end for 2026-07-28 clients (docs/interface.md §3), behind the same pipeline as the legacy
 * endpoint (team, bearer token, membership, rate limits). `mcp-endpoint.ts` sends a POST here when `protocol-era.ts`
 * says it is not legacy. A request is a pipeline of named steps:
 *
 *   refuse what the classifier refused → supported version (-32022) → standard headers (-32020) → notifications are
 *   accepted and dropped → `server/discover` (and `ping`) answered without any session → known method (404 -32601)
 *   → request params → chat and envelope storable → the session for (team, user, client, chat) → its log level →
 *   the method, answered on the request's own exchange (or, for `subscriptions/listen`, a stream of the session's
 *   change notifications, `modern-listen.ts`). A retry carrying `requestState` resumes the flight that answered
 *   `input_required` instead (`modern-flight.ts`), without any new work — on the replica holding it, to which a
 *   retry reaching another replica is forwarded (`modern-forward.ts`; the state is signed, `request-state.ts`).
 *
 * No `Mcp-Session-Id` is read or sent: a modern request belongs to the session keyed by (team, user, OAuth client,
 * chat), chat being `_meta["openai/session"]` or the chat header (`SessionRuntime.forModern`). One conversation is one
 * session row with `protocolVersion` 2026-07-28; the row is listed and audited like any other session.
 */
import type { Request, Response } from 'express';
import { SUPPORTED_PROTOCOL_VERSIONS, type ClientCapabilities, type LoggingLevel } from '@modelcontextprotocol/server';
import type { Config } from '../config/config.js';
import type { Principal, SessionRuntime } from './session-runtime.js';
import type { LiveSession } from './live-session.js';
import { MODERN_ERROR, MODERN_PROTOCOL_VERSION, META, envelopeOf, type EraOutcome, type Envelope, type ModernMessage } from './protocol-era.js';
import { checkStandardHeaders } from './modern-headers.js';
import { paramHeaderMismatch } from '../toolservers/param-headers.js';
import { ModernExchange, sendRpcError } from './modern-exchange.js';
import { CACHE_HINTS, MODERN_METHODS, runModern } from './modern-methods.js';
import { SERVER_INFO, sessionCapabilities } from './session-server.js';
import { unstorableTextAt } from './request-shape.js';
import { chatFrom } from './chat-id.js';
import { Flight } from './modern-flight.js';
import { MAX_LISTENERS_PER_SESSION, parseListenFilter, serveListen, type ListenFilter } from './modern-listen.js';
import { noteRequest } from '../observability/request-context.js';
import type { ClusterBus } from '../cluster/bus.js';
import type { Logger } from '../observability/logger.js';
import type { RequestStates } from './request-state.js';
import { createModernForwarding, HOLDER_GONE, UNKNOWN_STATE } from './modern-forward.js';

/** Every version the endpoint serves, newest first: this era's, then the legacy ones `initialize` negotiates. */
export const SERVED_VERSIONS: readonly string[] = [MODERN_PROTOCOL_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS];

/** The envelope's own keys: never passed on to tool servers. */
const ENVELOPE_KEYS = new Set<string>([META.protocolVersion, META.clientInfo, META.clientCapabilities, META.logLevel]);

export interface ModernFrontDeps {
  config: Config;
  sessions: SessionRuntime;
  bus: ClusterBus;
  /** Signs and checks `requestState` (every replica has the same key). */
  states: RequestStates;
  logger: Logger;
}

type Modern = Extract<EraOutcome, { kind: 'modern' }>;

const idOf = (body: unknown): string | number | null => {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
};

/** The methods that may answer `input_required` (mrtr §Supported Requests), and what a retry of one must repeat. */
const MAY_ASK: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
const targetOf = (m: ModernMessage) => `${m.method} ${String(m.params?.[MAY_ASK[m.method] ?? 'name'])}`;
/** Flights parked at once on this process, at most (the oldest is given up beyond). */
const MAX_PARKED = 10_000;

/** The capabilities a team's sessions offer a modern client; list changes and resource updates via `subscriptions/listen`. */
export function modernCapabilities(hasRemote: boolean) {
  const c = sessionCapabilities({ hasRemote });
  return {
    tools: { listChanged: true },
    ...(c.prompts ? { prompts: { listChanged: true } } : {}),
    ...(c.resources ? { resources: { subscribe: true, listChanged: true } } : {}),
    ...(c.completions ? { completions: {} } : {}),
    logging: {},
  };
}

/** For the listing a call's `Mcp-Param-*` headers are checked against: it is the session's, not the request's. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * Why a `tools/call`'s `Mcp-Param-*` headers disagree with its arguments, for the tool as the session lists it
 * (`x-mcp-header` annotations, `param-headers.ts`); undefined when they agree or the tool asks for none.
 */
async function paramHeadersRefusal(s: LiveSession, params: Record<string, unknown>, p: Principal, req: Request): Promise<string | undefined> {
  if (typeof params.name !== 'string') return undefined;
  const wanted = await s.front.hooks.aggregator.paramHeaders(params.name, { authInfo: p.authInfo, signal: NEVER_ABORTED });
  return wanted && paramHeaderMismatch(wanted, params.arguments, (h) => req.get(h));
}

export function createModernFront(deps: ModernFrontDeps) {
  const { config, sessions, bus, states } = deps;
  /** Flights waiting for the client's retry, by the `requestState` it was given (`modern-flight.ts`). */
  const parked = new Map<string, Flight>();
  const forwarding = createModernForwarding({ bus, logger: deps.logger, parked: (token) => parked.get(token) });
  const parking = {
    tokenFor: (f: Flight) => states.issue(bus.replica, f.owner, f.target),
    park(f: Flight) {
      if (parked.size >= MAX_PARKED) parked.values().next().value?.giveUp('Too many requests are waiting for input');
      parked.set(f.token!, f);
    },
    unpark(f: Flight) {
      if (f.token !== undefined && parked.get(f.token) === f) parked.delete(f.token);
    },
  };

  /**
   * A retry carrying `requestState`: the parked flight it resumes, if it is this caller's and this request's — here,
   * or on the replica the state names (forwarded there).
   */
  async function resume(req: Request, res: Response, m: ModernMessage, envelope: Envelope, p: Principal): Promise<void> {
    const state = m.params?.requestState;
    const responses = m.params?.inputResponses ?? {};
    const owner = { teamId: p.team.id, userId: p.user.id, clientId: p.clientId };
    const holder = typeof state === 'string' ? states.verify(state, owner, targetOf(m)) : undefined;
    const exchange = new ModernExchange(res, m.id!, { acceptsStream: (req.headers.accept ?? '').includes('text/event-stream'), logLevel: envelope[META.logLevel] });
    if (!holder) return exchange.error(UNKNOWN_STATE);
    if (responses === null || typeof responses !== 'object' || Array.isArray(responses)) {
      return exchange.error({ code: MODERN_ERROR.INVALID_PARAMS, message: 'Invalid params: inputResponses must be an object' });
    }
    const capabilities = envelope[META.clientCapabilities] as ClientCapabilities;
    if (holder.replica !== bus.replica) {
      if (!bus.alive(holder.replica)) return exchange.error(HOLDER_GONE);
      return forwarding.forward(exchange, holder.replica, state as string, responses as Record<string, unknown>, capabilities);
    }
    const flight = parked.get(state as string);
    const o = flight?.owner;
    if (!flight || o!.teamId !== owner.teamId || o!.userId !== owner.userId || o!.clientId !== owner.clientId || flight.target !== targetOf(m)) {
      return exchange.error(UNKNOWN_STATE);
    }
    flight.resume(exchange, capabilities, responses as Record<string, unknown>);
  }

  function discover(res: Response, m: ModernMessage, hasRemote: boolean) {
    const result = {
      resultType: 'complete',
      supportedVersions: SERVED_VERSIONS,
      capabilities: modernCapabilities(hasRemote),
      _meta: { [META.serverInfo]: SERVER_INFO },
      ...CACHE_HINTS,
    };
    const body = JSON.stringify({ jsonrpc: '2.0', id: m.id, result });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  /** Serves `m` in `s`; false when `s` was evicted before it could be marked busy (look it up again). */
  async function inSession(s: LiveSession, req: Request, res: Response, m: ModernMessage, envelope: Envelope, p: Principal): Promise<boolean> {
    return s.busy('request', async () => {
      if (s.isClosed) return false;
      const level = envelope[META.logLevel];
      if (level !== undefined && s.record.logLevel !== level) {
        // Tool servers emit at the level last asked for; the exchange filters per request.
        await s.front.hooks.onSetLevel(level as LoggingLevel);
        await s.front.hooks.aggregator.setLogLevel(level as LoggingLevel);
      }
      const { _meta, ...params } = m.params ?? {};
      if (m.method === 'tools/call') {
        const wrong = await paramHeadersRefusal(s, params, p, req);
        if (wrong !== undefined) {
          sendRpcError(res, 400, m.id!, { code: MODERN_ERROR.HEADER_MISMATCH, message: `Bad Request: the request headers and body disagree: ${wrong}` });
          return true;
        }
      }
      const meta = Object.fromEntries(Object.entries((_meta as Record<string, unknown> | undefined) ?? {}).filter(([k]) => !ENVELOPE_KEYS.has(k)));
      const exchange = new ModernExchange(res, m.id!, { acceptsStream: (req.headers.accept ?? '').includes('text/event-stream'), logLevel: level });
      const flight = new Flight({ teamId: p.team.id, userId: p.user.id, clientId: p.clientId }, targetOf(m), { mayAsk: Object.hasOwn(MAY_ASK, m.method), ...parking });
      flight.attach(exchange, envelope[META.clientCapabilities] as ClientCapabilities);
      // Awaited to the end, input rounds included: the session stays in memory while its tool server's call waits.
      await runModern(MODERN_METHODS[m.method]!, { session: s, params: params as Record<string, unknown>, flight, auth: p.authInfo, meta }, s.front.hooks.logger);
      return true;
    });
  }

  /** A `subscriptions/listen` stream in `s` (held open: the session stays in memory meanwhile). */
  async function listenIn(s: LiveSession, res: Response, m: ModernMessage, filter: ListenFilter, hasRemote: boolean, p: Principal): Promise<boolean> {
    return s.busy('stream', async () => {
      if (s.isClosed) return false;
      if (s.stream.listenerCount >= MAX_LISTENERS_PER_SESSION) {
        new ModernExchange(res, m.id!, { acceptsStream: false, logLevel: undefined }).error({ code: MODERN_ERROR.INTERNAL_ERROR, message: 'Subscription limit reached' });
        return true;
      }
      const { aggregator, logger } = s.front.hooks;
      await serveListen({ id: s.id, stream: s.stream, aggregator, logger }, res, m.id!, filter, { hasRemote, auth: p.authInfo });
      return true;
    });
  }

  /** Answers one modern POST (see the top of this file). `outcome` is the classifier's, never `legacy`. */
  return async function serveModern(req: Request, res: Response, outcome: Exclude<EraOutcome, { kind: 'legacy' }>, p: Principal): Promise<void> {
    if (outcome.kind === 'reject') {
      return sendRpcError(res, outcome.status, idOf(req.body), { code: outcome.code, message: outcome.message, ...(outcome.data !== undefined ? { data: outcome.data } : {}) });
    }
    const { message: m } = outcome as Modern;
    const id = m.id ?? null;
    if (outcome.version !== MODERN_PROTOCOL_VERSION) {
      return sendRpcError(res, 400, id, {
        code: MODERN_ERROR.UNSUPPORTED_VERSION,
        message: `Unsupported protocol version ${outcome.version}`,
        data: { supported: SERVED_VERSIONS, requested: outcome.version },
      });
    }
    if (!outcome.isRequest) {
      // 2026-07-28 defines no client notifications over HTTP (closing a response is its cancellation).
      res.writeHead(202).end();
      return;
    }
    const refused = checkStandardHeaders({ protocolVersion: req.get('mcp-protocol-version'), method: req.get('mcp-method'), name: req.get('mcp-name') }, m);
    if (refused) return sendRpcError(res, refused.status, id, { code: refused.code, message: refused.message });

    if (m.method === 'ping') return new ModernExchange(res, m.id!, { acceptsStream: false, logLevel: undefined }).result({});
    const hasRemote = await sessions.teamHasRemote(p.team.id);
    if (m.method === 'server/discover') return discover(res, m, hasRemote);
    const listen = m.method === 'subscriptions/listen';
    const method = Object.hasOwn(MODERN_METHODS, m.method) ? MODERN_METHODS[m.method]! : undefined;
    if (!listen && (!method || (method.remoteOnly && !hasRemote))) {
      return sendRpcError(res, 404, id, { code: MODERN_ERROR.METHOD_NOT_FOUND, message: `Method not found: ${m.method}` });
    }
    if (m.params?.requestState !== undefined && Object.hasOwn(MAY_ASK, m.method)) return resume(req, res, m, envelopeOf(m)!, p);
    const filter = listen ? parseListenFilter(m.params) : undefined;
    if (listen && !filter) {
      return new ModernExchange(res, m.id!, { acceptsStream: false, logLevel: undefined }).error({ code: MODERN_ERROR.INVALID_PARAMS, message: "Invalid params: 'notifications' is required and must be a subscription filter" });
    }
    if (method?.schema) {
      const parsed = method.schema.safeParse(m);
      if (!parsed.success) {
        const issue = (parsed.error as { issues?: { path: PropertyKey[]; message: string }[] } | undefined)?.issues?.[0];
        const where = issue ? `${issue.path.map(String).join('.') || 'request'}: ${issue.message}` : 'malformed';
        return new ModernExchange(res, m.id!, { acceptsStream: false, logLevel: undefined }).error({ code: MODERN_ERROR.INVALID_PARAMS, message: `Invalid ${m.method} request: ${where}` });
      }
    }

    const chat = chatFrom(req, config.chatIdHeader, m);
    if (chat === 'invalid') {
      return sendRpcError(res, 400, id, { code: MODERN_ERROR.INVALID_PARAMS, message: `${config.chatIdHeader} (or _meta["openai/session"]) must be 1–200 visible ASCII characters` });
    }
    const envelope = envelopeOf(m)!;
    const clientInfo = envelope[META.clientInfo];
    // What tool servers are told the client can do (they may then ask it: `modern-flight.ts`).
    const capabilities = envelope[META.clientCapabilities] as ClientCapabilities;
    const bad = unstorableTextAt({ clientInfo, capabilities }, 'params._meta');
    if (bad) {
      return sendRpcError(res, 400, id, { code: MODERN_ERROR.INVALID_PARAMS, message: `Invalid params: ${bad} cannot be stored (a NUL character, an unpaired surrogate or a key named __proto__)` });
    }
    const hello = { protocolVersion: MODERN_PROTOCOL_VERSION, clientInfo: clientInfo ? { name: clientInfo.name, version: clientInfo.version } : undefined, capabilities };
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await sessions.forModern(p, chat, hello);
      noteRequest({ sessionId: s.id });
      if (await (filter ? listenIn(s, res, m, filter, hasRemote, p) : inSession(s, req, res, m, envelope, p))) return;
    }
    sendRpcError(res, 503, id, { code: MODERN_ERROR.INTERNAL_ERROR, message: 'The session was being closed; try again' });
  };
}
