#!/usr/bin/env node
// `npm run db:diff -- --new <name>`: writes the SQL migration for a change to prisma/schema.prisma, offline.
//
// Prisma 7's `migrate dev`/`migrate diff` need a native schema engine that is downloaded on first use; on machines
// without internet access that fails. Prisma 6.19 ships its schema engine as WebAssembly, and its `migrate diff` can
// compare two datamodels with it. The root package.json installs Prisma 6.19 as a nested package (test/db/prisma6,
// through a `file:` devDependency) so that its `prisma` binary never shadows Prisma 7's; this script runs that CLI.
//
// What is compared: the schema as the migrations left it, and the working tree's schema. "As the migrations left it"
// is schema.prisma in the newest commit that changed prisma/migrations (every migration is committed together with
// its schema change), so a schema change committed without its migration is still found. `--from <git ref>` picks
// another starting point; a repository without migrations starts from an empty database.
//
// The WebAssembly engine insists on a connection to some PostgreSQL even to compare two files (it reads server facts
// and changes nothing): PRISMA_DIFF_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { diffSql, resolvePrisma6 } from './prisma6-diff.mjs';

const USAGE = `Usage: npm run db:diff -- --new <name> [--from <git ref>] [--print]
  [--schema prisma/schema.prisma] [--migrations prisma/migrations]

Writes <migrations>/<UTC timestamp>_<name>/migration.sql with the SQL that moves the database from the schema the
migrations describe (schema.prisma in the newest commit that changed <migrations>, or --from <git ref>) to the
working tree's schema.prisma, and prints its path. --print writes nothing and prints the SQL instead.
Needs a reachable PostgreSQL for Prisma's engine: PRISMA_DIFF_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); nothing is written to it.`;

const EMPTY_MIGRATION = '-- This is an empty migration.';

class UsageError extends Error {}

function parseCommandLine(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      new: { type: 'string' },
      from: { type: 'string' },
      print: { type: 'boolean', default: false },
      schema: { type: 'string', default: 'prisma/schema.prisma' },
      migrations: { type: 'string', default: 'prisma/migrations' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { help: true };
  if (!values.new && !values.print) throw new UsageError('--new <name> is required');
  if (values.new !== undefined && !/^[a-z0-9][a-z0-9_]{0,99}$/.test(values.new)) {
    throw new UsageError(`--new "${values.new}": use lower-case letters, digits and underscores (e.g. add_team_motto)`);
  }
  return { ...values, help: false };
}


/** The commit whose schema the migrations describe: the newest one that changed the migrations folder. */
function lastMigrationCommit(migrations) {
  const out = git(['log', '-1', '--format=%H', '--', migrations]);
  return out === '' ? undefined : out;
}

function git(args) {
  return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** schema.prisma as of `ref` (a path relative to the current folder), or undefined when that commit has none. */
function schemaAt(ref, schema) {
  try {
    return git(['show', `${ref}:./${path.relative('.', schema)}`]) + '\n';
  } catch {
    return undefined;
  }
}

/**
 * Refuses to start from the last migration commit while the migrations folder has changes that are not committed: a
 * migration written by an earlier run and not yet committed would otherwise be written a second time.
 */
function assertMigrationsCommitted(migrations) {
  const pending = git(['status', '--porcelain', '--', migrations]);
  if (pending !== '') {
    throw new UsageError(
      `${migrations} has uncommitted changes:\n${pending}\nCommit them with their schema.prisma change first ` +
        '(the diff starts from the newest commit that changed the migrations), or name a starting point with --from.',
    );
  }
}


/** YYYYMMDDHHMMSS in UTC, Prisma's migration folder prefix. */
function utcTimestamp(now) {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The folder for the new migration; refuses one that would not sort after every existing migration. */
function newMigrationDir(migrations, name, now) {
  const stamp = utcTimestamp(now);
  const existing = existsSync(migrations) ? readdirSync(migrations).filter((d) => /^\d{14}_/.test(d)).sort() : [];
  const newest = existing.at(-1);
  if (newest !== undefined && newest.slice(0, 14) >= stamp) {
    throw new Error(`the newest migration ${newest} is not older than ${stamp} (clock?): migrations apply in name order`);
  }
  return path.join(migrations, `${stamp}_${name}`);
}

function main() {
  const options = parseCommandLine(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const prisma6 = resolvePrisma6();
  const databaseUrl = process.env.PRISMA_DIFF_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  if (options.from === undefined) assertMigrationsCommitted(options.migrations);
  const base = options.from ?? lastMigrationCommit(options.migrations);
  const fromSchema = base === undefined ? undefined : schemaAt(base, options.schema);
  if (options.from !== undefined && fromSchema === undefined) throw new UsageError(`no ${options.schema} at ${options.from}`);
  const sql = diffSql(prisma6, fromSchema, readFileSync(options.schema, 'utf8'), databaseUrl);
  if (sql.trim() === '' || sql.trim() === EMPTY_MIGRATION) {
    console.error(`db:diff: ${options.schema} has no change since ${base ? `commit ${base.slice(0, 12)}` : 'an empty database'}`);
    return;
  }
  if (options.print) {
    process.stdout.write(sql);
    return;
  }
  const dir = newMigrationDir(options.migrations, options.new, new Date());
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'migration.sql');
  writeFileSync(file, sql.endsWith('\n') ? sql : `${sql}\n`);
  console.log(file);
}

try {
  main();
} catch (err) {
  console.error(`db:diff: ${err instanceof Error ? err.message : String(err)}`);
  if (err instanceof UsageError) console.error(`\n${USAGE}`);
  process.exit(err instanceof UsageError ? 2 : 1);
}
