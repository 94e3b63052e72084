/**
 * docs/interface.md §1: `npm start` with no configuration at all serves the demo team on the embedded database, and the
 * CLI explains itself; SIGTERM lets a tool call in flight finish before the process exits. Runs the real entry point
 * (bin/switchboard.mjs) as a child process. (One file, so two tests never build dist/ at the same time.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyStore } from '../../src/authserver/signing-keys.js';
import { issueAccessToken } from '../../src/authserver/access-token.js';
import { teamResource } from '../../src/auth/protected-resource.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { createUserDirectory, LOCAL_ISSUER } from '../../src/teams/users.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { connectClient } from '../helpers/mcp-client.js';
import { startSlowUpstream, SLOW_RESULT, type SlowUpstream } from '../helpers/slow-upstream.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/switchboard.mjs');
/** Only what a shell needs; none of the gateway's variables. */
const bareEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: mkdtempSync(path.join(tmpdir(), 'sb-cli-')), env: { ...bareEnv, ...env }, encoding: 'utf8', timeout: 120_000 });
}

describe('switchboard start with no configuration', () => {
  it('is ready on the embedded database and the demo endpoint answers 401 with a working PRM URL', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const cwd = mkdtempSync(path.join(tmpdir(), 'sb-start-'));
    const child = spawn(process.execPath, [bin, 'start'], { cwd, env: { ...bareEnv, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 150_000;
      let ready: Response | undefined;
      while (Date.now() < deadline) {
        ready = await fetch(`${base}/ready`).catch(() => undefined);
        if (ready?.ok) break;
        if (child.exitCode !== null) throw new Error(`gateway exited early:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready?.status).toBe(200);
      expect(await ready!.json()).toEqual({ status: 'ready', database: 'embedded' });
      expect(out).toContain(`http://localhost:${port}/t/demo/mcp`);

      const res = await fetch(`${base}/t/demo/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(401);
      const prm = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
      expect(prm).toBe(`http://localhost:${port}/.well-known/oauth-protected-resource/t/demo/mcp`);
      const doc = await (await fetch(prm!.replace('localhost', '127.0.0.1'))).json();
      expect(doc.resource).toBe(`http://localhost:${port}/t/demo/mcp`);

      // While it runs, the embedded database is its alone: the CLI gets tokens from it and refuses to open it.
      const inCwd = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...bareEnv, PORT: String(port) }, encoding: 'utf8', timeout: 60_000 });
      const tok = inCwd(['token', '--email', 'me@example.com']);
      expect(tok.status, tok.stderr).toBe(0);
      const token = tok.stdout.trim();
      expect(token.split('.')).toHaveLength(3);
      const init = await fetch(`${base}/t/demo/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } }),
      });
      expect(init.status).toBe(200);
      await init.text();
      const mig = inCwd(['migrate']);
      expect(mig.status).toBe(1);
      expect(mig.stderr).toContain('serves one process only');

      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toContain('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('the CLI', () => {
  it('--help lists the commands; each command has its own --help', () => {
    const top = run(['--help']);
    expect(top.status).toBe(0);
    for (const c of ['start', 'migrate', 'teams create', 'token']) expect(top.stdout).toContain(c);
    const token = run(['token', '--help']);
    expect(token.status).toBe(0);
    expect(token.stdout).toContain('--email');
  });

  it('bad configuration stops with one message naming every bad variable', () => {
    const r = run(['migrate'], { PORT: 'x', AUTH_MODE: 'nope' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toContain('PORT');
    expect(r.stderr).toContain('AUTH_MODE');
  });

  it('an unknown command or a missing argument says how to use it', () => {
    expect(run(['frobnicate']).status).toBe(2);
    const r = run(['token']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--email is required');
  });
});

/** The child gateway's ENCRYPTION_KEY; the test seals the tool-server row and reads the signing key with it. */
const KEY = randomBytes(32);

describe.skipIf(!TEST_DATABASE_URL)('SIGTERM with a tool call in flight (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let upstream: SlowUpstream;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    upstream = await startSlowUpstream();
    const team = await createTeam(tdb.db.prisma, { slug: 'drain', name: 'Drain' });
    await addToolServer(tdb.db.prisma, createSecretBox(KEY), team.id, { name: 'up', kind: 'remote', url: upstream.url });
  });
  afterAll(async () => {
    upstream?.release();
    await upstream?.close();
    await tdb?.drop();
  });

  it('answers the call, refuses new connections, then exits 0', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const env = {
      ...bareEnv,
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      DATABASE_URL: tdb.url!,
      ENCRYPTION_KEY: KEY.toString('base64'),
      SHUTDOWN_GRACE: '60s',
    };
    const child = spawn(process.execPath, [bin, 'start'], { cwd: mkdtempSync(path.join(tmpdir(), 'sb-drain-')), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let exitedAt = 0;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => ((exitedAt = Date.now()), r(code))));
    try {
      await expect
        .poll(async () => {
          if (child.exitCode !== null) throw new Error(`gateway exited early:\n${out}`);
          return (await fetch(`${publicUrl}/ready`).catch(() => undefined))?.status;
        }, { timeout: 150_000, interval: 250 })
        .toBe(200);

      // The gateway created its signing key at start; a token from the same key store is one it accepts.
      const user = await createUserDirectory(tdb.db.prisma).upsert(LOCAL_ISSUER, 'drain@example.com', 'drain@example.com');
      const keys = createKeyStore({ prisma: tdb.db.prisma, box: createSecretBox(KEY) });
      const token = await issueAccessToken(keys, { issuer: publicUrl, subject: user.id, audience: teamResource(publicUrl, 'drain'), clientId: 'test-client', scope: 'mcp', email: 'drain@example.com' });
      const { client } = await connectClient(`${publicUrl}/t/drain/mcp`, token);

      let answeredAt = 0;
      const call = client.callTool({ name: 'up__slow', arguments: {} }).then((r) => ((answeredAt = Date.now()), r));
      await upstream.whenStarted;
      child.kill('SIGTERM');
      await expect.poll(() => out, { timeout: 10_000 }).toContain('shutting down');
      await expect(fetch(`${publicUrl}/health`)).rejects.toThrow(); // connection refused: a balancer goes elsewhere
      expect(child.exitCode).toBeNull(); // still draining

      upstream.release();
      expect((await call).content).toEqual([{ type: 'text', text: SLOW_RESULT }]);
      expect(await exited).toBe(0);
      expect(exitedAt).toBeGreaterThanOrEqual(answeredAt);
      expect(out).toContain('stopped');
      expect(out).not.toContain('did not finish within SHUTDOWN_GRACE');
      await client.close().catch(() => undefined);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
