/** The migrator: Prisma-compatible bookkeeping, once across replicas, refuses edited migrations. */
import { mkdtempSync, mkdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { migrate, pendingMigrations, readMigrations, DEFAULT_MIGRATIONS_DIR, MigrationError } from '../../src/db/migrator.js';

let tdb: TestDatabase | undefined;
afterEach(async () => {
  await tdb?.drop();
  tdb = undefined;
});

function copyMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-migrations-'));
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe('migrate', () => {
  it('applies every migration once and records it in _prisma_migrations like Prisma', async () => {
    tdb = await createTestDatabase({ migrate: false });
    const names = readMigrations().map((m) => m.name);
    expect(await pendingMigrations(tdb.db.sql)).toEqual(names);
    expect(await migrate(tdb.db.sql)).toEqual(names);
    expect(await migrate(tdb.db.sql)).toEqual([]);
    expect(await pendingMigrations(tdb.db.sql)).toEqual([]);
    const rows = await tdb.db.sql.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const r of rows) {
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(r.finished_at).not.toBeNull();
      expect(r.applied_steps_count).toBe(1);
    }
  });

  it('refuses a migration edited after it was applied', async () => {
    tdb = await createTestDatabase({ migrate: false });
    const dir = copyMigrations();
    await migrate(tdb.db.sql, { dir });
    const first = readMigrations(dir)[0]!;
    writeFileSync(path.join(dir, first.name, 'migration.sql'), `${first.sql}\n-- edited\n`);
    await expect(migrate(tdb.db.sql, { dir })).rejects.toThrow(MigrationError);
    await expect(migrate(tdb.db.sql, { dir })).rejects.toThrow(/edited after it was applied/);
  });

  it('a failing migration leaves nothing behind (all in one transaction)', async () => {
    tdb = await createTestDatabase({ migrate: false });
    const dir = copyMigrations();
    mkdirSync(path.join(dir, '99990101000000_broken'));
    writeFileSync(path.join(dir, '99990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT nonsense FROM nowhere;');
    await expect(migrate(tdb.db.sql, { dir })).rejects.toThrow();
    const [t] = await tdb.db.sql.query<{ t: string | null }>(`SELECT to_regclass('half_done')::text AS t`);
    expect(t?.t).toBeNull();
    const [teams] = await tdb.db.sql.query<{ t: string | null }>(`SELECT to_regclass('teams')::text AS t`);
    expect(teams?.t).toBeNull();
  });

  it.skipIf(!TEST_DATABASE_URL)('replicas starting together migrate once (advisory lock; needs TEST_DATABASE_URL)', async () => {
    tdb = await createTestDatabase({ migrate: false });
    const others = await Promise.all([tdb.open(), tdb.open(), tdb.open()]);
    const results = await Promise.all([tdb.db, ...others].map((d) => migrate(d.sql)));
    const applied = results.flat();
    expect(applied).toEqual(readMigrations().map((m) => m.name));
    const [count] = await tdb.db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM "_prisma_migrations"');
    expect(count?.n).toBe(readMigrations().length);
  });
});
