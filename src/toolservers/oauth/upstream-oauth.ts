/**
 * Auth mode `oauth` as one service, built once per process (`createUpstreamOAuth`): per-session credentials that
 * put the user's own upstream token on every request to that tool server, the connect links, and the two steps of a
 * connection (connect page → the upstream's authorization endpoint; callback → tokens stored).
 *
 * Nothing here touches `none`/`exchange`/`static`/`passthrough` tool servers: their hot path has no new query.
 */
import { exchangeAuthorization, startAuthorization } from '@modelcontextprotocol/client';
import type { Database } from '../../db/database.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Logger } from '../../observability/logger.js';
import { hashSecret, randomToken, type SecretBox } from '../../security/secret-box.js';
import type { SessionContext, ToolServerDefinition } from '../types.js';
import type { UpstreamCredentials } from '../upstream-credentials.js';
import { UpstreamConnectRequired, UpstreamOAuthSetupError } from './connect-required.js';
import { connectLink, openConnectLink } from './connect-link.js';
import { CALLBACK_PATH, clientMetadataDocument, upstreamClient, type OAuthToolServer } from './upstream-registration.js';
import { createUpstreamTokens, type ConnectionKey, type RemovedConnection, type RevokeOutcome } from './upstream-tokens.js';

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A token read for an operation is reused by that operation's upstream requests for this long at most. */
const TOKEN_CACHE_MS = 30_000;
/** How long an authorization may take between the connect page and the callback. */
const CONNECT_STATE_TTL_MS = 15 * 60_000;

export interface UpstreamOAuthDeps {
  db: Database;
  box: SecretBox;
  publicUrl: string;
  logger: Logger;
  clock?: () => number;
  fetchFor(target: { allowPrivateAddresses: boolean }): Fetch;
}

/** Why a connect link or callback was refused: shown to the person on an error page. */
export class ConnectRefused extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 502,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

export interface OAuthCredentials extends UpstreamCredentials {
  /** The user's token, or `UpstreamConnectRequired`. */
  token(): Promise<string>;
}

export interface UpstreamOAuth {
  credentials(def: ToolServerDefinition, session: SessionContext): OAuthCredentials;
  /** The connect page's URL for this user and tool server (single use, short-lived). */
  connectUrl(def: ToolServerDefinition, session: SessionContext): string;
  /** The tool list a connected user saw last (for users not connected yet); [] when nobody has connected. */
  storedTools(def: ToolServerDefinition, teamId: string): Promise<unknown[]>;
  rememberTools(def: ToolServerDefinition, teamId: string, tools: unknown[]): Promise<void>;
  /** Connect page: where to send the browser, and the state its cookie must carry back. */
  beginConnect(rawLink: unknown): Promise<{ location: string; state: string }>;
  /** Callback: stores the tokens; the tool server's name for the page. */
  finishConnect(query: Record<string, unknown>, cookieState: string | undefined): Promise<{ toolServer: string }>;
  clientMetadataDocument(): ReturnType<typeof clientMetadataDocument>;
  /** Revokes a removed connection at the tool server's authorization server (best effort; see `upstream-tokens.ts`). */
  revoke(removed: RemovedConnection): Promise<RevokeOutcome>;
  /** Revokes many connections of one tool server with its registration read now (see `upstream-tokens.ts`). */
  revoker(toolServerId: string, teamId: string): Promise<(removed: RemovedConnection) => Promise<RevokeOutcome>>;
}

/**
 * The upstream network's fetch is undici's, whose `Response` is another class than the global one; the SDK's OAuth
 * helpers test `instanceof Response` to read error bodies (an `invalid_grant` would read as garbage), so their
 * responses are re-wrapped in the global class. Address checks stay those of the undici dispatcher underneath.
 */
function withGlobalResponses(fetchFn: Fetch): Fetch {
  return async (url, init) => {
    const r: Pick<Response, 'body' | 'status' | 'statusText' | 'headers'> = await fetchFn(url, init);
    return r instanceof Response ? r : new Response(r.body, { status: r.status, statusText: r.statusText, headers: r.headers });
  };
}

export function createUpstreamOAuth(options: UpstreamOAuthDeps): UpstreamOAuth {
  const deps: UpstreamOAuthDeps = { ...options, fetchFor: (t) => withGlobalResponses(options.fetchFor(t)) };
  const clock = deps.clock ?? Date.now;
  const { box } = deps;
  const prisma = deps.db.prisma;
  const registration = { ...deps, prisma };
  const callback = `${deps.publicUrl}${CALLBACK_PATH}`;
  /** Each tool server's last remembered listing, by content: written again only when it changed. */
  const remembered = new Map<string, string>();

  async function registrationOf(toolServerId: string, teamId: string) {
    const row = await prisma.toolServer.findFirst({ where: { id: toolServerId, teamId } });
    if (!row || row.authMode !== 'oauth' || !row.url) throw new UpstreamOAuthSetupError('the tool server is no longer an oauth tool server');
    const ts: OAuthToolServer = { ...row, url: row.url, authOptions: row.authOptions };
    const fetchFn = deps.fetchFor({ allowPrivateAddresses: row.allowPrivateAddresses });
    return { ts, fetchFn, reg: await upstreamClient(registration, ts) };
  }

  const tokens = createUpstreamTokens({
    prisma,
    box,
    logger: deps.logger,
    clock,
    client: async (id, teamId) => {
      const { reg, fetchFn } = await registrationOf(id, teamId);
      return { ...reg, fetchFn };
    },
  });

  return {
    revoke: (removed) => tokens.revoke(removed),
    revoker: (toolServerId, teamId) => tokens.revoker(toolServerId, teamId),
    credentials(def, session) {
      const key: ConnectionKey = { teamId: session.team.id, userId: session.user.id, toolServerId: def.id ?? '', url: def.url ?? '' };
      let cached: { token: string; until: number } | undefined;
      const load = async (rejected?: string): Promise<string> => {
        const got = await tokens.accessToken(key, rejected !== undefined ? { rejected } : {});
        if (!got) {
          cached = undefined;
          throw new UpstreamConnectRequired(def.name, rejected !== undefined ? 'the upstream refused the token and it could not be refreshed' : 'not connected');
        }
        cached = { token: got.token, until: Math.min(clock() + TOKEN_CACHE_MS, (got.expiresAt ?? Infinity) - 30_000) };
        return got.token;
      };
      return {
        mode: 'oauth',
        // Read once per operation (`oauth-connection.ts`), so a removed or revoked connection stops at the next call…
        token: () => load(),
        // …and reused by the upstream requests of that operation (initialize, the call, the standalone stream).
        async headers() {
          return { authorization: `Bearer ${cached && clock() < cached.until ? cached.token : await load()}` };
        },
        async unauthorized(sent) {
          const rejected = /^Bearer (.+)$/.exec(sent ?? '')?.[1];
          if (rejected === undefined) return false;
          await load(rejected);
          return true;
        },
      };
    },

    connectUrl(def, session) {
      return connectLink(box, deps.publicUrl, { userId: session.user.id, teamId: session.team.id, toolServerId: def.id ?? '' }, clock());
    },

    async storedTools(def, teamId) {
      if (!def.id) return [];
      const row = await prisma.upstreamOAuthClient.findFirst({ where: { toolServerId: def.id, teamId, url: def.url ?? '' }, select: { tools: true } });
      return Array.isArray(row?.tools) ? row.tools : [];
    },

    async rememberTools(def, teamId, list) {
      if (!def.id) return;
      const text = JSON.stringify(list);
      if (remembered.get(def.id) === text) return;
      await prisma.upstreamOAuthClient.updateMany({ where: { toolServerId: def.id, teamId }, data: { tools: list as Prisma.InputJsonArray } });
      remembered.set(def.id, text);
    },

    async beginConnect(rawLink) {
      const link = openConnectLink(box, rawLink, clock());
      if (!link) throw new ConnectRefused(400, 'Link expired', 'This connect link is invalid or has expired. Call the tool again in your chat to get a new one.');
      const row = await prisma.toolServer.findFirst({ where: { id: link.toolServerId, teamId: link.teamId, authMode: 'oauth', enabled: true } });
      if (!row?.url) throw new ConnectRefused(404, 'Tool server not found', 'This tool server no longer exists or no longer uses its own login.');
      const member = await prisma.membership.findFirst({ where: { teamId: link.teamId, userId: link.userId }, select: { userId: true } });
      if (!member) throw new ConnectRefused(403, 'Not a member', 'You are no longer a member of the team this link was made for.');
      const ts: OAuthToolServer = { ...row, url: row.url };
      let reg;
      try {
        reg = await upstreamClient(registration, ts);
      } catch (err) {
        deps.logger.warn({ err, toolServer: row.name, teamId: row.teamId }, 'upstream OAuth discovery or registration failed');
        throw new ConnectRefused(502, 'Cannot connect', `The gateway could not set up a login with tool server ${row.name}. Tell your team's administrator.`);
      }
      const state = randomToken();
      const { authorizationUrl, codeVerifier } = await startAuthorization(reg.issuer, {
        metadata: reg.metadata,
        clientInformation: reg.client,
        redirectUrl: callback,
        state,
        resource: new URL(ts.url),
        ...(reg.scope ? { scope: reg.scope } : {}),
      });
      await prisma.upstreamConnectState.deleteMany({ where: { expiresAt: { lt: new Date(clock()) } } });
      try {
        await prisma.upstreamConnectState.create({
          data: {
            id: link.nonce,
            stateHash: hashSecret(state),
            teamId: link.teamId,
            userId: link.userId,
            toolServerId: ts.id,
            codeVerifierEncrypted: box.seal(codeVerifier),
            expiresAt: new Date(clock() + CONNECT_STATE_TTL_MS),
          },
        });
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          throw new ConnectRefused(400, 'Link already used', 'This connect link was already used. Call the tool again in your chat to get a new one.');
        }
        throw err;
      }
      return { location: authorizationUrl.href, state };
    },

    async finishConnect(query, cookieState) {
      const state = typeof query.state === 'string' ? query.state : undefined;
      if (!state) throw new ConnectRefused(400, 'Missing state', 'The tool server’s login came back without its state.');
      const stateHash = hashSecret(state);
      const row = await prisma.upstreamConnectState.findUnique({ where: { stateHash } });
      // Single use: whoever marks the row used finishes the authorization. The row itself stays until it expires
      // (after its link has), so the link's nonce stays taken and the link cannot start another authorization.
      const taken = row ? await prisma.upstreamConnectState.updateMany({ where: { id: row.id, stateHash }, data: { stateHash: `used:${randomToken()}` } }) : { count: 0 };
      if (!row || taken.count !== 1 || row.expiresAt.getTime() <= clock()) {
        throw new ConnectRefused(400, 'Login expired', 'This login is unknown, was already completed or took too long. Call the tool again in your chat to get a new link.');
      }
      if (!cookieState || cookieState !== state) {
        throw new ConnectRefused(400, 'Different browser', 'This login was started in another browser. Open the connect link again in this one.');
      }
      if (typeof query.error === 'string') {
        throw new ConnectRefused(400, 'Not connected', `The tool server’s login answered: ${query.error.slice(0, 100)}. Nothing was connected.`);
      }
      if (typeof query.code !== 'string' || !query.code) throw new ConnectRefused(400, 'Missing code', 'The tool server’s login came back without a code.');
      let registration;
      try {
        registration = await registrationOf(row.toolServerId, row.teamId);
      } catch {
        throw new ConnectRefused(404, 'Tool server not found', 'This tool server no longer exists or no longer uses its own login.');
      }
      const { ts, reg, fetchFn } = registration;
      let got;
      try {
        got = await exchangeAuthorization(reg.issuer, {
          metadata: reg.metadata,
          clientInformation: reg.client,
          authorizationCode: query.code,
          ...(typeof query.iss === 'string' ? { iss: query.iss } : {}),
          codeVerifier: box.open(row.codeVerifierEncrypted),
          redirectUri: callback,
          resource: new URL(ts.url),
          fetchFn,
        });
      } catch (err) {
        deps.logger.warn({ err, toolServer: ts.name, teamId: ts.teamId }, 'upstream token request failed');
        throw new ConnectRefused(502, 'Not connected', `Tool server ${ts.name} did not issue a token. Try the connect link again.`);
      }
      await tokens.save({ teamId: row.teamId, userId: row.userId, toolServerId: ts.id, url: ts.url }, got);
      deps.logger.info({ toolServer: ts.name, teamId: ts.teamId, userId: row.userId }, 'user connected an upstream account');
      return { toolServer: ts.name };
    },

    clientMetadataDocument: () => clientMetadataDocument(deps.publicUrl),
  };
}
