/**
 * The embedded database (PGlite) serves one process. While `switchboard start` runs on it, commands that only read
 * (and `token`) ask that gateway through its loopback-only dev endpoints instead of opening the database; the
 * gateway's URL is in the embedded lock file.
 */
import type { Config } from '../config/config.js';
import { CliError } from './command.js';

/** The URL of the gateway holding the embedded database, if one runs and listens. */
export async function runningGatewayUrl(config: Config): Promise<string | undefined> {
  if (config.databaseUrl) return undefined; // PostgreSQL serves every process: open it directly
  const { embeddedLockHolder } = await import('../db/embedded-lock.js');
  return embeddedLockHolder(config.dataDir)?.url;
}

/**
 * Calls a dev endpoint of the running gateway. Its own error message is passed through ("No team nope"); only
 * when it has no dev endpoints (the dev login is off: a 404 `not_found` for the route itself) is the user told
 * that the embedded database is in use.
 */
export async function askGateway<T>(config: Config, url: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  } catch {
    throw await busy(config, `the running gateway at ${url} did not answer`);
  }
  const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (res.ok) return json as T;
  if (res.status === 404 && json.error?.code === 'not_found') throw await busy(config, `the running gateway at ${url} has no dev endpoints (DEV_LOGIN is off)`);
  throw new CliError(json.error?.message ?? `the running gateway refused: HTTP ${res.status}`);
}

async function busy(config: Config, why: string): Promise<Error> {
  const { embeddedLockHolder, EmbeddedDatabaseBusyError } = await import('../db/embedded-lock.js');
  const holder = embeddedLockHolder(config.dataDir);
  return holder ? new EmbeddedDatabaseBusyError(config.dataDir, holder) : new CliError(why);
}
