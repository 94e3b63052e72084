/**
 * The embedded database serves one process: whoever opens it first holds `$DATA_DIR/switchboard.lock`, and every
 * other process — a second gateway, a CLI command — is refused in one line naming the holder. Real child processes
 * (the CLI run from source through tsx, so no build is needed) on a fresh DATA_DIR.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { acquireEmbeddedLock, EmbeddedDatabaseBusyError } from '../../src/db/embedded-lock.js';
import { freePort } from '../helpers/oauth-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = ['--import', 'tsx', path.join(root, 'src/cli/index.ts')];
const bareEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };

interface Started {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(dataDir: string, port: number): Started {
  const child = spawn(process.execPath, [...cli, 'start'], { cwd: root, env: { ...bareEnv, DATA_DIR: dataDir, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, port, stderr: () => err, exited };
}

function runCli(dataDir: string, args: string[], port = 1) {
  return spawnSync(process.execPath, [...cli, ...args], { cwd: root, env: { ...bareEnv, DATA_DIR: dataDir, PORT: String(port) }, encoding: 'utf8', timeout: 120_000 });
}

async function ready(s: Started): Promise<void> {
  await vi.waitFor(
    async () => {
      if (s.child.exitCode !== null) throw new Error(`gateway exited early: ${s.stderr()}`);
      const res = await fetch(`http://127.0.0.1:${s.port}/ready`);
      expect(res.status).toBe(200);
    },
    { timeout: 150_000, interval: 250 },
  );
}

/** The refusal: exactly one line on stderr, naming the holder's pid, its command and since when. */
function expectRefusalNaming(stderr: string, pid: number, command: string) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`in use by pid ${pid} \\([^)]*${command}[^)]*, since \\d{4}-\\d\\d-\\d\\dT`));
  expect(lines[0]).toContain('serves one process only');
}

describe('the embedded database lock', () => {
  it('two gateways racing on a fresh DATA_DIR: one serves, the other exits non-zero naming it; CLI commands are refused but tokens come from the gateway; a dead holder is taken over', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-lock-'));
    const [p1, p2] = [await freePort(), await freePort()];
    const both = [start(dataDir, p1), start(dataDir, p2)];
    try {
      const loserIndex = await Promise.race(both.map((s, i) => s.exited.then(() => i)));
      const loser = both[loserIndex]!;
      const winner = both[1 - loserIndex]!;
      await ready(winner);
      expect(await loser.exited).toBe(1);
      expectRefusalNaming(loser.stderr(), winner.child.pid!, 'index.ts start');

      // A CLI command that would write through a second handle is refused ...
      const create = runCli(dataDir, ['teams', 'create', 'acme']);
      expect(create.status).toBe(1);
      expectRefusalNaming(create.stderr, winner.child.pid!, 'index.ts start');
      // ... what goes through the running gateway still works.
      const token = runCli(dataDir, ['token', '--email', 'me@example.com']);
      expect(token.status, token.stderr).toBe(0);
      expect(token.stdout.trim().split('.')).toHaveLength(3);

      // A crash leaves the lock behind; its pid no longer runs, so the next process takes it over.
      winner.child.kill('SIGKILL');
      await winner.exited;
      expect(existsSync(path.join(dataDir, 'switchboard.lock'))).toBe(true);
      const after = runCli(dataDir, ['teams', 'create', 'acme']);
      expect(after.status, after.stderr).toBe(0);
      expect(after.stdout).toContain('created team acme');
      expect(existsSync(path.join(dataDir, 'switchboard.lock'))).toBe(false);
    } finally {
      for (const s of both) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });

  it('a gateway started while a CLI command holds the database refuses to start, naming that command', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-lock-'));
    const lock = acquireEmbeddedLock(dataDir); // this test process plays the CLI command
    const gw = start(dataDir, await freePort());
    try {
      expect(await gw.exited).toBe(1);
      expectRefusalNaming(gw.stderr(), process.pid, '');
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
      lock.release();
    }
    expect(existsSync(path.join(dataDir, 'switchboard.lock'))).toBe(false);
  });

  it('a lock naming this very pid is held if taken since this process started, else a leftover of an earlier process (containers reuse pids)', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-lock-'));
    const file = path.join(dataDir, 'switchboard.lock');
    const held = acquireEmbeddedLock(dataDir);
    expect(() => acquireEmbeddedLock(dataDir)).toThrow(EmbeddedDatabaseBusyError);
    held.release();

    writeFileSync(file, JSON.stringify({ pid: process.pid, command: 'switchboard start', since: new Date(Date.now() - process.uptime() * 1000 - 60_000).toISOString() }));
    const taken = acquireEmbeddedLock(dataDir); // taken over: the file now holds this process's own, fresh record
    expect(Date.parse(JSON.parse(readFileSync(file, 'utf8')).since)).toBeGreaterThan(Date.now() - 60_000);
    taken.release();
    expect(existsSync(file)).toBe(false);
  });
});
