/**
 * Every start-up failure a person can cause ends in one line on stderr that names the variable and what to do,
 * with a non-zero exit and no stack: PostgreSQL not listening, a database that does not exist, a refused user, a
 * taken PORT (found before any database work), a public PUBLIC_URL nobody could log in to. And `.env` in the
 * working directory is read at start, beneath the real environment. Runs the real entry point as a child process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/switchboard.mjs');
const bareEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };
const KEY = randomBytes(32).toString('base64');

function listening(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

async function closedPort(): Promise<number> {
  const s = await listening();
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

function start(env: Record<string, string>, cwd = mkdtempSync(path.join(tmpdir(), 'sb-fail-'))) {
  const r = spawnSync(process.execPath, [bin, 'start'], { cwd, env: { ...bareEnv, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { ...r, cwd };
}

/** One line, no stack, exit 1. */
function expectOneLine(r: { status: number | null; stderr: string; stdout: string }, ...parts: string[]) {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
  const text = r.stderr.trimEnd();
  expect(text.split('\n'), r.stderr).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
  for (const p of parts) expect(text).toContain(p);
}

beforeAll(() => {
  // Builds dist/ if needed, so that no "building…" line joins the stderr the tests look at.
  const r = spawnSync(process.execPath, [bin, '--help'], { cwd: root, env: bareEnv, encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
}, 320_000);

describe('start-up failures are one line naming the variable', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = await listening();
  });
  afterAll(() => new Promise<void>((r) => taken.close(() => r())));

  it('a taken PORT, before any database work', { timeout: 60_000 }, () => {
    const port = portOf(taken);
    const r = start({ PORT: String(port) });
    expectOneLine(r, `Cannot start: PORT: 127.0.0.1:${port} is already in use`, 'set PORT to a free port');
    // Checked first: the embedded database was never created, and no migration ran.
    expect(existsSync(path.join(r.cwd, '.data', 'pgdata'))).toBe(false);
    expect(r.stdout).not.toContain('migration');
  });

  it('DATABASE_URL pointing at a port where no PostgreSQL listens', { timeout: 60_000 }, async () => {
    const dbPort = await closedPort();
    const r = start({ PORT: String(await closedPort()), DATABASE_URL: `postgresql://sb:s3cret-pw@127.0.0.1:${dbPort}/switchboard`, ENCRYPTION_KEY: KEY });
    expectOneLine(r, `Cannot start: DATABASE_URL: nothing accepts connections at 127.0.0.1:${dbPort}`, 'start PostgreSQL');
    expect(r.stderr + r.stdout).not.toContain('s3cret-pw');
  });

  it('a DATA_DIR that is a file', { timeout: 60_000 }, async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'sb-datadir-'));
    writeFileSync(path.join(cwd, 'data'), 'not a folder');
    const r = start({ PORT: String(await closedPort()), DATA_DIR: 'data' }, cwd);
    expectOneLine(r, `Cannot start: DATA_DIR: ${path.join(cwd, 'data')} is a file, or inside one; set DATA_DIR to a folder`);
  });

  it('a public PUBLIC_URL without any way to log in', { timeout: 60_000 }, async () => {
    const r = start({ PORT: String(await closedPort()), PUBLIC_URL: 'https://mcp.example.com' });
    expectOneLine(r, 'Invalid configuration: LOGIN_OIDC_ISSUER: required for the public PUBLIC_URL https://mcp.example.com');
  });
});

describe.skipIf(!TEST_DATABASE_URL)('start-up failures against a real PostgreSQL (needs TEST_DATABASE_URL)', () => {
  const server = () => new URL(TEST_DATABASE_URL!);

  it('a database that does not exist', { timeout: 60_000 }, async () => {
    const url = server();
    const name = `sb_missing_${randomBytes(4).toString('hex')}`;
    url.pathname = `/${name}`;
    const r = start({ PORT: String(await closedPort()), DATABASE_URL: url.href, ENCRYPTION_KEY: KEY });
    expectOneLine(r, `Cannot start: DATABASE_URL: database "${name}" does not exist`, `createdb ${name}`);
  });

  it('a user PostgreSQL refuses', { timeout: 60_000 }, async () => {
    const url = server();
    url.username = `sb_nobody_${randomBytes(4).toString('hex')}`;
    url.password = 'wrong-password';
    const r = start({ PORT: String(await closedPort()), DATABASE_URL: url.href, ENCRYPTION_KEY: KEY });
    expectOneLine(r, `Cannot start: DATABASE_URL: PostgreSQL at ${url.hostname}:${url.port || 5432} refused user "${url.username}"`, 'fix the credentials in DATABASE_URL');
    expect(r.stderr).not.toContain('wrong-password');
  });
});

describe('.env in the working directory', () => {
  it('is read at start, beneath the real environment', { timeout: 60_000 }, async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'sb-dotenv-'));
    const taken = await listening();
    try {
      // PORT from .env (taken, so the start stops at once and says which port it read); LOG_LEVEL from the real
      // environment wins over the file's invalid value (else the start would stop at the configuration).
      writeFileSync(path.join(cwd, '.env'), `PORT=${portOf(taken)}\nLOG_LEVEL=shouting\n`);
      const r = start({ LOG_LEVEL: 'info' }, cwd);
      expectOneLine(r, `PORT: 127.0.0.1:${portOf(taken)} is already in use`);
      const bad = start({}, cwd);
      expectOneLine(bad, 'Invalid configuration: LOG_LEVEL');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
