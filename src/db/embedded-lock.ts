/**
 * The embedded database (PGlite) is single-process: two processes writing the same folder corrupt it. A running
 * gateway records itself in `$DATA_DIR/gateway.json`; other commands check it before opening the folder.
 */
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export interface RunningGatewayInfo {
  pid: number;
  url: string;
}

const file = (dataDir: string) => path.join(dataDir, 'gateway.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The gateway currently serving this embedded database, if one is running (a stale record is ignored). */
export function runningGateway(dataDir: string): RunningGatewayInfo | undefined {
  if (!existsSync(file(dataDir))) return undefined;
  try {
    const info = JSON.parse(readFileSync(file(dataDir), 'utf8')) as RunningGatewayInfo;
    return info.pid !== process.pid && alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export function recordRunningGateway(dataDir: string, url: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file(dataDir), JSON.stringify({ pid: process.pid, url } satisfies RunningGatewayInfo));
  return () => rmSync(file(dataDir), { force: true });
}

export class EmbeddedDatabaseBusyError extends Error {
  constructor(dataDir: string, info: RunningGatewayInfo) {
    super(
      `The gateway (pid ${info.pid}, ${info.url}) is using the embedded database in ${dataDir}, which serves one process only. ` +
        'Stop it first, or run against PostgreSQL with DATABASE_URL.',
    );
    this.name = 'EmbeddedDatabaseBusyError';
  }
}
