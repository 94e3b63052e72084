/**
 * The `switchboard` command line: a dispatcher over command groups (`start`, `migrate`, `teams`, `members`,
 * `tool-servers`, `token`), one file each. Only the group that runs is imported, and the application only when a
 * command runs, so `--help` and `--version` answer without loading Prisma or the gateway.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command, CommandGroup, Values } from './command.js';

interface GroupEntry {
  summary: string;
  load(): Promise<{ group: CommandGroup }>;
}

const GROUPS: Record<string, GroupEntry> = {
  start: { summary: 'Start the gateway (default command)', load: () => import('./start.js') },
  migrate: { summary: 'Apply pending database migrations and exit', load: () => import('./migrate.js') },
  teams: { summary: 'List, create and delete teams', load: () => import('./teams.js') },
  members: { summary: "Add, list and remove a team's members", load: () => import('./members.js') },
  'tool-servers': { summary: "Add, list and remove a team's tool servers", load: () => import('./tool-servers.js') },
  token: { summary: 'Mint an access token from the built-in issuer for local use', load: () => import('./token.js') },
};

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h' || arg === 'help';

function version(): string {
  // dist/cli/index.js and src/cli/index.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** Every command with its summary (loading the group files, which import nothing of the application). */
async function overview(): Promise<string> {
  const lines: string[] = [];
  for (const [name, entry] of Object.entries(GROUPS)) {
    const { group } = await entry.load();
    for (const [sub, c] of Object.entries(group)) lines.push(`  ${(sub ? `${name} ${sub}` : name).padEnd(24)} ${c.summary}`);
  }
  return (
    'Usage: switchboard <command> [options]\n\nCommands:\n' +
    `${lines.join('\n')}\n\n` +
    'Options:\n  --help, -h               Show help (also after any command or group)\n  --version                Show the version\n\n' +
    'Run "switchboard <command> --help" for details.\n'
  );
}

function groupHelp(name: string, group: CommandGroup): string {
  const lines = Object.entries(group).map(([sub, c]) => `  switchboard ${name} ${sub.padEnd(8)} ${c.summary}`);
  return `${GROUPS[name]!.summary}\n\nCommands:\n${lines.join('\n')}\n\nRun "switchboard ${name} <command> --help" for details.\n`;
}

/** The command named by `argv` and its remaining arguments, or the exit code after printing help or an error. */
async function resolve(argv: string[]): Promise<{ command: Command; args: string[] } | number> {
  const [first, second] = argv;
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(`switchboard ${version()}\n`);
    return 0;
  }
  if (isHelp(first)) {
    process.stdout.write(await overview());
    return 0;
  }
  const name = first === undefined || first.startsWith('-') ? 'start' : first;
  const entry = GROUPS[name];
  if (!entry) {
    process.stderr.write(`Unknown command: ${name}\n\n${await overview()}`);
    return 2;
  }
  const { group } = await entry.load();
  const args = name === first ? argv.slice(1) : argv;
  if (group['']) return { command: group[''], args };
  if (isHelp(second)) {
    process.stdout.write(groupHelp(name, group));
    return 0;
  }
  const command = second === undefined ? undefined : group[second];
  if (!command) {
    process.stderr.write(`${second === undefined ? `switchboard ${name} needs a command` : `Unknown command: ${name} ${second}`}\n\n${groupHelp(name, group)}`);
    return 2;
  }
  return { command, args: args.slice(1) };
}

export async function runCli(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const resolved = await resolve(argv);
  if (typeof resolved === 'number') return resolved;
  const { command, args } = resolved;
  try {
    const { values, positionals } = parseArgs({ args, options: command.options, allowPositionals: true });
    if (values.help) {
      process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
      return 0;
    }
    const { loadConfig } = await import('../config/config.js');
    const config = loadConfig(env);
    return await command.run({ values: values as Values, positionals, config, env });
  } catch (err) {
    return report(err, command);
  }
}

/** Errors a user can act on are one line (usage errors with the usage, exit 2); anything else is a bug and thrown. */
function report(err: unknown, command: Command): number {
  const e = err as Error & { code?: string };
  if (e.name === 'UsageError' || e.code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${e.message}\n\nUsage: ${command.usage}\n`);
    return 2;
  }
  // A domain error (`errors.ts`, told by its `domain` mark: this file imports nothing of the application).
  if ((err as { domain?: unknown }).domain === true || ['CliError', 'ConfigError', 'StartupError', 'EmbeddedDatabaseBusyError'].includes(e.name)) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  throw err;
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/index.ts');
if (isMain) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
