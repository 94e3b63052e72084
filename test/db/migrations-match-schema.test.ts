/**
 * Proves that the SQL migrations in prisma/migrations build exactly the database that prisma/schema.prisma describes.
 *
 * Two scratch databases are created on the server of TEST_DATABASE_URL: one gets our migrations through our own
 * migrator, the other gets the SQL that Prisma itself writes for "empty → schema.prisma" (Prisma 6's WebAssembly
 * schema engine, see scripts/prisma6-diff.mjs). Their catalogs (tables, columns, enums, sequences, indexes,
 * constraints) must be identical. So editing schema.prisma without adding a migration fails here, and so does a migration that drifts.
 *
 * To add the missing migration: npm run db:diff -- --new <name> (writes prisma/migrations/<ts>_<name>/migration.sql).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrator.js';
import { pgRawSql, type RawSql } from '../../src/db/raw-sql.js';
import { diffSql, resolvePrisma6 } from '../../scripts/prisma6-diff.mjs';
import { describeSchema, diffCatalogs } from './schema-catalog.js';

const url = process.env.TEST_DATABASE_URL;
const SCHEMA_PATH = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url));
const NEEDS = '(needs TEST_DATABASE_URL: a real PostgreSQL)';
const TIMEOUT = 120_000;

interface ScratchDatabase {
  url: string;
  sql: RawSql;
}

const run = randomBytes(4).toString('hex');
const created: { name: string; pool: pg.Pool }[] = [];

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database `sb_schema_<run>_<suffix>` on the TEST_DATABASE_URL server; afterAll drops it. */
async function scratchDatabase(suffix: string): Promise<ScratchDatabase> {
  const name = `sb_schema_${run}_${suffix}`;
  await admin((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const dbUrl = new URL(url!);
  dbUrl.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 2 });
  pool.on('error', () => undefined);
  created.push({ name, pool });
  return { url: dbUrl.toString(), sql: pgRawSql(pool, () => undefined) };
}

/** The catalog of a fresh database after our migrator applied prisma/migrations (built once, shared by the tests). */
let migratedCatalog: Promise<string[]> | undefined;
function catalogFromMigrations(): Promise<string[]> {
  migratedCatalog ??= (async () => {
    const db = await scratchDatabase('migrations');
    const applied = await migrate(db.sql);
    expect(applied.length, 'prisma/migrations holds no migration').toBeGreaterThan(0);
    return describeSchema(db.sql);
  })();
  return migratedCatalog;
}

/** The catalog of a fresh database after the SQL Prisma writes for "empty → schemaSource" was run on it. */
async function catalogFromSchema(schemaSource: string, suffix: string): Promise<string[]> {
  const db = await scratchDatabase(suffix);
  // Prisma 6's offline diff (the same as `npm run db:diff` uses), from an empty database.
  const script = diffSql(resolvePrisma6(), undefined, schemaSource, db.url);
  expect(script, 'Prisma produced no SQL for the schema').toMatch(/CREATE TABLE/);
  await db.sql.exec(script);
  return describeSchema(db.sql);
}

afterAll(async () => {
  if (!url) return;
  for (const { pool } of created) await pool.end().catch(() => undefined);
  await admin(async (c) => {
    for (const { name } of created) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });
});

describe('prisma/migrations against prisma/schema.prisma', () => {
  it.skipIf(!url)(
    `the SQL migrations build exactly the tables, columns, enums, indexes and constraints schema.prisma describes ${NEEDS}`,
    async () => {
      const [fromMigrations, fromSchema] = await Promise.all([
        catalogFromMigrations(),
        catalogFromSchema(readFileSync(SCHEMA_PATH, 'utf8'), 'schema'),
      ]);
      // Guard against comparing two empty catalogs.
      expect(fromMigrations.filter((l) => l.startsWith('table ')).length).toBeGreaterThan(0);
      expect(
        diffCatalogs(fromMigrations, fromSchema),
        'prisma/migrations and prisma/schema.prisma disagree. If schema.prisma changed, add a migration ' +
          '(npm run db:diff -- --new <name>); if a migration was hand-edited, make it match the schema.',
      ).toEqual({ onlyInMigrations: [], onlyInSchemaPrisma: [] });
    },
    TIMEOUT,
  );

  it.skipIf(!url)(
    `notices a schema.prisma change that has no migration: a column added to a copy of the schema shows up ${NEEDS}`,
    async () => {
      const original = readFileSync(SCHEMA_PATH, 'utf8');
      // Add an optional column to the first model of a private copy (the real file is not touched).
      const modified = original.replace(
        /^(model\s+\w+\s*\{[^\n]*\n)/m,
        '$1  driftCheckProbe String? @map("drift_check_probe")\n',
      );
      expect(modified, 'schema.prisma has no model to add the probe column to').not.toBe(original);
      const [fromMigrations, fromModified] = await Promise.all([
        catalogFromMigrations(),
        catalogFromSchema(modified, 'modified'),
      ]);
      // Whatever else may differ (the test above reports that), the probe column must be among the differences.
      expect(diffCatalogs(fromMigrations, fromModified).onlyInSchemaPrisma).toContainEqual(
        expect.stringMatching(/^column \w+\.drift_check_probe: text$/),
      );
    },
    TIMEOUT,
  );
});
