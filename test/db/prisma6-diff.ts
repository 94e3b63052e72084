/**
 * Turns a Prisma schema into the SQL that creates it from an empty database ("empty → schema"), offline.
 *
 * Prisma 7's `migrate diff` needs a native schema engine that cannot be downloaded on our machines. Prisma 6.19's CLI
 * ships a WebAssembly schema engine that can do the same diff when it is given a driver adapter, so we run that CLI
 * (installed by `npm ci` into test/db/prisma6/node_modules, see the package.json there) the way
 * scripts/db-diff.mjs (`npm run db:diff`) does:
 *  - a Prisma config that selects the JS engine and the PG driver adapter. That engine insists on connecting to some
 *    PostgreSQL; it only reads server facts there and changes nothing;
 *  - an "engine hint" schema named in that config: the CLI picks which engines to fetch from the config's schema, and
 *    this one asks for the engine-free client, so nothing is downloaded;
 *  - a private copy of the schema to diff, with the generator blocks dropped (they would ask for engines, and a diff
 *    needs none) and a placeholder `url` in the datasource (Prisma 6 requires one; Prisma 7 schemas have none).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const PRISMA6_PACKAGE = fileURLToPath(new URL('./prisma6/package.json', import.meta.url));

interface Prisma6Paths {
  cli: string;
  config: string;
  adapterPg: string;
}

function resolvePrisma6(): Prisma6Paths {
  const require = createRequire(PRISMA6_PACKAGE);
  try {
    return {
      cli: path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'index.js'),
      config: require.resolve('prisma/config'),
      adapterPg: require.resolve('@prisma/adapter-pg'),
    };
  } catch (err) {
    throw new Error(
      `Prisma 6 (for offline schema diffs) is not installed under test/db/prisma6/node_modules; run \`npm ci\` or \`npm install\` at the project root. (${String(err)})`,
      { cause: err },
    );
  }
}

const ENGINE_HINT = `generator client {
  provider   = "prisma-client"
  output     = "./unused-client"
  engineType = "client"
}
datasource db {
  provider = "postgresql"
  url      = env("PRISMA_DIFF_DATABASE_URL")
}
`;

const PLACEHOLDER_URL = 'postgresql://unused@127.0.0.1:1/unused';

/**
 * Makes a Prisma 7 schema acceptable to Prisma 6's `migrate diff`: drops every `generator` block and gives the
 * `datasource` block a placeholder `url` (replacing any url settings it has). Models, enums and the rest are untouched.
 */
export function toPrisma6Schema(source: string): string {
  const out: string[] = [];
  let block: 'generator' | 'datasource' | undefined;
  let depth = 0;
  let sawDatasource = false;
  for (const line of source.split('\n')) {
    const code = line.replace(/\/\/.*$/, '');
    if (block === undefined) {
      if (/^\s*generator\s+\w+\s*\{/.test(code)) block = 'generator';
      else if (/^\s*datasource\s+\w+\s*\{/.test(code)) {
        block = 'datasource';
        sawDatasource = true;
      }
      depth = 0;
    }
    if (block === undefined) {
      out.push(line);
      continue;
    }
    depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
    if (block === 'datasource') {
      if (!/^\s*(url|directUrl|shadowDatabaseUrl)\s*=/.test(code)) out.push(line);
      if (/^\s*provider\s*=/.test(code)) out.push(`  url = "${PLACEHOLDER_URL}"`);
    }
    if (depth <= 0) block = undefined;
  }
  if (!sawDatasource) throw new Error('schema has no datasource block');
  return out.join('\n');
}

/**
 * The SQL that Prisma would write for "empty database → `schemaSource`" (what `prisma migrate diff --from-empty
 * --to-schema-datamodel … --script` prints). `databaseUrl` is the PostgreSQL the WebAssembly engine connects to while
 * diffing; nothing is written to it.
 */
export async function prismaSqlForSchema(schemaSource: string, databaseUrl: string): Promise<string> {
  const prisma6 = resolvePrisma6();
  const work = await mkdtemp(path.join(os.tmpdir(), 'sb-prisma6-diff-'));
  try {
    await writeFile(path.join(work, 'engine-hint.prisma'), ENGINE_HINT);
    // Loaded by Prisma 6 (through jiti) from a folder outside the project, so it imports by absolute path.
    // allowExitOnIdle: otherwise the pool's idle connection keeps the CLI alive for another 10 s after it is done.
    await writeFile(
      path.join(work, 'diff.config.mjs'),
      `import { defineConfig } from ${JSON.stringify(prisma6.config)};
import { PrismaPg } from ${JSON.stringify(prisma6.adapterPg)};
export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "engine-hint.prisma",
  adapter: async () => new PrismaPg({ connectionString: process.env.PRISMA_DIFF_DATABASE_URL, allowExitOnIdle: true }),
});
`,
    );
    await writeFile(path.join(work, 'to.prisma'), toPrisma6Schema(schemaSource));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PRISMA_DIFF_DATABASE_URL: databaseUrl,
      DATABASE_URL: databaseUrl,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      NO_COLOR: '1',
    };
    const args = [
      prisma6.cli,
      'migrate',
      'diff',
      '--config',
      'diff.config.mjs',
      '--from-empty',
      '--to-schema-datamodel',
      'to.prisma',
      '--script',
      // The CLI also prints "Loaded Prisma config from …" on stdout, so the script goes to a file.
      '--output',
      'out.sql',
    ];
    try {
      await execFileAsync(process.execPath, args, { cwd: work, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`prisma@6 migrate diff failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
    }
    return await readFile(path.join(work, 'out.sql'), 'utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
