/**
 * `bin/switchboard.mjs` builds dist/ when it is missing or stale. Two of them started at once (two `npm start` on a
 * fresh clone) must not both build into the same dist/: one builds, the other waits and finds it built. Run on a
 * throwaway copy of the entry point whose `npm run build` is a stand-in that records each build and takes a moment.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function fakeCheckout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-build-'));
  for (const d of ['bin', 'src', 'prisma']) mkdirSync(path.join(dir, d));
  for (const f of ['switchboard.mjs', 'node-flags.mjs']) copyFileSync(path.join(root, 'bin', f), path.join(dir, 'bin', f));
  writeFileSync(path.join(dir, 'src/index.ts'), 'export {};\n');
  writeFileSync(path.join(dir, 'prisma/schema.prisma'), '\n');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fake', private: true, type: 'module', scripts: { build: 'node build.mjs' } }));
  writeFileSync(
    path.join(dir, 'build.mjs'),
    [
      "import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';",
      "appendFileSync('builds.log', `${process.pid}\\n`);",
      // Long enough that the other process checks dist/ while this build is still running.
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);',
      "mkdirSync('dist/cli', { recursive: true });",
      "writeFileSync('dist/cli/index.js', 'export async function runCli() { return 0; }\\n');",
    ].join('\n'),
  );
  return dir;
}

function run(dir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(dir, 'bin/switchboard.mjs'), '--help'], { cwd: dir, env: { PATH: process.env.PATH! }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((r) => child.once('exit', (code) => r({ code, stderr })));
}

describe('building on start', () => {
  it('two entry points started at once on a fresh checkout build once; both run', { timeout: 120_000 }, async () => {
    const dir = fakeCheckout();
    const [a, b] = await Promise.all([run(dir), run(dir)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'builds.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect([a, b].filter((r) => r.stderr.includes('building'))).toHaveLength(1);
  });
});
