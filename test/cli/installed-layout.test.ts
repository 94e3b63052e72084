/**
 * The CLI as the Docker image has it: package.json, dist/, bin/, prisma/ and node_modules, but no src/ (and so
 * nothing to build). `bin/switchboard.mjs` must run dist/ as it is — it once scanned src/ and died with ENOENT —
 * also when called through a symlink on PATH, as the image's /usr/local/bin/switchboard is. Help and version need
 * nothing but dist/cli: they never load the application.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const bareEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };

let built: string;

/** A copy holding only `parts` of the built layout (never src/). */
function layout(parts: { dist: string; node_modules?: boolean; prisma?: boolean }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-image-'));
  cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(root, 'bin'), path.join(dir, 'bin'), { recursive: true });
  cpSync(path.join(built, parts.dist), path.join(dir, 'dist', parts.dist === '.' ? '' : parts.dist), { recursive: true });
  if (parts.prisma) cpSync(path.join(root, 'prisma'), path.join(dir, 'prisma'), { recursive: true });
  if (parts.node_modules) symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function run(bin: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(bin, args, { cwd: tmpdir(), env: { ...bareEnv, ...env }, encoding: 'utf8', timeout: 120_000 });
}

beforeAll(() => {
  built = mkdtempSync(path.join(tmpdir(), 'sb-dist-'));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', built], { cwd: root, stdio: 'inherit' });
}, 300_000);

describe('the CLI in an installed layout without src/', () => {
  it('answers --version and every --help from dist/cli alone (no application, no Prisma client, no node_modules)', () => {
    const dir = layout({ dist: 'cli' });
    const bin = path.join(dir, 'bin/switchboard.mjs');
    const v = run(bin, ['--version']);
    expect({ status: v.status, stdout: v.stdout, stderr: v.stderr }).toEqual({ status: 0, stdout: `switchboard ${version}\n`, stderr: '' });
    const top = run(bin, ['--help']);
    expect(top.status, top.stderr).toBe(0);
    const all = ['teams list', 'teams create', 'teams delete', 'members add', 'members list', 'members remove', 'tool-servers add', 'tool-servers list', 'tool-servers policy', 'tool-servers remove'];
    for (const c of ['start', 'migrate', ...all, 'token']) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const groups: Record<string, string[]> = { teams: ['list', 'create', 'delete'], members: ['add', 'list', 'remove'], 'tool-servers': ['add', 'list', 'policy', 'remove'] };
    for (const [group, subs] of Object.entries(groups)) {
      const g = run(bin, [group, '--help']);
      expect(g.status, `${group} --help: ${g.stderr}`).toBe(0);
      for (const sub of subs) {
        expect(g.stdout).toContain(`switchboard ${group} ${sub}`);
        const s = run(bin, [group, sub, '--help']);
        expect(s.status, `${group} ${sub} --help: ${s.stderr}`).toBe(0);
        expect(s.stdout).toContain(`Usage: switchboard ${group} ${sub}`);
      }
    }
    for (const single of ['start', 'migrate', 'token']) {
      const s = run(bin, [single, '--help']);
      expect(s.status, `${single} --help: ${s.stderr}`).toBe(0);
      expect(s.stdout).toContain(`Usage: switchboard ${single}`);
    }
    const unknown = run(bin, ['teams', 'rename']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Unknown command: teams rename');
  });

  it('says what is missing when there is neither dist/ nor src/', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sb-image-'));
    cpSync(path.join(root, 'bin'), path.join(dir, 'bin'), { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    const r = run(path.join(dir, 'bin/switchboard.mjs'), ['--help']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dist\/cli\/index\.js is missing and there are no sources \(src\/\) to build it from/);
  });

  it('the runtime stage of the Dockerfile is this layout, with switchboard on PATH', () => {
    const df = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const runtime = df.slice(df.lastIndexOf('\nFROM '));
    for (const part of ['./node_modules', './dist', 'package.json ./', './prisma', './bin']) expect(runtime).toContain(part);
    expect(runtime).not.toMatch(/COPY[^\n]* src /);
    expect(runtime).toContain('ln -s /app/bin/switchboard.mjs /usr/local/bin/switchboard');
  });

  describe.skipIf(!TEST_DATABASE_URL)('against PostgreSQL (needs TEST_DATABASE_URL)', () => {
    let tdb: TestDatabase;
    beforeAll(async () => {
      tdb = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await tdb?.drop();
    });

    it('runs real commands through a symlink on PATH, as `docker compose exec gateway switchboard …` does', () => {
      const dir = layout({ dist: '.', node_modules: true, prisma: true });
      const binDir = path.join(dir, 'usr-local-bin');
      mkdirSync(binDir);
      symlinkSync(path.join(dir, 'bin/switchboard.mjs'), path.join(binDir, 'switchboard'));
      const env = { PATH: `${binDir}:${bareEnv.PATH}`, DATABASE_URL: tdb.url!, ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'warn' };
      const sb = (...args: string[]) => run('switchboard', args, env);

      expect(sb('migrate')).toMatchObject({ status: 0, stdout: 'migrations are up to date\n' });
      expect(sb('teams', 'create', 'acme', '--join', 'invite')).toMatchObject({ status: 0 });
      expect(sb('members', 'add', '--team', 'acme', '--email', 'ann@example.com', '--role', 'admin').stdout).toMatch(/^invited ann@example.com to team acme as admin/);
      expect(sb('members', 'list', '--team', 'acme').stdout).toMatch(/^ann@example.com\s+admin\s+invited /);
      expect(sb('teams', 'list').stdout).toMatch(/^acme\s+invite\s+acme$/m);
      const token = sb('token', '--team', 'acme', '--email', 'ann@example.com');
      expect(token.status, token.stderr).toBe(0);
      expect(token.stdout.trim().split('.')).toHaveLength(3);
    });
  });
});
