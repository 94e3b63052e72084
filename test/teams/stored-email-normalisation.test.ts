/**
 * Issue #9 item 1: e-mail addresses are compared with `=`, so the ones stored before that change must be in the
 * normalised form too. The `team_invitations` migration trims and lower-cases existing addresses.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from '../../src/db/migrator.js';

let tdb: TestDatabase;
let before: string;
beforeAll(async () => {
  tdb = await createTestDatabase({ migrate: false });
  before = mkdtempSync(path.join(os.tmpdir(), 'sb-migrations-'));
  const names = readMigrations().map((m) => m.name);
  for (const name of names.slice(0, names.findIndex((n) => n.endsWith('_team_invitations')))) {
    cpSync(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(before, name), { recursive: true });
  }
  await migrate(tdb.db.sql, { dir: before });
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(before, { recursive: true, force: true });
});

describe('the team_invitations migration', () => {
  it('normalises the e-mail addresses already stored (blank ones become null)', async () => {
    await tdb.db.sql.exec(`INSERT INTO users (id, issuer, subject, email, updated_at) VALUES
      ('00000000-0000-4000-8000-000000000001', 'urn:test', 'a', '  Ada@Example.COM ', now()),
      ('00000000-0000-4000-8000-000000000002', 'urn:test', 'b', 'grace@example.com', now()),
      ('00000000-0000-4000-8000-000000000003', 'urn:test', 'c', '   ', now()),
      ('00000000-0000-4000-8000-000000000004', 'urn:test', 'd', NULL, now())`);
    const applied = await migrate(tdb.db.sql);
    expect(applied.some((n) => n.endsWith('_team_invitations'))).toBe(true);
    const rows = await tdb.db.sql.query<{ subject: string; email: string | null }>('SELECT subject, email FROM users ORDER BY subject');
    expect(rows).toEqual([
      { subject: 'a', email: 'ada@example.com' },
      { subject: 'b', email: 'grace@example.com' },
      { subject: 'c', email: null },
      { subject: 'd', email: null },
    ]);
  });
});
