/**
 * `createServices(deps)`: the gateway's services as plain TypeScript — teams, members, tool servers, sessions,
 * users, audit, keys — over the database and the runtime. The edges call these and nothing else: the admin API's
 * routes, the console's pages, the CLI's commands (`openOperatorServices` below) and the HTTP app (`app.services`).
 * None of them touches the ORM; ESLint holds them to it (docs/architecture.md §Layers).
 *
 * Each service is a frozen object of functions with the dependencies already bound, built once per app (or CLI
 * command): calling one costs a closure call, nothing per request. Every change is audited with the caller's
 * `AdminPrincipal.actor` (`api_key`, `user:<id>`, `cli`); reads are scoped to what that principal may see where the
 * function takes one.
 */
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import type { ServiceDeps } from './admin/service-deps.js';
import { createTeamAs, deleteTeam, findTeam, listTeams, listTeamsVisibleTo, updateTeam } from './admin/teams-service.js';
import { addMember, cancelInvitation, listInvitations, listMembers, removeMember, removeMemberByEmail } from './admin/members-service.js';
import { addToolServerInput, createToolServer, getToolServer, listToolServers, removeToolServer, updateToolServer } from './admin/tool-servers-service.js';
import { endSession, findSessionFor, getSession, listAllSessions, listOwnSessions, listTeamSessions, listUserSessions } from './admin/sessions-service.js';
import { findUsersByEmail, principalOfAuthorization, principalOfUser } from './admin/users-service.js';
import { lastCallByToolServer, listAudit, toolCallsPerMinute } from './admin/audit-service.js';
import { listUserConnections, revokeUserConnection } from './admin/connections-service.js';
import { readMembers, readTeams, readToolServers } from './authserver/dev-read-router.js';
import { mintLocalToken } from './authserver/local-token.js';
import { nonMemberProblem } from './authserver/token-membership.js';
import { createAuthorizationCodes } from './authserver/authorization-codes.js';
import { createRefreshTokens } from './authserver/refresh-tokens.js';
import { ensureFirstPartyClient } from './authserver/first-party-client.js';
import { createKeyStore } from './authserver/signing-keys.js';
import { createTeamDirectory } from './teams/team-directory.js';
import { createUserDirectory } from './teams/users.js';
import { createLogger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createAuditLog } from './observability/audit.js';
import { createSecretBox, resolveEncryptionKey, type SecretBox } from './security/secret-box.js';
import { createSessionStore } from './sessions/session-store.js';
import { createSessionRuntime } from './mcp/session-runtime.js';
import { CONSOLE_CLIENT_ID, consoleClient } from './console/console-client.js';

export type { ServiceDeps } from './admin/service-deps.js';

/** Binds a service function's first argument, the dependencies. */
function binder(deps: ServiceDeps) {
  return <A extends unknown[], R>(fn: (deps: ServiceDeps, ...args: A) => R) =>
    (...args: A): R =>
      fn(deps, ...args);
}

/** The services over `deps`: a frozen object of frozen services. */
export function createServices(deps: ServiceDeps) {
  const bind = binder(deps);
  const prisma = () => deps.db.prisma;
  const services = {
    teams: {
      create: bind(createTeamAs),
      find: bind(findTeam),
      list: bind(listTeams),
      listVisibleTo: bind(listTeamsVisibleTo),
      update: bind(updateTeam),
      delete: bind(deleteTeam),
      /** Every team, unpaged (the CLI's `teams list`; `GET /dev/teams`). */
      overview: () => readTeams(prisma()),
    },
    members: {
      list: bind(listMembers),
      add: bind(addMember),
      remove: bind(removeMember),
      removeByEmail: bind(removeMemberByEmail),
      listInvitations: bind(listInvitations),
      cancelInvitation: bind(cancelInvitation),
      /** A team's members and invitations, unpaged (the CLI's `members list`). */
      overview: (slug: string) => readMembers(prisma(), slug),
    },
    toolServers: {
      list: bind(listToolServers),
      get: bind(getToolServer),
      create: bind(createToolServer),
      /** `create` for input not validated yet (the CLI's flags). */
      add: bind(addToolServerInput),
      update: bind(updateToolServer),
      remove: bind(removeToolServer),
      /** A team's tool servers, unpaged (the CLI's `tool-servers list`). */
      overview: (slug: string) => readToolServers(prisma(), slug),
    },
    sessions: {
      listAll: bind(listAllSessions),
      listForTeam: bind(listTeamSessions),
      listForUser: bind(listUserSessions),
      listOwn: bind(listOwnSessions),
      find: bind(findSessionFor),
      get: bind(getSession),
      end: bind(endSession),
    },
    users: {
      findByEmail: bind(findUsersByEmail),
      principalOf: bind(principalOfUser),
      principalOfAuthorization: bind(principalOfAuthorization),
    },
    /** Users' own accounts at `oauth` tool servers, as admins see them (never the tokens). */
    connections: {
      listForUser: bind(listUserConnections),
      revokeForUser: bind(revokeUserConnection),
    },
    audit: {
      list: bind(listAudit),
      perMinute: bind(toolCallsPerMinute),
      lastCallByToolServer: bind(lastCallByToolServer),
      /** Writes the records still batched (tests, and the CLI before it closes the database). */
      flush: () => deps.audit.flush(),
    },
    keys: {
      /** An access token from the built-in issuer for local use (`switchboard token`). */
      mintLocalToken: (opts: { email: string; team: string | undefined; ttl: string; clientId: string }) =>
        mintLocalToken({ db: deps.db, config: deps.config, encryptionKey: deps.encryptionKey, ...opts }),
      /** Why a token for `email` in team `slug` would be refused at the team's endpoint, or undefined. */
      nonMemberProblem: (slug: string, email: string) => nonMemberProblem(prisma(), slug, email),
      /** Makes sure the console's client registration is there (once per process). */
      ensureConsoleClient: ensureFirstPartyClient(deps.db.prisma, CONSOLE_CLIENT_ID, consoleClient(deps.config.publicUrl)),
      /** Authorization codes, as the console redeems them in-process. */
      authorizationCodes: createAuthorizationCodes({ prisma: deps.db.prisma, clock: deps.clock, refreshTokens: createRefreshTokens({ prisma: deps.db.prisma, clock: deps.clock }) }),
    },
  };
  for (const service of Object.values(services)) Object.freeze(service);
  return Object.freeze(services);
}

export type Services = ReturnType<typeof createServices>;

/**
 * The stores that the session runtime, the authorization server and the services share: the signing keys and the
 * team and user directories (each with its cache), built once per app over the database.
 */
export function createStores(deps: { db: Database; box: SecretBox; clock: () => number }) {
  return {
    keys: createKeyStore({ prisma: deps.db.prisma, box: deps.box, clock: deps.clock }),
    teams: createTeamDirectory(deps.db),
    users: createUserDirectory(deps.db.prisma, deps.db.sql),
  };
}

/**
 * The services for one CLI command over an open database: a session runtime that holds no sessions (it closes them
 * in the database and tells the replicas), an audit log, the directories. `close()` writes the audit records still
 * batched; call it before closing the database.
 */
export function openOperatorServices(config: Config, db: Database): { services: Services; close(): Promise<void> } {
  const logger = createLogger({ level: 'warn' });
  const metrics = createMetrics();
  const audit = createAuditLog(db.sql, logger, { metrics });
  const store = createSessionStore(db, { idleTtlMs: config.sessionIdleTtlMs, maxAgeMs: config.sessionMaxAgeMs });
  const sessions = createSessionRuntime({ db, store, logger, metrics, audit, cacheSize: 1, cacheTtlMs: config.sessionCacheTtlMs });
  // Read lazily: listing teams must not write a key file into DATA_DIR (the gateway's first start does that).
  let encryptionKey: Buffer | undefined;
  let box: SecretBox | undefined;
  const deps: ServiceDeps = {
    config,
    db,
    get encryptionKey() {
      return (encryptionKey ??= resolveEncryptionKey(config.encryptionKey, config.dataDir));
    },
    get box() {
      return (box ??= createSecretBox(this.encryptionKey));
    },
    teams: createTeamDirectory(db),
    users: createUserDirectory(db.prisma),
    sessions,
    audit,
    logger,
    clock: Date.now,
  };
  const services = createServices(deps);
  return { services, close: () => audit.close(Date.now() + 5_000) };
}
