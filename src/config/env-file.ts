/**
 * The working directory's `.env` (as `.env.example` invites): read with Node's own parser (`util.parseEnv`, the
 * one behind `--env-file` and `process.loadEnvFile`) and laid beneath the real environment. A variable set in the
 * real environment always wins, whatever the Node version (`process.loadEnvFile`'s precedence has not been the
 * same in every release), and `process.env` itself is left alone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './config.js';

export const ENV_FILE = '.env';

/** `env` over the variables of `<dir>/.env`; `env` unchanged when there is no such file. */
export function withEnvFile(env: Record<string, string | undefined>, dir: string): Record<string, string | undefined> {
  const file = path.join(dir, ENV_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return env;
    throw new ConfigError([`${ENV_FILE}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); fix its permissions or remove it`]);
  }
  // Set but empty in the real environment also wins: `VAR= npm start` is how to ignore one line of .env.
  return { ...parseEnv(text), ...env };
}
