/**
 * Opens the gateway's database: PostgreSQL through `@prisma/adapter-pg` when a URL is given, otherwise the embedded
 * PGlite through `pglite-prisma-adapter`. Both expose the same Prisma client and the same `RawSql`.
 */
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { pgRawSql, pgliteRawSql, type RawSql } from './raw-sql.js';

export type { PrismaClient } from '../generated/prisma/client.js';

export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly prisma: PrismaClient;
  readonly sql: RawSql;
  /** True when several processes may share this database (LISTEN/NOTIFY and advisory locks matter). */
  readonly shared: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgresql://…`; when absent the embedded database is used. */
  url?: string | undefined;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  onError?: (err: Error) => void;
  poolSize?: number;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const onError = opts.onError ?? (() => undefined);
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 });
    // An idle client that loses its connection emits 'error' on the pool; unhandled, that would crash the process.
    pool.on('error', onError);
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    const sql = pgRawSql(pool, onError);
    return {
      kind: 'postgres',
      prisma,
      sql,
      shared: true,
      async close() {
        await prisma.$disconnect().catch(() => undefined);
        await sql.close();
        await pool.end().catch(() => undefined);
      },
    };
  }
  const dataDir = opts.dataDir ?? './.data';
  let pglite: PGlite;
  if (dataDir === 'memory://') pglite = new PGlite();
  else {
    mkdirSync(dataDir, { recursive: true });
    pglite = new PGlite(`${dataDir}/pgdata`);
  }
  await pglite.waitReady;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: 'embedded',
    prisma,
    sql: pgliteRawSql(pglite),
    shared: false,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pglite.close().catch(() => undefined);
    },
  };
}
