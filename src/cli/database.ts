/**
 * Opening the database for one CLI command, and the admin services' dependencies around it, so the CLI changes
 * teams and members through the same code as the admin API (same rules, audit records, ended sessions announced to
 * every replica). Everything is imported when a command runs, never for `--help`.
 */
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { AdminDeps } from '../admin/route.js';
import type { AdminPrincipal } from '../admin/admin-principal.js';
import { CliError } from './command.js';

/** The operator at the console: may do everything, recorded in the audit log as `cli`. */
export const CLI_PRINCIPAL: AdminPrincipal = { kind: 'api_key', platform: true, userId: null, email: null, adminTeams: new Map(), actor: 'cli' };

/** Opens (and migrates) the database, runs `fn`, closes. The embedded database refuses while a gateway holds it. */
export async function withDatabase<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const [{ openAndMigrate }, { createLogger }] = await Promise.all([import('../main.js'), import('../observability/logger.js')]);
  const db = await openAndMigrate(config, createLogger({ level: 'warn' }));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The id of the team with this slug, or a one-line error. */
export async function teamIdOf(db: Database, slug: string): Promise<string> {
  const team = await db.prisma.team.findUnique({ where: { slug }, select: { id: true } });
  if (!team) throw new CliError(`No team ${JSON.stringify(slug)} exists`);
  return team.id;
}

/** Runs `fn` with the admin services' dependencies; audit records are written before the database closes. */
export async function withAdmin<T>(config: Config, fn: (deps: AdminDeps) => Promise<T>): Promise<T> {
  const [{ createLogger }, { createSecretBox, resolveEncryptionKey }, { createMetrics }, { createAuditLog }, { createSessionStore }, { createSessionRuntime }, { createTeamDirectory }, { createUserDirectory }] =
    await Promise.all([
      import('../observability/logger.js'),
      import('../security/secret-box.js'),
      import('../observability/metrics.js'),
      import('../observability/audit.js'),
      import('../sessions/session-store.js'),
      import('../mcp/session-runtime.js'),
      import('../teams/team-directory.js'),
      import('../teams/users.js'),
    ]);
  return withDatabase(config, async (db) => {
    const logger = createLogger({ level: 'warn' });
    const metrics = createMetrics();
    const audit = createAuditLog(db.sql, logger, { metrics });
    const store = createSessionStore(db, { idleTtlMs: config.sessionIdleTtlMs, maxAgeMs: config.sessionMaxAgeMs });
    // Holds no sessions itself: it only closes them in the database and tells the replicas (NOTIFY) to end theirs.
    const sessions = createSessionRuntime({ db, store, logger, metrics, audit, cacheSize: 1, cacheTtlMs: config.sessionCacheTtlMs });
    const deps: AdminDeps = {
      config,
      db,
      box: createSecretBox(resolveEncryptionKey(config.encryptionKey, config.dataDir)),
      teams: createTeamDirectory(db),
      users: createUserDirectory(db.prisma),
      sessions,
      audit,
      logger,
      clock: Date.now,
    };
    try {
      return await fn(deps);
    } finally {
      await audit.close(Date.now() + 5_000);
    }
  });
}
