#!/usr/bin/env node
// Entry point of `npx switchboard` and `npm start`: builds the TypeScript sources when dist/ is missing or older
// than src/ or prisma/ (so `npm ci && npm start` just works), then runs the CLI. An installed copy (the Docker
// image) has dist/ but no src/ and no build tools: it runs dist/ as it is.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncContextFlags } from './node-flags.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/cli/index.js');

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'generated' || e.name === 'node_modules') continue;
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const hasSources = existsSync(path.join(root, 'src'));
const isStale = () =>
  !existsSync(entry) || (hasSources && Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'prisma'))) > statSync(entry).mtimeMs);

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function readLock(lock) {
  try {
    return { holder: Number(readFileSync(lock, 'utf8')), age: Date.now() - statSync(lock).mtimeMs };
  } catch {
    return undefined;
  }
}

// Two `npm start` at once on a fresh clone would both build into the same dist/ and one would load the other's
// half-written files. One builds under dist/.build.lock (created atomically with 'wx', holding its pid); the other
// waits for it, then finds dist/ fresh. A lock whose process is gone is removed.
function withBuildLock(fn) {
  const lock = path.join(root, 'dist', '.build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const seen = readLock(lock);
    if (!seen) continue; // released meanwhile
    // An empty lock is one being written this instant, unless it is old (its writer died in between).
    if (seen.holder > 0 ? !alive(seen.holder) : seen.age > 10_000) rmSync(lock, { force: true });
    else sleep(200);
  }
  try {
    fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

if (!hasSources && !existsSync(entry)) {
  process.stderr.write(`switchboard: ${entry} is missing and there are no sources (src/) to build it from\n`);
  process.exit(1);
}
if (isStale()) {
  withBuildLock(() => {
    if (!isStale()) return; // built by another process while this one waited
    process.stderr.write('switchboard: building (first run or sources changed)…\n');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  });
}
// `start` runs the gateway: on Node 22/23 with async context frames (see node-flags.mjs), by replacing this process
// with one that has the flag, where Node can (`process.execve`, 22.15+); on 22.14 it runs as it is, only slower.
const flags = process.argv[2] === 'start' ? asyncContextFlags() : [];
if (flags.length && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
const { runCli } = await import(entry);
// `start` resolves only on shutdown; every other command returns its exit code.
process.exit(await runCli(process.argv.slice(2)));
