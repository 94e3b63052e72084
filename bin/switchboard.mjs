#!/usr/bin/env node
// Entry point of `npx switchboard` and `npm start`: builds the TypeScript sources when dist/ is missing or older
// than src/ or prisma/ (so `npm ci && npm start` just works), then runs the CLI.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/cli/index.js');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'generated' || e.name === 'node_modules') continue;
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const stale = !existsSync(entry) || Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'prisma'))) > statSync(entry).mtimeMs;
if (stale) {
  process.stderr.write('switchboard: building (first run or sources changed)…\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}
const { runCli } = await import(entry);
// `start` resolves only on shutdown; every other command returns its exit code.
process.exit(await runCli(process.argv.slice(2)));
