/**
 * The embedded database (PGlite) serves one process: two processes opening the same folder corrupt it, or one dies
 * with a bare `ErrnoError`. Whoever opens it first holds `$DATA_DIR/switchboard.lock` until it closes the database,
 * and any other process is refused with one line naming the holder. The running gateway adds its URL to the lock,
 * so the CLI can ask it for what it cannot open itself (`switchboard token`).
 *
 * The lock file is created with link(2) from a complete temporary file: atomic, and it fails when the lock exists,
 * so a reader never sees a half-written holder. A lock whose process no longer runs is taken over under a second,
 * equally atomic "takeover" file, so two processes finding the same stale lock cannot both take it.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface LockHolder {
  pid: number;
  /** The holder's command line (`switchboard.mjs start`), as `ps` would show it. */
  command: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Where the holder serves HTTP, once it listens (the gateway only). */
  url?: string;
}

export interface EmbeddedLock {
  /** Records where this process serves, so other commands ask it instead of opening the folder. */
  advertise(url: string): void;
  /** Gives the lock up (only if it is still this process's). */
  release(): void;
}

export class EmbeddedDatabaseBusyError extends Error {
  constructor(dataDir: string, holder: LockHolder) {
    super(
      `The embedded database in ${dataDir} is in use by pid ${holder.pid} (${holder.command}, since ${holder.since}` +
        `${holder.url ? `, serving ${holder.url}` : ''}) and serves one process only: stop that first, or use PostgreSQL (DATABASE_URL).`,
    );
    this.name = 'EmbeddedDatabaseBusyError';
  }
}

const lockFile = (dataDir: string) => path.join(dataDir, 'switchboard.lock');
/** When this process started: a lock naming our own pid but older than that was left by an earlier process (containers reuse pids). */
const processStartedAt = () => Date.now() - process.uptime() * 1000;
const ATTEMPTS = 5;

function describeCommand(): string {
  const [, script, ...args] = process.argv;
  return [script ? path.basename(script) : path.basename(process.execPath), ...args].join(' ');
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.since === 'string' ? { command: '?', ...h, pid: h.pid, since: h.since } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process named in a lock still runs (and so still holds it). */
function isAlive(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return Date.parse(holder.since) >= processStartedAt() - 50; // ms rounding of `since`
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it runs, as another user
  }
}

/** Writes `holder` to `file` only if `file` does not exist yet; true when it did not. */
function createExclusive(file: string, holder: LockHolder): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, JSON.stringify(holder));
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const sameHolder = (a: LockHolder | undefined, b: LockHolder | undefined) => a?.pid === b?.pid && a?.since === b?.since;

/**
 * Removes the lock `seen` (read and found dead), unless it changed meanwhile. Only ever done while holding the
 * takeover file: without it, a process could remove the fresh lock another one had just created in place of `seen`.
 */
function removeStale(file: string, seen: LockHolder | undefined, me: LockHolder): void {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, me)) {
    const other = readHolder(guard);
    if (!other || !isAlive(other)) rmSync(guard, { force: true }); // its owner died mid-takeover
    return;
  }
  try {
    if (sameHolder(readHolder(file), seen)) rmSync(file, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Takes the embedded database's lock in `dataDir`, before anything opens the database. Throws
 * `EmbeddedDatabaseBusyError` naming the holder when another running process has it.
 */
export function acquireEmbeddedLock(dataDir: string): EmbeddedLock {
  mkdirSync(dataDir, { recursive: true });
  const file = lockFile(dataDir);
  const me: LockHolder = { pid: process.pid, command: describeCommand(), since: new Date().toISOString() };
  let holder: LockHolder | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (createExclusive(file, me)) return heldLock(file, me);
    holder = readHolder(file);
    if (holder && isAlive(holder)) throw new EmbeddedDatabaseBusyError(dataDir, holder);
    removeStale(file, holder, me);
    pause(10 * (attempt + 1)); // another process may be mid-takeover
  }
  throw new EmbeddedDatabaseBusyError(dataDir, readHolder(file) ?? holder ?? { pid: 0, command: `unknown (see ${file})`, since: '?' });
}

function heldLock(file: string, me: LockHolder): EmbeddedLock {
  let current = me;
  const stillMine = () => sameHolder(readHolder(file), me);
  return {
    advertise(url) {
      if (!stillMine()) return;
      current = { ...current, url };
      // Replacing the file we hold: rename is atomic, so readers see the old holder or the new one, never half.
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(tmp, JSON.stringify(current));
      renameSync(tmp, file);
    },
    release() {
      if (stillMine()) rmSync(file, { force: true });
    },
  };
}

/** The running process holding the embedded database in `dataDir`, if any (a stale lock counts as none). */
export function embeddedLockHolder(dataDir: string): LockHolder | undefined {
  const holder = readHolder(lockFile(dataDir));
  return holder && holder.pid !== process.pid && isAlive(holder) ? holder : undefined;
}
