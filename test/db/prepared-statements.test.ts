/**
 * The statements every handshake and request runs are named (`RawSql.query`'s `name`), so PostgreSQL parses them
 * once per connection; `?pgbouncer=true` in the URL (Prisma's convention for a transaction-mode pooler that cannot
 * keep them) turns that off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await tdb?.drop();
});

/** Runs a named statement twice on a one-connection pool; says whether that connection holds it prepared. */
async function preparedOnce(url: string): Promise<boolean> {
  const db: Database = await openDatabase({ url, poolSize: 1 });
  try {
    for (let i = 0; i < 2; i++) expect(await db.sql.query<{ n: number }>('SELECT $1::int + 1 AS n', [i], 'sb_test_plus_one')).toEqual([{ n: i + 1 }]);
    const held = await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'sb_test_plus_one'`);
    return held[0]!.n === 1;
  } finally {
    await db.close();
  }
}

describe.skipIf(!TEST_DATABASE_URL)('named statements (PostgreSQL only: the embedded database has no pool to prepare on)', () => {
  it('are prepared on the connection', async () => {
    expect(await preparedOnce(tdb.url!)).toBe(true);
  });

  it('are sent unnamed with ?pgbouncer=true', async () => {
    const url = new URL(tdb.url!);
    url.searchParams.set('pgbouncer', 'true');
    expect(await preparedOnce(url.toString())).toBe(false);
  });
});
