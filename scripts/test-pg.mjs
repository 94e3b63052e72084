#!/usr/bin/env node
// `npm run test:pg [-- vitest args]`: the test suite against the local PostgreSQL, including the tests that
// `npm test` skips without TEST_DATABASE_URL (replicas, outages, migrations, LISTEN/NOTIFY).
//
// Creates a throwaway database on the server of TEST_PG_SERVER_URL (default: the local server as user `postgres`,
// postgresql://postgres@127.0.0.1:5432/postgres), runs vitest with TEST_DATABASE_URL pointing at it (each test file
// then creates and drops its own databases on that server), and drops it afterwards, whatever the outcome.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';

const SERVER_URL = process.env.TEST_PG_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** The server URL with its password hidden, for messages. */
function shown(url) {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function onServer(sql) {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function runVitest(args, databaseUrl) {
  const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitest, 'run', ...args], {
      stdio: 'inherit',
      env: { ...process.env, TEST_DATABASE_URL: databaseUrl },
    });
    // Ctrl-C reaches vitest through the terminal; we only wait for it to finish, then clean up.
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const name = `sb_testrun_${randomBytes(5).toString('hex')}`;
try {
  await onServer(`CREATE DATABASE ${name}`);
} catch (err) {
  console.error(
    `test:pg: cannot create a database on ${shown(SERVER_URL)}: ${err instanceof Error ? err.message : String(err)}\n` +
      'Start PostgreSQL locally, or set TEST_PG_SERVER_URL=postgresql://USER:PASSWORD@HOST:PORT/postgres ' +
      '(a user allowed to CREATE DATABASE).',
  );
  process.exit(2);
}
const url = new URL(SERVER_URL);
url.pathname = `/${name}`;
console.log(`test:pg: TEST_DATABASE_URL=${shown(url.toString())} (dropped afterwards)`);
const code = await runVitest(process.argv.slice(2), url.toString());
await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err) =>
  console.error(`test:pg: could not drop ${name}: ${err instanceof Error ? err.message : String(err)}`),
);
process.exit(code);
