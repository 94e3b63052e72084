/**
 * Bench harness: a fresh PostgreSQL database for the gateway under test, and the statistics the report uses.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { appModule } from './gateway-code.js';
import type * as DatabaseModule from '../src/db/database.js';
import type * as MigratorModule from '../src/db/migrator.js';

const dbModule = () => appModule<typeof DatabaseModule>('db/database');

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export async function benchDatabase(): Promise<{ db: Database; name: string; drop(): Promise<void> }> {
  const name = `sb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = await (await dbModule()).openDatabase({ url: url.toString(), poolSize: 10 });
  await (await appModule<typeof MigratorModule>('db/migrator')).migrate(db.sql);
  return {
    db,
    name,
    async drop() {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Another process's connection to a database `benchDatabase` made (a gateway replica joining the first). */
export async function joinBenchDatabase(name: string): Promise<Database> {
  if (!/^sb_bench_[0-9a-f]{8}$/.test(name)) throw new Error(`not a bench database: ${name}`);
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${name}`;
  return (await dbModule()).openDatabase({ url: url.toString(), poolSize: 10 });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!finite.length) return NaN;
  const mid = finite.length / 2;
  return Number.isInteger(mid) ? (finite[mid - 1]! + finite[mid]!) / 2 : finite[Math.floor(mid)]!;
}

export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
