/**
 * A fresh database per test file: a new PostgreSQL database on the server of TEST_DATABASE_URL (dropped
 * afterwards), or an in-memory PGlite when TEST_DATABASE_URL is unset.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export interface TestDatabase {
  /** The database's URL (undefined for the embedded database). */
  url: string | undefined;
  /** Opens another connection to the same database (a second replica). */
  open(): Promise<Database>;
  db: Database;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) {
    const db = await openDatabase({ dataDir: 'memory://' });
    if (opts.migrate !== false) await migrate(db.sql);
    return {
      url: undefined,
      db,
      open: async () => {
        throw new Error('a second connection needs TEST_DATABASE_URL (the embedded database is single-process)');
      },
      drop: () => db.close(),
    };
  }
  const name = `sb_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const opened: Database[] = [];
  const open = async () => {
    const d = await openDatabase({ url: url.toString(), poolSize: 5 });
    opened.push(d);
    return d;
  };
  const db = await open();
  if (opts.migrate !== false) await migrate(db.sql);
  return {
    url: url.toString(),
    db,
    open,
    async drop() {
      await Promise.allSettled(opened.map((d) => d.close()));
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
