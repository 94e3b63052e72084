/**
 * Opening the database for one CLI command and the services over it (`openOperatorServices`), so the CLI reads and
 * changes teams, members and tool servers through the same code as the admin API (same rules, audit records as
 * `cli`, ended sessions and tool-server changes announced to every replica). Everything is imported when a command
 * runs, never for `--help`.
 */
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { AdminPrincipal } from '../admin/admin-principal.js';
import type { Services } from '../services.js';

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

/** Runs `fn` with the services over the database; audit records are written before the database closes. */
export async function withServices<T>(config: Config, fn: (services: Services) => Promise<T>): Promise<T> {
  const { openOperatorServices } = await import('../services.js');
  return withDatabase(config, async (db) => {
    const { services, close } = openOperatorServices(config, db);
    try {
      return await fn(services);
    } finally {
      await close();
    }
  });
}
