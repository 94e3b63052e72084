// Prisma 6.19's `migrate diff`, run offline, for the two places that need the SQL of a schema change: `npm run
// db:diff` (a new migration) and test/db/migrations-match-schema.test.ts (the migrations build exactly
// schema.prisma). Prisma 7's `migrate diff` needs a native schema engine that is downloaded on first use; Prisma 6.19
// ships its schema engine as WebAssembly. The root package.json installs Prisma 6.19 as a nested package
// (test/db/prisma6, through a `file:` devDependency) so that its `prisma` binary never shadows Prisma 7's. The
// WebAssembly engine insists on a connection to some PostgreSQL even to compare two files (it reads server facts and
// changes nothing).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PRISMA6_PACKAGE = fileURLToPath(new URL('../test/db/prisma6/package.json', import.meta.url));
const PLACEHOLDER_URL = 'postgresql://unused@127.0.0.1:1/unused';

/** Prisma 6.19's CLI and the modules the diff config imports, from the nested package. */
export function resolvePrisma6() {
  const require = createRequire(PRISMA6_PACKAGE);
  let manifest;
  try {
    manifest = require.resolve('prisma/package.json');
  } catch {
    manifest = undefined;
  }
  // Without the nested install, resolution walks up to the root node_modules and finds Prisma 7: refuse that.
  const version = manifest ? JSON.parse(readFileSync(manifest, 'utf8')).version : undefined;
  if (!manifest || !String(version).startsWith('6.')) {
    throw new Error(
      `Prisma 6 is not installed under test/db/prisma6/node_modules (found ${version ? `prisma ${version}` : 'none'}); ` +
        'run `npm ci` (or `npm install`) at the project root.',
    );
  }
  return {
    cli: path.join(path.dirname(manifest), 'build', 'index.js'),
    config: require.resolve('prisma/config'),
    adapterPg: require.resolve('@prisma/adapter-pg'),
  };
}

/**
 * A Prisma 7 schema as Prisma 6's `migrate diff` accepts it: no `generator` blocks (they would make the CLI look for
 * engines, and a diff needs none) and a placeholder `url` in the datasource (Prisma 6 requires one, Prisma 7 schemas
 * have none). Models, enums and views are left as they are.
 */
export function forPrisma6(schema) {
  const kept = [];
  let block; // 'generator' | 'datasource' | undefined
  let depth = 0;
  let datasources = 0;
  for (const line of schema.split('\n')) {
    const code = line.replace(/\/\/.*$/, '');
    if (!block) {
      const opening = /^\s*(generator|datasource)\s+\w+\s*\{/.exec(code);
      if (opening) {
        block = opening[1];
        depth = 0;
        if (block === 'datasource') datasources += 1;
      }
    }
    if (!block) {
      kept.push(line);
      continue;
    }
    depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
    if (block === 'datasource' && !/^\s*(url|directUrl|shadowDatabaseUrl)\s*=/.test(code)) {
      kept.push(line);
      if (/^\s*provider\s*=/.test(code)) kept.push(`  url = "${PLACEHOLDER_URL}"`);
    }
    if (depth <= 0) block = undefined;
  }
  if (datasources !== 1) throw new Error(`the schema must have one datasource block (found ${datasources})`);
  return kept.join('\n');
}

/** Runs Prisma 6's `migrate diff` from `fromSchema` (undefined = empty database) to `toSchema`; returns the SQL. */
export function diffSql(prisma6, fromSchema, toSchema, databaseUrl) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'switchboard-db-diff-'));
  try {
    // The CLI chooses which engines it needs from the schema its config names, not from the schemas it compares;
    // this one asks for the engine-free client, so nothing is downloaded.
    writeFileSync(
      path.join(work, 'engines.prisma'),
      'generator client {\n  provider   = "prisma-client"\n  output     = "./unused"\n  engineType = "client"\n}\n' +
        'datasource db {\n  provider = "postgresql"\n  url      = env("PRISMA_DIFF_DATABASE_URL")\n}\n',
    );
    // Loaded from outside the project, hence the absolute imports. allowExitOnIdle lets the CLI exit when it is done.
    writeFileSync(
      path.join(work, 'prisma.config.mjs'),
      `import { defineConfig } from ${JSON.stringify(prisma6.config)};\n` +
        `import { PrismaPg } from ${JSON.stringify(prisma6.adapterPg)};\n` +
        'export default defineConfig({\n  experimental: { adapter: true },\n  engine: "js",\n  schema: "engines.prisma",\n' +
        '  adapter: async () => new PrismaPg({ connectionString: process.env.PRISMA_DIFF_DATABASE_URL, allowExitOnIdle: true }),\n});\n',
    );
    writeFileSync(path.join(work, 'to.prisma'), forPrisma6(toSchema));
    const from = ['--from-empty'];
    if (fromSchema !== undefined) {
      writeFileSync(path.join(work, 'from.prisma'), forPrisma6(fromSchema));
      from.splice(0, 1, '--from-schema-datamodel', 'from.prisma');
    }
    const args = ['migrate', 'diff', '--config', 'prisma.config.mjs', ...from, '--to-schema-datamodel', 'to.prisma'];
    // --output: the CLI also prints "Loaded Prisma config …" on stdout.
    args.push('--script', '--output', 'out.sql');
    try {
      execFileSync(process.execPath, [prisma6.cli, ...args], {
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
        env: {
          ...process.env,
          PRISMA_DIFF_DATABASE_URL: databaseUrl,
          DATABASE_URL: databaseUrl,
          CHECKPOINT_DISABLE: '1',
          PRISMA_HIDE_UPDATE_MESSAGE: '1',
          NO_COLOR: '1',
        },
      });
    } catch (err) {
      const detail = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
      throw new Error(`prisma@6 migrate diff failed (is PostgreSQL reachable at PRISMA_DIFF_DATABASE_URL?)\n${detail}`, {
        cause: err,
      });
    }
    return readFileSync(path.join(work, 'out.sql'), 'utf8');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
