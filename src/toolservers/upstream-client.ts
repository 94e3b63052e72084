/**
 * One SDK `Client` per (session, remote tool server), over Streamable HTTP: created on first use, reused, closed
 * with the session. Its upstream session id is stored with the gateway session so a rebuilt session resumes it
 * (the SDK skips `initialize` when the transport starts with a session id; the stored initialize result stands in
 * for it, kept in our own record (`UpstreamServer`), never written into the SDK client). An upstream that forgot the
 * session (404) gets a fresh `initialize`, transparently, and the request is sent again. SDK v2's `Client`, in its
 * default legacy negotiation mode: these upstreams speak the 2025 protocol (`dual-era-upstream.ts` picks the era).
 *
 * Forwarding: a request the gateway sends upstream runs inside a request-context scope (`request-context.ts`) naming
 * the downstream request it serves. The SDK reads the upstream's response stream within that async context, so whatever arrives
 * on that stream — log messages, nested sampling/elicitation/roots requests — is handed to the same downstream
 * request, and so reaches the client on the right stream with ids the SDKs map on each side. Messages on the
 * upstream's standalone stream have no scope and go to the session's own stream.
 */
import {
  Client,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type AuthInfo,
  type ClientCapabilities,
  type ClientContext,
  type FetchLike,
  type Implementation,
  type LoggingLevel,
  type Result,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/client';
import { McpError } from '../mcp/mcp-error.js';
import type { Logger } from '../observability/logger.js';
import type { UpstreamCredentials } from './upstream-credentials.js';
import type { UpstreamSessionStore } from './upstream-sessions.js';
import { heldBack } from './upstream-flow.js';
import { currentResponseFlow, outsideAnyRequest, runForUpstream, upstreamScopeOf } from '../observability/request-context.js';
import { tracingOn, traceUpstreamFetch } from '../observability/tracing.js';
import type { Downstream, SessionDownstream } from './types.js';
import type { RelayEndpoint } from './upstream-relay.js';
import type { Dispatcher } from 'undici';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/core';
import { sseEvents } from './sse-events.js';

export const UPSTREAM_CLIENT_INFO: Implementation = { name: 'switchboard', version: '0.1.0' };

export interface UpstreamTimeouts {
  /** Budget for `initialize`. */
  connectMs: number;
  /** Budget for one request without progress (progress notifications restart it)… */
  callMs: number;
  /** …and in total, progress or not. */
  maxCallMs: number;
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = { connectMs: 10_000, callMs: 60_000, maxCallMs: 10 * 60_000 };

export interface UpstreamClientOptions {
  name: string;
  url: string;
  credentials: UpstreamCredentials;
  sessions: UpstreamSessionStore;
  downstream: SessionDownstream;
  logger: Logger;
  timeouts: UpstreamTimeouts;
  /** Called with every notification from the upstream that is not request-scoped (list changes, updates). */
  onNotification?: (n: ServerNotification) => void;
  /** The upstream network's fetch for this tool server (its addresses checked at connect time, `upstream-network.ts`). */
  fetch: FetchLike;
  /** The same network's connection pool, for requests the relay forwards (`upstream-relay.ts`); none: no relay. */
  dispatcher?: Dispatcher;
  /**
   * This client initialized a new upstream session while the session's client does not listen here: a replica where
   * it does listen may want to open that session's standalone stream (`listen`).
   */
  onOpenedUnheard?: () => void;
}

/** The downstream request an upstream request serves. */
export interface RequestScope {
  auth: AuthInfo | undefined;
  downstream: Downstream | undefined;
}

/** What the upstream said in its `initialize` result: our own record, whether this connection initialized or resumed. */
export interface UpstreamServer {
  capabilities: ServerCapabilities;
  serverInfo?: Implementation;
  instructions?: string;
}

interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
  server: UpstreamServer;
  /** Ends the upstream session's standalone stream, while it is open (`listen`). */
  standalone?: AbortController | undefined;
}

/** What the SDK client threw, as the gateway passes it on (errors read as on SDK v1: `mcp/mcp-error.ts`). */
function asV1(err: unknown): never {
  throw McpError.fromUpstream(err);
}

/** The upstream answered 404 for our session id: it expired or the upstream restarted. */
function isSessionGone(err: unknown): boolean {
  return err instanceof SdkHttpError && err.status === 404;
}

/** Only what the client itself can do is offered upstream, so an upstream asks only for what can be answered. */
export function forwardedCapabilities(c: ClientCapabilities | undefined): ClientCapabilities {
  return {
    ...(c?.sampling ? { sampling: c.sampling } : {}),
    ...(c?.elicitation ? { elicitation: c.elicitation } : {}),
    ...(c?.roots ? { roots: c.roots } : {}),
  };
}

export class UpstreamClient {
  private current: Promise<Connected> | undefined;
  /** After a 404 the stored session id is stale: the next connection initializes. */
  private resumeStored = true;
  private closed = false;
  /** The credentials of the latest client request: used for what is sent outside one (initialize, streams). */
  private lastAuth: AuthInfo | undefined;
  /** The session's client listens on this replica: the upstream session's standalone stream is kept open. */
  private listening = false;

  /** How the relay reaches this client's upstream session; undefined without a connection pool. */
  readonly relay: RelayEndpoint | undefined;

  constructor(private readonly opts: UpstreamClientOptions) {
    this.relay = opts.dispatcher ? this.relayEndpoint(opts.dispatcher) : undefined;
  }

  /**
   * The relay forwards on the session this client opened (lazily, with `initialize`, as for any other request):
   * the SDK client keeps the session's setup and its standalone stream; calls no longer go through it.
   */
  private relayEndpoint(dispatcher: Dispatcher): RelayEndpoint {
    return {
      name: this.opts.name,
      url: new URL(this.opts.url),
      dispatcher,
      timeouts: this.opts.timeouts,
      session: async (auth) => {
        if (auth) this.lastAuth = auth;
        const { transport } = await this.connection();
        return { id: transport.sessionId, protocolVersion: transport.protocolVersion };
      },
      sessionGone: async (id) => {
        const current = this.current;
        const conn = await current?.catch(() => undefined);
        if (conn && conn.transport.sessionId === id && this.current === current) await this.reset('upstream session expired (404)');
      },
      headers: (auth) => this.opts.credentials.headers(auth ?? this.lastAuth),
    };
  }

  /** The downstream request this async context serves, if it is one of this client's. */
  private scope(): RequestScope | undefined {
    return upstreamScopeOf(this);
  }

  /**
   * Runs `fn` against the upstream on behalf of a downstream request; a lost upstream session is re-initialized
   * once and `fn` runs again (the upstream never saw the first attempt: it answered 404 without handling it).
   */
  async run<T>(scope: RequestScope, fn: (client: Client, server: UpstreamServer) => Promise<T>): Promise<T> {
    if (scope.auth) this.lastAuth = scope.auth;
    const connecting = this.connection();
    const { client, server } = await connecting.catch(asV1);
    try {
      return await runForUpstream(this, scope, () => fn(client, server));
    } catch (err) {
      if (!isSessionGone(err)) asV1(err);
      if (this.current === connecting) await this.reset('upstream session expired (404)');
    }
    const fresh = await this.connection().catch(asV1);
    return runForUpstream(this, scope, () => fn(fresh.client, fresh.server)).catch(asV1);
  }

  /**
   * Whether the session's client listens on this replica (a GET stream, a `subscriptions/listen` stream). The
   * upstream session's standalone stream — list changes, resource updates, the upstream's own requests — is open
   * only then: what comes on it is for a listening client (a notification for none is dropped anyway), so the
   * sessions of clients that never listen (ChatGPT's connector) hold no upstream connection between requests.
   * `listen(true)` while listening looks again for an upstream session another replica opened meanwhile (stored
   * with the gateway session): its stream is opened here, where the client listens.
   */
  listen(on: boolean): void {
    const was = this.listening;
    this.listening = on;
    if (this.closed) return;
    if (!on) {
      if (was) void this.current?.then((c) => this.unstream(c)).catch(() => undefined);
      return;
    }
    void this.streamStored(was).catch((err: unknown) => this.opts.logger.debug({ err, toolServer: this.opts.name }, 'could not open the upstream standalone stream'));
  }

  /** Opens the standalone stream of the upstream session held here or stored (`recheck`: the store may have a newer one). */
  private async streamStored(recheck: boolean): Promise<void> {
    const held = this.current ? await this.current.catch(() => undefined) : undefined;
    if (held && !recheck) return this.stream(held);
    const stored = this.resumeStored || recheck ? await this.opts.sessions.load(this.opts.name, { reread: recheck }) : undefined;
    if (held && (!stored || held.transport.sessionId === stored.id)) return this.stream(held);
    if (!stored || !this.listening || this.closed) return;
    if (held) await this.reset('another replica opened a newer upstream session', 'debug');
    this.resumeStored = true;
    this.stream(await this.connection());
  }

  /** Opens `conn`'s standalone stream if the client listens here and it is not open yet. */
  private stream(conn: Connected): void {
    if (!this.listening || this.closed || conn.standalone || this.current === undefined) return;
    conn.standalone = new AbortController();
    const { opts } = this;
    void standaloneStream({ url: opts.url, fetch: this.authorizedFetch(), transport: conn.transport, signal: conn.standalone.signal, logger: opts.logger, name: opts.name });
  }

  private unstream(conn: Connected): void {
    conn.standalone?.abort();
    conn.standalone = undefined;
  }

  /** True once this gateway session has an upstream session here: connected now, or stored to be resumed. */
  async hasUpstreamSession(): Promise<boolean> {
    if (this.current) return true;
    return this.resumeStored && (await this.opts.sessions.load(this.opts.name)) !== undefined;
  }

  /** Releases the connection; `end` also closes the upstream session (DELETE), as the gateway session ended. */
  async close(opts: { end?: boolean } = {}): Promise<void> {
    this.closed = true;
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    const conn = await c.catch(() => undefined);
    if (!conn) return;
    if (opts.end && conn.transport.sessionId) {
      await Promise.race([conn.transport.terminateSession().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
      await this.opts.sessions.forget(this.opts.name);
    }
    conn.standalone?.abort();
    await conn.client.close().catch(() => undefined);
  }

  private connection(): Promise<Connected> {
    if (this.closed) return Promise.reject(new Error(`tool server ${this.opts.name}: session closed`));
    if (!this.current) {
      // Outside any request scope: the connection's standalone stream belongs to the session, not to a request.
      // Nor to the request's response flow: it outlives the request (`upstream-flow.ts`).
      const p = outsideAnyRequest(() => this.open());
      this.current = p;
      p.catch(() => {
        if (this.current === p) this.current = undefined;
      });
    }
    return this.current;
  }

  private async reset(why: string, level: 'info' | 'debug' = 'info'): Promise<void> {
    this.opts.logger[level]({ toolServer: this.opts.name }, `${why}; re-initializing`);
    const old = this.current;
    this.current = undefined;
    this.resumeStored = false;
    await old
      ?.then((c) => {
        c.standalone?.abort();
        return c.client.close();
      })
      .catch(() => undefined);
  }

  private async open(): Promise<Connected> {
    const { opts } = this;
    const stored = this.resumeStored ? await opts.sessions.load(opts.name) : undefined;
    const capabilities = forwardedCapabilities(opts.downstream.clientCapabilities());
    // Legacy mode (v2's default, said here): no `server/discover` probe, the 2025 `initialize` as a v1 client sent it;
    // whether this upstream is of that era was decided before (`upstream-era.ts`).
    const client = new Client(UPSTREAM_CLIENT_INFO, { capabilities, versionNegotiation: { mode: 'legacy' } });
    this.wire(client, capabilities);
    const transport = new StreamableHTTPClientTransport(new URL(opts.url), {
      fetch: withoutStandalone(this.authorizedFetch()),
      ...(stored ? { sessionId: stored.id } : {}),
    });
    if (stored) {
      if (stored.protocolVersion) transport.setProtocolVersion(stored.protocolVersion);
      await client.connect(transport);
      opts.logger.debug({ toolServer: opts.name, upstreamSession: stored.id }, 'resumed upstream session');
      return this.opened({ client, transport, server: storedServer(stored) });
    }
    await client.connect(transport, { timeout: opts.timeouts.connectMs });
    const serverInfo = client.getServerVersion();
    const instructions = client.getInstructions();
    const server: UpstreamServer = { capabilities: client.getServerCapabilities() ?? {}, ...(serverInfo ? { serverInfo } : {}), ...(instructions ? { instructions } : {}) };
    if (transport.sessionId) {
      await opts.sessions.save(opts.name, {
        id: transport.sessionId,
        ...(transport.protocolVersion ? { protocolVersion: transport.protocolVersion } : {}),
        capabilities: server.capabilities as Record<string, unknown>,
        ...(server.serverInfo ? { serverInfo: server.serverInfo } : {}),
        ...(server.instructions ? { instructions: server.instructions } : {}),
      });
    }
    const level = opts.downstream.logLevel();
    if (level && server.capabilities.logging) {
      await client.setLoggingLevel(level).catch((err: unknown) => opts.logger.debug({ err, toolServer: opts.name }, 'upstream refused logging/setLevel'));
    }
    if (!this.listening && transport.sessionId) opts.onOpenedUnheard?.();
    return this.opened({ client, transport, server });
  }

  /** A connection made: its standalone stream is opened at once if the client listens here (`listen`). */
  private opened(conn: Connected): Connected {
    this.stream(conn);
    return conn;
  }

  /** Passes the client's log level on to a connected upstream. */
  async setLogLevel(level: LoggingLevel): Promise<void> {
    if (!this.current) return;
    const { client, server } = await this.current;
    if (server.capabilities.logging) await client.setLoggingLevel(level);
  }

  async rootsChanged(): Promise<void> {
    if (!this.current) return;
    const { client } = await this.current;
    await client.sendRootsListChanged();
  }

  /** The client's headers, from scratch, with this request's credentials. */
  private authorizedFetch(): FetchLike {
    const base = this.opts.fetch;
    return async (url, init) => {
      const headers = new Headers(init?.headers);
      headers.delete('authorization');
      for (const [k, v] of Object.entries(await this.opts.credentials.headers(this.scope()?.auth ?? this.lastAuth))) headers.set(k, v);
      // The SDK passes one long-lived signal to every fetch, and fetch only drops its abort listener when the
      // request is garbage-collected: a per-request signal that follows it keeps listeners from piling up.
      const signal = init?.signal ? AbortSignal.any([init.signal]) : undefined;
      const send = () => base(url, { ...init, headers, ...(signal ? { signal } : {}) });
      let response = tracingOn ? await traceUpstreamFetch(this.opts.name, url, init, headers, send) : await send();
      // Renewable credentials (`oauth`): a 401 gets them renewed and the request sent once more, never twice.
      const { credentials } = this.opts;
      if (response.status === 401 && credentials.unauthorized && (await credentials.unauthorized(headers.get('authorization') ?? undefined))) {
        await response.body?.cancel();
        for (const [k, v] of Object.entries(await credentials.headers(this.scope()?.auth ?? this.lastAuth))) headers.set(k, v);
        response = await send();
      }
      return followingClient(response);
    };
  }

  /** Upstream → client: notifications and requests, to the request they belong to or to the session. */
  private wire(client: Client, caps: ClientCapabilities): void {
    const { opts } = this;
    const target = (): Downstream => this.scope()?.downstream ?? opts.downstream;
    const forward = async (n: ServerNotification) => {
      await target()
        .notify(n)
        .catch((err: unknown) => opts.logger.debug({ err, toolServer: opts.name, method: n.method }, 'could not forward a notification'));
    };
    client.setNotificationHandler('notifications/message', forward);
    for (const method of ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed', 'notifications/resources/updated'] as const) {
      client.setNotificationHandler(method, async (n) => opts.onNotification?.(n));
    }
    client.fallbackNotificationHandler = async (n) => forward(n as ServerNotification);

    const relay = async (request: { method: string; params?: unknown }, ctx: ClientContext): Promise<Result> =>
      target().request(request as ServerRequest, { signal: ctx.mcpReq.signal, timeoutMs: opts.timeouts.maxCallMs });
    if (caps.sampling) client.setRequestHandler('sampling/createMessage', (r, ctx) => relay(r, ctx) as never);
    if (caps.elicitation) client.setRequestHandler('elicitation/create', (r, ctx) => relay(r, ctx) as never);
    if (caps.roots) client.setRequestHandler('roots/list', (r, ctx) => relay(r, ctx) as never);

    client.onerror = (err) => opts.logger.debug({ err, toolServer: opts.name }, 'upstream transport error');
  }
}

/**
 * An upstream's event stream answering a client request is read no faster than that client reads its response
 * (`upstream-flow.ts`); JSON answers are read whole by the SDK anyway.
 */
function followingClient(response: Response): Response {
  const flow = currentResponseFlow();
  if (!flow || !response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
  return new Response(heldBack(response.body, flow), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** A resumed client skips `initialize`; what the upstream said then comes from the stored record. */
function storedServer(stored: { capabilities?: Record<string, unknown> | undefined; serverInfo?: Implementation | undefined; instructions?: string | undefined }): UpstreamServer {
  return {
    capabilities: (stored.capabilities ?? {}) as ServerCapabilities,
    ...(stored.serverInfo ? { serverInfo: stored.serverInfo } : {}),
    ...(stored.instructions ? { instructions: stored.instructions } : {}),
  };
}

/** `text` as JSON, or undefined when it is not. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The transport's fetch, minus the standalone stream the SDK opens by itself after `initialize` (a GET without
 * `Last-Event-ID`): answered here with 405, which the SDK takes as "the server offers none". The gateway opens that
 * stream itself, where and while the client listens (`UpstreamClient.listen`). GETs that resume a response stream
 * (with `Last-Event-ID`) pass.
 */
function withoutStandalone(fetch: FetchLike): FetchLike {
  return (url, init) => {
    if (init?.method === 'GET' && !new Headers(init.headers).has('last-event-id')) return Promise.resolve(new Response(null, { status: 405 }));
    return fetch(url, init);
  };
}

/** Reopening a standalone stream stops after this many in a row that ended early. */
const STANDALONE_REOPENS = 3;
const STANDALONE_REOPEN_MS = 1_000;
const STANDALONE_SHORT_LIVED_MS = 60_000;
/**
 * How many times in a row a stream refused with 409 (the upstream holds another stream of the session: one being
 * closed, or another replica's during a take-over, whose client listened there a few seconds ago) is asked again.
 */
const STANDALONE_CONFLICTS = 15;

/**
 * An upstream session's standalone stream (the GET of Streamable HTTP), opened while the client listens (`listen`).
 * The SDK's transport opens it only after the `notifications/initialized` it sends itself (never again for a resumed
 * session), not on demand, and has no public call that opens it (`resumeStream` needs a `Last-Event-ID`). So the
 * gateway opens it: a GET carrying the
 * session's id and version and, through the transport's own fetch, its credentials; each message is handed to the
 * client as its transport hands messages over (`onmessage`, the Transport interface's callback), so requests on it
 * are answered by the client over the transport as usual. A stream that ends is reopened after a pause (from its
 * last event id, if the upstream gives ids), a few times in a row at most; 409 (another stream of the session is
 * still open upstream) is asked again for a few seconds; 405 (the upstream offers no such stream), 404 (the session
 * is gone: the next request initializes anew) and other refusals end it. Never rejects.
 */
async function standaloneStream(o: { url: string; fetch: FetchLike; transport: StreamableHTTPClientTransport; signal: AbortSignal; logger: Logger; name: string }): Promise<void> {
  let lastEventId: string | undefined;
  let failures = 0;
  let conflicts = 0;
  while (!o.signal.aborted && failures < STANDALONE_REOPENS) {
    const opened = Date.now();
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (o.transport.sessionId) headers['mcp-session-id'] = o.transport.sessionId;
      if (o.transport.protocolVersion) headers['mcp-protocol-version'] = o.transport.protocolVersion;
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const res = await o.fetch(o.url, { method: 'GET', headers, signal: o.signal });
      if (res.status === 409 && ++conflicts <= STANDALONE_CONFLICTS) {
        // Soon at first (a stream this process just closed is usually gone upstream within milliseconds), then slower.
        await res.body?.cancel().catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.min(STANDALONE_REOPEN_MS, 25 * 2 ** conflicts)).unref());
        continue;
      }
      if (!res.ok || !res.body || !res.headers.get('content-type')?.includes('text/event-stream')) {
        await res.body?.cancel().catch(() => undefined);
        if (res.status !== 405) o.logger.debug({ toolServer: o.name, status: res.status }, 'upstream standalone stream refused');
        return;
      }
      conflicts = 0;
      for await (const event of sseEvents(res.body)) {
        if (event.id !== undefined) lastEventId = event.id;
        if (!event.data) continue;
        const message = JSONRPCMessageSchema.safeParse(parseJson(event.data));
        if (message.success) o.transport.onmessage?.(message.data);
        else o.logger.debug({ toolServer: o.name }, 'upstream standalone stream sent something that is not JSON-RPC'); // skipped, not fatal
      }
    } catch (err) {
      if (o.signal.aborted) return;
      o.logger.debug({ err, toolServer: o.name }, 'upstream standalone stream broke');
    }
    failures = Date.now() - opened >= STANDALONE_SHORT_LIVED_MS ? 1 : failures + 1;
    await new Promise((r) => setTimeout(r, STANDALONE_REOPEN_MS).unref());
  }
}
