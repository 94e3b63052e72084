/**
 * Opens the gateway's database: PostgreSQL through `@prisma/adapter-pg` when a URL is given, otherwise the embedded
 * PGlite through `pglite-prisma-adapter`, under an exclusive lock on its folder. Both expose the same Prisma client
 * and the same `RawSql`.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { pgRawSql, pgliteRawSql, type RawSql } from './raw-sql.js';
import { acquireEmbeddedLock, type EmbeddedLock } from './embedded-lock.js';

export type { PrismaClient } from '../generated/prisma/client.js';

export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly prisma: PrismaClient;
  readonly sql: RawSql;
  /** True when several processes may share this database (LISTEN/NOTIFY and advisory locks matter). */
  readonly shared: boolean;
  /** Embedded: records in the folder's lock where this process serves, so the CLI asks it instead. Else a no-op. */
  advertise(url: string): void;
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
    // `?pgbouncer=true` (Prisma's convention): a pooler in transaction mode may not keep prepared statements.
    const sql = pgRawSql(pool, onError, !/[?&]pgbouncer=true(?:&|$)/i.test(opts.url));
    return {
      kind: 'postgres',
      prisma,
      sql,
      shared: true,
      advertise: () => undefined,
      async close() {
        await prisma.$disconnect().catch(() => undefined);
        await sql.close();
        await pool.end().catch(() => undefined);
      },
    };
  }
  const dataDir = opts.dataDir ?? './.data';
  // Taken before PGlite touches the folder: a second process must not even start reading it.
  const lock: EmbeddedLock | undefined = dataDir === 'memory://' ? undefined : acquireEmbeddedLock(dataDir);
  let pglite: PGlite;
  try {
    pglite = dataDir === 'memory://' ? new PGlite() : new PGlite(`${dataDir}/pgdata`);
    await pglite.waitReady;
  } catch (err) {
    lock?.release();
    throw err;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: 'embedded',
    prisma,
    sql: pgliteRawSql(pglite),
    shared: false,
    advertise: (url) => lock?.advertise(url),
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pglite.close().catch(() => undefined);
      lock?.release();
    },
  };
}
