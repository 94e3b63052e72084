/**
 * While `switchboard start` holds the embedded database (PGlite serves one process), the read-only commands and
 * `token` ask the running gateway through its loopback-only dev endpoints, and its own messages reach the user
 * ("No team nope", not "the database is in use"). Real child processes, the CLI run from source through tsx.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { freePort } from '../helpers/oauth-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = ['--import', 'tsx', path.join(root, 'src/cli/index.ts')];
const bareEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };

async function startGateway(dataDir: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...cli, 'start'], { cwd: root, env: { ...bareEnv, DATA_DIR: dataDir, PORT: String(port), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const base = `http://127.0.0.1:${port}`;
  await vi.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited early: ${err}`);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
    },
    { timeout: 150_000, interval: 250 },
  );
  return { child, base };
}

function run(dataDir: string, ...args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { cwd: root, env: { ...bareEnv, DATA_DIR: dataDir, PORT: '1' }, encoding: 'utf8', timeout: 120_000 });
}

describe('CLI commands while the gateway holds the embedded database', () => {
  it('read-only commands and token go through the gateway; its messages are passed through; writes are refused', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-read-'));
    const { child, base } = await startGateway(dataDir);
    try {
      const teams = run(dataDir, 'teams', 'list');
      expect(teams.status, teams.stderr).toBe(0);
      expect(teams.stdout).toMatch(/^demo\s+open\s+/m);
      const servers = run(dataDir, 'tool-servers', 'list', '--team', 'demo', '--json');
      expect(servers.status, servers.stderr).toBe(0);
      expect((JSON.parse(servers.stdout) as { items: { name: string; kind: string }[] }).items).toEqual([expect.objectContaining({ name: 'demo', kind: 'builtin' })]);
      const members = run(dataDir, 'members', 'list', '--team', 'demo');
      expect(members.status, members.stderr).toBe(0);

      // The gateway answered "no team nope": that is what the user reads, not "the database is in use".
      const token = run(dataDir, 'token', '--team', 'nope', '--email', 'me@example.com');
      expect(token.status).toBe(1);
      expect(token.stderr).toBe('No team nope; create it with: switchboard teams create nope\n');
      const unknown = run(dataDir, 'members', 'list', '--team', 'nope');
      expect({ status: unknown.status, stderr: unknown.stderr }).toEqual({ status: 1, stderr: 'No team nope\n' });

      // Writing needs the database itself, which the gateway holds.
      const create = run(dataDir, 'teams', 'create', 'acme');
      expect(create.status).toBe(1);
      expect(create.stderr).toContain(`in use by pid ${child.pid}`);

      // Loopback only, like /dev/token: a request relayed by a local proxy is someone else's.
      expect((await fetch(`${base}/dev/teams`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('with the dev login off the gateway has no dev endpoints: read-only commands say the database is in use', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-read-'));
    const { child, base } = await startGateway(dataDir, { DEV_LOGIN: 'false' });
    try {
      expect((await fetch(`${base}/dev/teams`)).status).toBe(404);
      const teams = run(dataDir, 'teams', 'list');
      expect(teams.status).toBe(1);
      expect(teams.stderr).toContain(`in use by pid ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
