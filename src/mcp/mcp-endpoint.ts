/**
 * The team MCP endpoints (`/t/{team}/mcp` and the `/mcp` alias), docs/interface.md §3. A request is a pipeline:
 * resolve team → authenticate → identify user and admit to team → era (a 2026-07-28 request goes to the stateless
 * front end, `modern-front.ts`; the rest stays here, unchanged) → classify the body → find or start the session →
 * transport. A POST without `Mcp-Session-Id` that is not `initialize` is served in the caller's session for
 * (team, user, client, chat), because ChatGPT's and Claude's connectors often do not send the id back.
 */
import { AsyncResource } from 'node:async_hooks';
import { noteRequest } from '../observability/request-context.js';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { decodeJwt } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { Config } from '../config/config.js';
import type { TeamDirectory, TeamRef } from '../teams/team-directory.js';
import { DEFAULT_TEAM } from '../teams/team-directory.js';
import type { UserDirectory } from '../teams/users.js';
import type { ProtectedEndpoint } from '../auth/bearer-auth.js';
import { resourceMetadataUrl, teamResource } from '../auth/protected-resource.js';
import type { TokenIdentity } from '../auth/verify-access-token.js';
import type { SessionRuntime, Principal } from './session-runtime.js';
import type { LiveSession } from './live-session.js';
import { JSONRPC, sendJsonRpcError } from './jsonrpc-errors.js';
import { requestShape } from './request-shape.js';
import { tracingOn, traceMcpArrival, traceMcpRequest } from '../observability/tracing.js';
import { chatFrom } from './chat-id.js';
import { classifyEra } from './protocol-era.js';
import { createModernFront } from './modern-front.js';
import { NotFound } from '../errors.js';
import type { ClusterBus } from '../cluster/bus.js';
import type { RequestStates } from './request-state.js';
import type { Logger } from '../observability/logger.js';

export const MCP_BODY_LIMIT = '4mb';
const MCP_BODY_BYTES = 4 * 1024 * 1024;
/** `application/json`, in UTF-8 if a charset is named (see `json` in `mcpRouter`). */
const PLAIN_JSON = /^application\/json[ \t]*(?:;[ \t]*charset[ \t]*=[ \t]*(?:utf-8|"utf-8")[ \t]*)?$/i;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to type `res.locals`
  namespace Express {
    interface Locals {
      /** The team of an MCP or user-API request (`resolveTeam`). */
      team?: TeamRef;
      /** The `{team}` of the URL; undefined for the `/mcp` alias. */
      slug?: string | undefined;
      /** Who is calling, once identified (`identify`). */
      principal?: Principal;
    }
  }
}

export interface McpEndpointDeps {
  config: Config;
  teams: TeamDirectory;
  users: UserDirectory;
  sessions: SessionRuntime;
  authenticate: (endpoint: ProtectedEndpoint) => RequestHandler;
  /** Per-user and per-client rate limits, run once the caller is identified (`http/rate-limit-endpoints.ts`). */
  limitCaller: RequestHandler;
  /** How this replica reaches the others (a 2026-07-28 retry whose request another replica holds). */
  bus: ClusterBus;
  /** Signs and checks the `requestState` of 2026-07-28 `input_required` answers. */
  requestStates: RequestStates;
  logger: Logger;
}

/** Resolves `{team}` (404 when unknown) and remembers which URL form was used. */
export function resolveTeam(teams: TeamDirectory): RequestHandler {
  return async (req, res, next) => {
    const slug = typeof req.params.team === 'string' ? req.params.team : undefined;
    const team = await teams.find(slug ?? DEFAULT_TEAM);
    if (!team) return next(new NotFound('team_not_found', `No team ${JSON.stringify(slug ?? DEFAULT_TEAM)} exists on this gateway`));
    res.locals.team = team;
    res.locals.slug = slug;
    next();
  };
}

/** The `aud` of a bearer token as it claims it, unverified; empty when there is no readable JWT. */
function claimedAudiences(authorization: string | undefined): string[] {
  const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return [];
  try {
    const { aud } = decodeJwt(token);
    return typeof aud === 'string' ? [aud] : (aud ?? []);
  } catch {
    return [];
  }
}

/**
 * The resource identifier a request's token must be for. The `/mcp` alias is the default team's endpoint under a
 * second name, so it also takes a token for that team's own resource (`/t/demo/mcp`: what `switchboard token
 * --team demo` mints and what a client pointed at the team URL holds), and never another team's. The unverified
 * `aud` only picks which of the two identifiers is checked; the signature and the audience are verified as always.
 */
function expectedResource(publicUrl: string, slug: string | undefined, authorization: string | undefined): string {
  if (slug !== undefined) return teamResource(publicUrl, slug);
  const defaultTeam = teamResource(publicUrl, DEFAULT_TEAM);
  return claimedAudiences(authorization).includes(defaultTeam) ? defaultTeam : teamResource(publicUrl, undefined);
}

/** Verifies the bearer token against this endpoint's resource identifier. */
export function authenticateForTeam(config: Config, authenticate: McpEndpointDeps['authenticate']): RequestHandler {
  // One handler per (resource, metadata URL), built on first use: teams are few, requests many. Only teams that
  // exist get here (`resolveTeam` answered 404 before), so the map is bounded by the number of teams.
  const handlers = new Map<string, RequestHandler>();
  return (req, res, next) => {
    const slug = res.locals.slug;
    const resource = expectedResource(config.publicUrl, slug, req.headers.authorization);
    const key = `${slug ?? ''} ${resource}`;
    let handler = handlers.get(key);
    if (!handler) {
      handler = authenticate({ resource, resourceMetadataUrl: resourceMetadataUrl(config.publicUrl, slug) });
      handlers.set(key, handler);
    }
    return handler(req, res, next);
  };
}

/** Maps the token to a gateway user and applies the team's join policy. */
export function identify(config: Config, teams: TeamDirectory, users: UserDirectory): RequestHandler {
  return async (req, res, next) => {
    const auth = req.auth as AuthInfo;
    const identity = auth.extra as TokenIdentity;
    const team = res.locals.team!;
    const found = await users.fromTokenInTeam(identity, config.authMode === 'builtin' ? config.authIssuer : undefined, team);
    if (!found) {
      const prm = resourceMetadataUrl(config.publicUrl, res.locals.slug);
      res
        .status(401)
        .set('WWW-Authenticate', `Bearer error="invalid_token", error_description="The token's user no longer exists", resource_metadata="${prm}"`)
        .json({ error: 'invalid_token', error_description: "The token's user no longer exists" });
      return;
    }
    const { user } = found;
    noteRequest({ team: team.slug, userId: user.id, clientId: auth.clientId });
    const role = await teams.admit(team, user.id, found.role);
    res.locals.principal = { team, user, role, clientId: auth.clientId, authInfo: auth } satisfies Principal;
    next();
  };
}

/**
 * What the Streamable HTTP transport checks before it serves a request (2025-11-25, §Sending Messages to the Server
 * and §Listening for Messages from the Server), in the words of the SDK's transport, which clients and tests already
 * know, and first, as it does — before any session is looked up or made for the request: the client must accept JSON
 * and an event stream for a POST (an event stream for a GET), and a request in a session must speak a version served
 * here (`sessionBound`; a request without a session id that names another version is the modern era's or refused by
 * `requestShape`). That the body is JSON was settled when it was parsed (`application/json` or any `+json` type).
 */
function transportRefusal(req: Request, kind: 'request' | 'stream', sessionBound: boolean): { status: number; message: string } | undefined {
  const accept = req.headers.accept ?? '';
  if (kind === 'stream' ? !accept.includes('text/event-stream') : !accept.includes('application/json') || !accept.includes('text/event-stream')) {
    const message = kind === 'stream' ? 'Not Acceptable: Client must accept text/event-stream' : 'Not Acceptable: Client must accept both application/json and text/event-stream';
    return { status: 406, message };
  }
  const version = req.headers['mcp-protocol-version'];
  if (sessionBound && version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
    return { status: 400, message: `Bad Request: Unsupported protocol version: ${String(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})` };
  }
  return undefined;
}

/** Answers `refusal` if there is one; true when it did. */
function refused(res: Response, refusal: { status: number; message: string } | undefined): boolean {
  if (refusal) sendJsonRpcError(res, refusal.status, JSONRPC.SERVER_ERROR, refusal.message);
  return refusal !== undefined;
}

/** The MCP routes, and the handlers of their POST (which `http/mcp-fast-lane.ts` runs without the router). */
export function mcpRouter(deps: McpEndpointDeps): { router: Router; postChain: RequestHandler[] } {
  const { config, sessions } = deps;
  const router = Router();
  // Not strict: a bare JSON value (`42`) is valid JSON, so it is an invalid JSON-RPC request, not a parse error.
  const parseJson = express.json({ limit: MCP_BODY_LIMIT, strict: false, type: ['application/json', 'application/*+json'] });
  const tooLarge = (res: Response) => sendJsonRpcError(res, 413, JSONRPC.PARSE_ERROR, `Parse error: body larger than ${MCP_BODY_LIMIT}`);
  const notJson = (res: Response) => sendJsonRpcError(res, 400, JSONRPC.PARSE_ERROR, 'Parse error: the body is not valid JSON');
  const bodyParser: RequestHandler = (req, res, next) =>
    parseJson(req, res, (err?: unknown) => {
      if (!err) return next();
      if ((err as { type?: string }).type === 'entity.too.large') tooLarge(res);
      else notJson(res);
    });
  /**
   * The body as body-parser's JSON parser reads it, for what nearly every MCP request is — `application/json` in
   * UTF-8, not compressed — without its per-request machinery (content-type parsing, charset decoding, stream
   * helpers: ~5 % of a forwarded call's CPU, bench profile). Anything else (other JSON types, charsets, encodings)
   * goes to body-parser itself.
   */
  const json: RequestHandler = (req, res, next) => {
    const h = req.headers;
    const type = h['content-type'];
    const encoding = h['content-encoding'];
    if (
      type === undefined ||
      !PLAIN_JSON.test(type) ||
      (encoding !== undefined && encoding.toLowerCase() !== 'identity') ||
      (h['transfer-encoding'] === undefined && h['content-length'] === undefined)
    ) {
      return bodyParser(req, res, next);
    }
    if (Number(h['content-length']) > MCP_BODY_BYTES) return tooLarge(res);
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MCP_BODY_BYTES) {
        failed = true;
        chunks.length = 0;
        tooLarge(res);
      } else {
        chunks.push(chunk);
      }
    });
    req.once('error', () => {
      if (!failed) notJson(res);
      failed = true;
    });
    const done = () => {
      if (failed) return;
      // As body-parser: an empty body is `{}`, a byte-order mark is dropped, and any JSON value is accepted.
      let text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      try {
        req.body = text.length === 0 ? {} : (JSON.parse(text) as unknown);
      } catch {
        return notJson(res);
      }
      next();
    };
    // The rest of the chain runs in the request's async context (its request context, its span when tracing), as
    // after raw-body: 'end' is emitted in the socket's. One resource, entered by hand: `AsyncResource.bind` and
    // `AsyncLocalStorage.snapshot` (built on it) define deprecated accessors on every bound function, ~3 % of a
    // call's CPU (bench profile).
    const scope = new AsyncResource('switchboard.mcp-body');
    req.once('end', () => scope.runInAsyncScope(done));
  };

  const notFound = (res: Response) =>
    sendJsonRpcError(res, 404, JSONRPC.SESSION_NOT_FOUND, 'Session not found: it expired, was closed, or belongs to someone else. Start a new session with initialize.');

  /**
   * Finds the session with `lookup` and serves the request in it. The session is marked busy before anything else
   * is awaited (recording its use, attaching a chat), so it cannot be evicted between being found and being used; a
   * copy evicted in the instant before that (it is closed when busy starts) is looked up again — rebuilt from its
   * row, or 404 if the session has ended meanwhile.
   */
  const serve = async (
    req: Request,
    res: Response,
    lookup: () => Promise<LiveSession | undefined>,
    body: unknown,
    opts: { kind: 'request' | 'stream'; before?: (s: LiveSession) => Promise<void> },
  ) => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await lookup();
      if (!s) return notFound(res);
      const served = await s.busy(opts.kind, async () => {
        if (s.isClosed) return false;
        noteRequest({ sessionId: s.id });
        await opts.before?.(s);
        const principal = res.locals.principal!;
        if (opts.kind === 'request') {
          await s.serve(body, res, principal.authInfo);
          return true;
        }
        if (!s.initialized) {
          sendJsonRpcError(res, 400, JSONRPC.SERVER_ERROR, 'Bad Request: Server not initialized');
          return true;
        }
        // A response stream the client lost, resumed from its last event (on any replica: `cluster/resumable-streams.ts`).
        const last = req.get('last-event-id');
        const resumed = last ? s.streams.resume(s.id, last, res, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': s.id }) : false;
        if (resumed) {
          await resumed;
          return true;
        }
        // The session's own stream (`session-stream.ts`): open until the client or the session ends it.
        const open = s.stream.open(res, { resumable: s.resumable, lastEventId: last });
        if (open === false) sendJsonRpcError(res, 409, JSONRPC.SERVER_ERROR, 'Conflict: Only one SSE stream is allowed per session');
        else await open;
        return true;
      });
      if (served) return;
    }
    notFound(res);
  };

  const modern = createModernFront({ config, sessions, bus: deps.bus, states: deps.requestStates, logger: deps.logger });

  const post: RequestHandler = async (req, res) => {
    const l = { principal: res.locals.principal! };
    const body: unknown = req.body;
    // One URL, two eras: a request the SDK's `isLegacyRequest` would call modern goes to the stateless front end.
    const era = classifyEra({ httpMethod: 'POST', protocolVersionHeader: req.get('mcp-protocol-version'), mcpMethodHeader: req.get('mcp-method'), body });
    if (era.kind !== 'legacy') return modern(req, res, era, l.principal);
    const sessionId = req.get('mcp-session-id');
    if (refused(res, transportRefusal(req, 'request', sessionId !== undefined))) return;
    const chat = chatFrom(req, config.chatIdHeader, Array.isArray(body) ? body[0] : body);
    if (chat === 'invalid') {
      return sendJsonRpcError(res, 400, JSONRPC.INVALID_REQUEST, `${config.chatIdHeader} must be 1–200 visible ASCII characters`);
    }
    const shape = requestShape(body, req.get('mcp-protocol-version'));
    if (shape.kind === 'invalid') return sendJsonRpcError(res, 400, JSONRPC.INVALID_REQUEST, shape.message);
    if (sessionId) {
      // A client that sends its session id keeps the strict behaviour: that session, or 404.
      await serve(req, res, () => sessions.get(sessionId, l.principal), body, {
        kind: 'request',
        before: async (s) => {
          sessions.noteUse(s, 'echoed');
          if (chat && !s.context.chat) await sessions.attachChat(s, chat);
        },
      });
      return;
    }
    if (shape.kind === 'initialize') {
      const s = await sessions.create(l.principal, shape.init, chat);
      await serve(req, res, async () => s, body, { kind: 'request' });
      return;
    }
    if (shape.kind === 'modern') {
      // What is left here of the modern era's methods has no envelope (a bare `server/discover`) or names a version
      // that is served by neither era: 400, nothing kept, so a client falls back to initialize.
      return sendJsonRpcError(
        res,
        400,
        JSONRPC.SERVER_ERROR,
        'Bad Request: a 2026-07-28 request carries its _meta envelope (io.modelcontextprotocol/protocolVersion and clientCapabilities); 2025-era clients start a session with initialize',
      );
    }
    await serve(req, res, () => sessions.forKey(l.principal, chat, shape.protocolVersion), body, {
      kind: 'request',
      before: async (s) => sessions.noteUse(s, 'implicit'),
    });
  };

  const get: RequestHandler = async (req, res) => {
    const sessionId = req.get('mcp-session-id');
    if (!sessionId) return sendJsonRpcError(res, 400, JSONRPC.SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');
    if (refused(res, transportRefusal(req, 'stream', true))) return;
    const principal = res.locals.principal!;
    await serve(req, res, () => sessions.get(sessionId, principal), undefined, { kind: 'stream', before: async (s) => sessions.noteUse(s, 'echoed') });
  };

  const del: RequestHandler = async (req, res) => {
    const sessionId = req.get('mcp-session-id');
    if (!sessionId) return sendJsonRpcError(res, 400, JSONRPC.SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');
    const p = res.locals.principal!;
    const closed = await sessions.close(sessionId, 'client_delete', { teamId: p.team.id, userId: p.user.id, clientId: p.clientId });
    if (!closed) return notFound(res);
    res.status(200).end();
  };

  const pipeline = [resolveTeam(deps.teams), authenticateForTeam(config, deps.authenticate), identify(config, deps.teams, deps.users), deps.limitCaller];
  // With tracing on (observability/tracing.ts), a server span per request; off, the chain has no tracing step at all.
  const postChain: RequestHandler[] = tracingOn
    ? [traceMcpArrival, ...pipeline, json, traceMcpRequest(post, (res) => res.locals.team?.slug)]
    : [...pipeline, json, post];
  for (const path of ['/t/:team/mcp', '/mcp']) {
    router.post(path, ...postChain);
    router.get(path, ...pipeline, get);
    router.delete(path, ...pipeline, del);
    router.all(path, (_req, res) => {
      res.set('Allow', 'GET, POST, DELETE, OPTIONS');
      sendJsonRpcError(res, 405, JSONRPC.SERVER_ERROR, 'Method not allowed');
    });
  }
  return { router, postChain };
}
