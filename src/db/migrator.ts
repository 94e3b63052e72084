/**
 * Applies the SQL migrations in `prisma/migrations/<timestamp>_<name>/migration.sql` and records them in
 * `_prisma_migrations` exactly as Prisma does, so `prisma migrate deploy` keeps working wherever its schema engine
 * can be downloaded. Written by hand because that engine cannot be fetched on offline machines.
 *
 * Replicas starting together migrate once: the whole run holds a transaction-level advisory lock. An applied
 * migration whose file changed since is refused (checksum mismatch), as Prisma does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSql } from './raw-sql.js';

// src/db and dist/db are both two levels below the package root.
export const DEFAULT_MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'prisma',
  'migrations',
);

// Any constant works; it only has to be the same in every replica. ("sbmigrate" as a 64-bit number.)
const MIGRATION_LOCK_KEY = '7593286410873497189';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Migration[] {
  if (!existsSync(dir)) throw new MigrationError(`migrations folder not found: ${dir}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/** Applies pending migrations; returns the names applied in this run. */
export async function migrate(
  sql: RawSql,
  opts: { dir?: string; log?: (msg: string) => void } = {},
): Promise<string[]> {
  const migrations = readMigrations(opts.dir);
  const log = opts.log ?? (() => undefined);
  return sql.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.exec(BOOKKEEPING);
    const rows = await tx.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const applied = new Map(rows.map((r) => [r.migration_name, r]));
    checkApplied(migrations, applied);
    const done: string[] = [];
    for (const m of migrations) {
      if (applied.has(m.name)) continue;
      log(`applying migration ${m.name}`);
      await tx.exec(m.sql);
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
         VALUES ($1, $2, now(), $3, 1)`,
        [randomUUID(), m.checksum, m.name],
      );
      done.push(m.name);
    }
    return done;
  });
}

function checkApplied(migrations: Migration[], applied: Map<string, AppliedRow>): void {
  const known = new Map(migrations.map((m) => [m.name, m]));
  for (const [name, row] of applied) {
    const m = known.get(name);
    if (!row.finished_at) {
      throw new MigrationError(`migration ${name} started but never finished; fix the database by hand, then mark it rolled back`);
    }
    if (m && m.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${name} was edited after it was applied (checksum differs); restore the file and add a new migration instead`,
      );
    }
  }
}

/** Names of migrations not yet applied (empty when the schema is current). Used by /ready. */
export async function pendingMigrations(sql: RawSql, dir?: string): Promise<string[]> {
  const names = readMigrations(dir).map((m) => m.name);
  const [exists] = await sql.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
  if (!exists?.t) return names;
  const rows = await sql.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  const applied = new Set(rows.map((r) => r.migration_name));
  return names.filter((n) => !applied.has(n));
}
