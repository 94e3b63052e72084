/**
 * SIGTERM on a real gateway process (bin/switchboard.mjs, as `npm start` runs it): a tool call in flight finishes
 * with its real result, new connections are refused meanwhile, and the process exits 0 right after the drain —
 * not at the end of SHUTDOWN_GRACE, and not before the call is answered.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
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

const bin = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'bin/switchboard.mjs');
const KEY = randomBytes(32);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

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
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
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
