/**
 * What a CLI command is, shared by the dispatcher (`index.ts`) and the command-group files. Nothing here imports the
 * application: a group file names its commands' options and usage cheaply, and loads the app only when it runs, so
 * `--help` and `--version` answer at once.
 */
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config/config.js';

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  config: Config;
  env: Record<string, string | undefined>;
}

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext): Promise<number>;
}

/** A command group: `teams`, `members`, … (a single command such as `token` is a group of one, keyed ''). */
export type CommandGroup = Record<string, Command>;

/** Wrong use of a command: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the user can act on: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/** The value of a required string flag, or a usage error naming the flag. */
export function requireFlag(values: Values, flag: string): string {
  const v = values[flag];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${flag} is required`);
  return v;
}

/** A flag limited to a few values, named in the error. */
export function oneOf<T extends string>(values: Values, flag: string, allowed: readonly T[]): T | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/**
 * A validation error of a shared service (its `details` name body fields: `joinPolicy`, `packs.0`) retold in the
 * command's own flags (`--join`, `--pack`). `flags` maps a field, or its first segment, to how the user wrote it.
 */
export function inFlagTerms(err: unknown, flags: Record<string, string>): unknown {
  // A domain error (`errors.ts`, told by its `domain` mark: the CLI's entry files import nothing of the application).
  const { domain, details } = err as { domain?: unknown; details?: unknown };
  if (domain !== true || !Array.isArray(details)) return err;
  const lines = (details as { field?: string; message?: string }[]).map(({ field = '', message = 'is invalid' }) => {
    const flag = flags[field] ?? flags[field.split('.')[0]!] ?? (field || 'input');
    return `${flag}: ${message}`;
  });
  return new UsageError(lines.join('\n'));
}
