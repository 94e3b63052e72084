/**
 * Builds a session's tool-server connections from the team's configured tool servers: built-in packs in-process,
 * remote servers through a lazily connected upstream client that acts as the session's user, over the gateway's
 * upstream network (addresses checked at connect time unless the URL was approved for private addresses).
 */
import type { PrismaClient } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { KeyStore } from '../authserver/signing-keys.js';
import type { SecretBox } from '../security/secret-box.js';
import { BUILTIN_PACKS } from './packs/index.js';
import { packConnection } from './packs/pack.js';
import type { SessionContext, SessionDownstream, ToolServerConnection, ToolServerDefinition } from './types.js';
import { upstreamCredentials, type UpstreamCredentials } from './upstream-credentials.js';
import { UpstreamClient, DEFAULT_UPSTREAM_TIMEOUTS, type UpstreamTimeouts } from './upstream-client.js';
import { relayUpstreamNotification, upstreamConnection } from './upstream-connection.js';
import { upstreamSessionStore } from './upstream-sessions.js';
import type { UpstreamNetwork } from './upstream-network.js';
import { listingKeys, type ListingCache } from './listing-cache.js';
import { dualEraConnection } from './dual-era-upstream.js';
import type { UpstreamEras } from './upstream-era.js';
import type { ServerNotification } from '@modelcontextprotocol/client';
import { readStoredPolicy } from './access-policy.js';
import type { UpstreamOAuth } from './oauth/upstream-oauth.js';
import { oauthConnection } from './oauth/oauth-connection.js';

export async function loadToolServers(prisma: PrismaClient, teamId: string): Promise<ToolServerDefinition[]> {
  const rows = await prisma.toolServer.findMany({
    where: { teamId, enabled: true },
    orderBy: { name: 'asc' },
    select: { id: true, authOptions: true, name: true, kind: true, pack: true, url: true, prefix: true, authMode: true, authHeader: true, secretEncrypted: true, allowPrivateAddresses: true, updatedAt: true, policy: true },
  });
  // The policy is parsed here, once per load of the team's definitions, never per session or call.
  return rows.map(({ policy, ...r }) => {
    const parsed = readStoredPolicy(policy);
    return { ...r, kind: r.kind === 'remote' ? 'remote' : 'builtin', ...(parsed !== undefined ? { policy: parsed } : {}) };
  });
}

/** What remote tool servers need besides the session: signing keys, the secret box, where the gateway is. */
export interface UpstreamDeps {
  prisma: PrismaClient;
  keys: KeyStore;
  box: SecretBox;
  /** PUBLIC_URL: the `iss` of exchange tokens. */
  publicUrl: string;
  timeouts?: Partial<UpstreamTimeouts>;
  /** Where connections go: checked at connect time unless a tool server's URL was approved for private addresses. */
  network: UpstreamNetwork;
  /** Tool listings shared by this process's sessions that have no upstream session yet (see `listing-cache.ts`). */
  listings?: ListingCache;
  /** Each tool server's protocol era, probed once per URL (`upstream-era.ts`); without it every upstream is legacy. */
  eras?: UpstreamEras;
  /** Auth mode `oauth` (users' own upstream accounts); without it such tool servers are skipped. */
  oauth?: UpstreamOAuth;
  clock?: () => number;
}

export function connectToolServers(
  defs: ToolServerDefinition[],
  session: SessionContext,
  logger: Logger,
  remote?: { deps: UpstreamDeps; downstream: SessionDownstream; fresh?: boolean },
): ToolServerConnection[] {
  const out: ToolServerConnection[] = [];
  const sessions = remote ? upstreamSessionStore(remote.deps.prisma, session.sessionId, logger, { fresh: remote.fresh === true }) : undefined;
  for (const def of defs) {
    if (def.kind === 'builtin') {
      const pack = def.pack ? BUILTIN_PACKS.get(def.pack) : undefined;
      if (!pack) {
        logger.warn({ toolServer: def.name, pack: def.pack }, 'unknown built-in pack; tool server skipped');
        continue;
      }
      out.push(packConnection(pack, { name: def.name, prefix: def.prefix, session }));
      continue;
    }
    if (!remote || !sessions || !def.url) {
      logger.warn({ toolServer: def.name }, 'remote tool server without upstream support or URL; tool server skipped');
      continue;
    }
    const { deps, downstream } = remote;
    if (def.authMode === 'oauth') {
      const connection = oauthToolServer(def, session, logger, deps, downstream, sessions);
      if (connection) out.push(connection);
      continue;
    }
    try {
      const credentials = upstreamCredentials(
        { mode: def.authMode, url: def.url, header: def.authHeader, secretEncrypted: def.secretEncrypted },
        session,
        { keys: deps.keys, box: deps.box, issuer: deps.publicUrl, ...(deps.clock ? { clock: deps.clock } : {}) },
      );
      const up = upstreamOf(def, def.url, session, logger, deps, downstream, sessions, credentials, true);
      const legacy = up.connection;
      // Either era (`dual-era-upstream.ts`), when the process remembers eras; else spoken to as legacy.
      out.push(deps.eras && legacy.relay ? dualEraConnection({ name: def.name, prefix: def.prefix, url: def.url, eras: deps.eras, legacy: { ...legacy, relay: legacy.relay }, downstream, timeouts: up.timeouts, ...up.shared, streams: { fetch: up.fetch, onNotification: up.onNotification, logger } }) : legacy);
    } catch (err) {
      logger.warn({ err, toolServer: def.name }, 'remote tool server misconfigured; tool server skipped');
    }
  }
  return out;
}

/**
 * An `oauth` tool server (`oauth/`): the user's own token on every request, over the SDK client path only (no relay:
 * a 401 there renews the token once, and a refused renewal becomes the connect prompt).
 */
function oauthToolServer(
  def: ToolServerDefinition,
  session: SessionContext,
  logger: Logger,
  deps: UpstreamDeps,
  downstream: SessionDownstream,
  sessions: ReturnType<typeof upstreamSessionStore>,
): ToolServerConnection | undefined {
  if (!deps.oauth || !def.url || !def.id) {
    logger.warn({ toolServer: def.name }, 'oauth tool server without OAuth support; tool server skipped');
    return undefined;
  }
  const oauth = deps.oauth;
  const credentials = oauth.credentials(def, session);
  const inner = upstreamOf(def, def.url, session, logger, deps, downstream, sessions, credentials, false).connection;
  return oauthConnection({ inner, def, teamId: session.team.id, credentials, oauth, connectUrl: () => oauth.connectUrl(def, session), downstream, logger });
}

/**
 * A remote tool server's upstream client and its legacy-era connection, with the parts an era switch reuses.
 * `relay`: with the pooled dispatcher the relay forwards through (without it, the SDK client path only).
 */
function upstreamOf(
  def: ToolServerDefinition,
  url: string,
  session: SessionContext,
  logger: Logger,
  deps: UpstreamDeps,
  downstream: SessionDownstream,
  sessions: ReturnType<typeof upstreamSessionStore>,
  credentials: UpstreamCredentials,
  relay: boolean,
) {
  const timeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...deps.timeouts };
  const listing = listingKeys(session.team.id, def, session.user.id);
  const onNotification = (n: ServerNotification) => {
    if (n.method === 'notifications/tools/list_changed') deps.listings?.invalidate(listing.server);
    relayUpstreamNotification(def, downstream, n);
  };
  const network = { allowPrivateAddresses: def.allowPrivateAddresses === true };
  const fetch = deps.network.fetchFor(network);
  const client = new UpstreamClient({
    name: def.name,
    url,
    credentials,
    sessions,
    downstream,
    logger,
    timeouts,
    onNotification,
    fetch,
    ...(relay ? { dispatcher: deps.network.dispatcherFor(network) } : {}),
    ...(downstream.upstreamOpenedUnheard ? { onOpenedUnheard: () => downstream.upstreamOpenedUnheard!(def.name) } : {}),
  });
  const shared = deps.listings ? { listing: { cache: deps.listings, key: listing.key, server: listing.server, onChange: () => downstream.listChanged('tools') } } : {};
  const connection = upstreamConnection({ name: def.name, prefix: def.prefix, client, timeouts, ...shared });
  return { connection, timeouts, shared, fetch, onNotification };
}
