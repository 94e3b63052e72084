/**
 * Start-up failures a person can cause and fix (PostgreSQL down or misnamed, a wrong password, a taken port, an
 * unwritable data folder), each said in one line that names the variable and what to do, instead of a stack.
 */
import { ConfigError } from './config.js';

/** A `ConfigError` (the CLI prints its message and exits 1) headed "Cannot start". */
export class StartupError extends ConfigError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super([problem], 'Cannot start');
    this.name = 'StartupError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

interface ErrorWithCode {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** The error's `code`, or that of the first error it aggregates (a host name with several addresses). */
function codeOf(err: unknown): string | undefined {
  const e = err as ErrorWithCode | undefined;
  if (typeof e?.code === 'string') return e.code;
  return Array.isArray(e?.errors) ? codeOf(e.errors[0]) : undefined;
}

/** `host:port/database` of a DATABASE_URL, never its password. */
function describeDatabase(url: string): { where: string; database: string; user: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres';
  return { where: `${u.hostname}:${u.port || 5432}`, database, user: decodeURIComponent(u.username) || '(default user)' };
}

/**
 * A `StartupError` for a failure to reach or use the PostgreSQL of DATABASE_URL, or undefined when the error is
 * none of those (it is then a bug or an outage, and keeps its stack).
 */
export function databaseStartupError(err: unknown, url: string): StartupError | undefined {
  const { where, database, user } = describeDatabase(url);
  const say = (text: string) => new StartupError(`DATABASE_URL: ${text}`, { cause: err });
  switch (codeOf(err)) {
    case 'ECONNREFUSED':
      return say(`nothing accepts connections at ${where}; start PostgreSQL there or point DATABASE_URL at it`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return say(`the host of ${where} is not known; check the host name in DATABASE_URL`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return say(`${where} cannot be reached; check the host and port in DATABASE_URL and the network`);
    case '3D000':
      return say(`database "${database}" does not exist on ${where}; create it (createdb ${database}) or fix the name in DATABASE_URL`);
    case '28P01':
    case '28000':
      return say(`PostgreSQL at ${where} refused user "${user}" (wrong user or password); fix the credentials in DATABASE_URL`);
    case '42501':
      return say(`user "${user}" may not create tables in database "${database}"; grant it or use the database owner in DATABASE_URL`);
  }
  // node-postgres says these only in words ("Connection terminated due to connection timeout", "timeout exceeded
  // when trying to connect", "Connection terminated unexpectedly").
  const message = typeof (err as ErrorWithCode | undefined)?.message === 'string' ? (err as Error).message : '';
  if (/connection timeout|timeout exceeded when trying to connect/i.test(message)) {
    return say(`no answer from ${where} within 5 s; check the host and port in DATABASE_URL and the network`);
  }
  if (/connection terminated unexpectedly/i.test(message)) {
    return say(`${where} closed the connection at once; check that DATABASE_URL points at PostgreSQL`);
  }
  return undefined;
}

/** A `StartupError` for a failure to listen on HOST:PORT, or undefined. */
export function listenStartupError(err: unknown, host: string, port: number): StartupError | undefined {
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (codeOf(err)) {
    case 'EADDRINUSE':
      return new StartupError(`PORT: ${at} is already in use by another process; stop it or set PORT to a free port`, { cause: err });
    case 'EACCES':
      return new StartupError(`PORT: no permission to listen on ${at}; use a port above 1023 or set PORT`, { cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StartupError(`HOST: ${host} is not an address of this machine; set HOST to one (127.0.0.1, or 0.0.0.0 for every interface)`, { cause: err });
  }
  return undefined;
}

/** A `StartupError` for an embedded database folder the process cannot use, or undefined. */
export function dataDirStartupError(err: unknown, dataDir: string): StartupError | undefined {
  const code = codeOf(err);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new StartupError(`DATA_DIR: cannot write to ${dataDir} (${code}); fix its permissions or set DATA_DIR to a writable folder`, { cause: err });
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new StartupError(`DATA_DIR: ${dataDir} is a file, or inside one; set DATA_DIR to a folder`, { cause: err });
  }
  return undefined;
}
