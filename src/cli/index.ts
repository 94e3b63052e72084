/**
 * The `switchboard` command line: `start` (default), `migrate`, `teams create`, `token`. Operator helpers call the
 * same code as the gateway and the admin API.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, ConfigError, type Config } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { openAndMigrate, startGateway, describeEndpoints } from '../main.js';
import { createTeam } from '../teams/team-admin.js';
import { mintLocalToken } from '../authserver/local-token.js';
import { resolveEncryptionKey } from '../security/secret-box.js';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], config: Config): Promise<number>;
}

const help = { help: { type: 'boolean', short: 'h' } } as const;

const commands: Record<string, Command> = {
  start: {
    summary: 'Start the gateway (default command)',
    usage: 'switchboard start\n\nConfigured by environment variables; see .env.example.',
    options: { ...help },
    async run(_v, _p, config) {
      const logger = createLogger({ level: config.logLevel });
      const gw = await startGateway(config, { logger });
      process.stdout.write(`\n${describeEndpoints(config, gw.url)}\n\n`);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void gw.stop(signal).then(() => process.exit(0));
        });
      }
      return new Promise<number>(() => undefined); // runs until a signal
    },
  },
  migrate: {
    summary: 'Apply pending database migrations and exit',
    usage: 'switchboard migrate',
    options: { ...help },
    async run(_v, _p, config) {
      const logger = createLogger({ level: config.logLevel });
      const db = await openAndMigrate(config, logger);
      await db.close();
      process.stdout.write('migrations are up to date\n');
      return 0;
    },
  },
  'teams create': {
    summary: 'Create a team',
    usage: 'switchboard teams create <slug> [--name "Acme"] [--join open|invite] [--pack demo]',
    options: { ...help, name: { type: 'string' }, join: { type: 'string', default: 'open' }, pack: { type: 'string' } },
    async run(v, p, config) {
      const slug = p[0];
      if (!slug) throw new UsageError('a team slug is required');
      const db = await openAndMigrate(config, createLogger({ level: 'warn' }));
      try {
        const team = await createTeam(db.prisma, {
          slug,
          name: (v.name as string | undefined) ?? slug,
          joinPolicy: v.join as 'open' | 'invite',
          ...(v.pack ? { packs: [v.pack as string] } : {}),
        });
        process.stdout.write(`created team ${team.slug}; MCP endpoint: ${config.publicUrl}/t/${team.slug}/mcp\n`);
      } finally {
        await db.close();
      }
      return 0;
    },
  },
  token: {
    summary: 'Mint an access token from the built-in issuer for local use',
    usage:
      'switchboard token --email me@example.com [--team demo] [--admin] [--ttl 1h] [--client cli]\n\n' +
      'Prints a JWT for the team endpoint (or, with --admin, for the admin API at $PUBLIC_URL/admin).\n' +
      'Example: curl -H "Authorization: Bearer $(npx switchboard token --team demo --email me@example.com)" ...',
    options: {
      ...help,
      team: { type: 'string', default: 'demo' },
      email: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '1h' },
      client: { type: 'string', default: 'switchboard-cli' },
    },
    async run(v, _p, config) {
      if (config.authMode !== 'builtin') throw new UsageError('tokens can only be minted with AUTH_MODE=builtin');
      if (typeof v.email !== 'string') throw new UsageError('--email is required');
      const db = await openAndMigrate(config, createLogger({ level: 'warn' }));
      try {
        const token = await mintLocalToken({
          db,
          config,
          encryptionKey: resolveEncryptionKey(config.encryptionKey, config.dataDir),
          email: v.email,
          team: v.admin ? undefined : (v.team as string),
          ttl: v.ttl as string,
          clientId: v.client as string,
        });
        process.stdout.write(`${token}\n`);
      } finally {
        await db.close();
      }
      return 0;
    },
  },
};

export class UsageError extends Error {}

function overview(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `Usage: switchboard <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "switchboard <command> --help" for details.\n`;
}

export async function runCli(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview());
    return 0;
  }
  const two = argv.slice(0, 2).join(' ');
  const [name, rest] = commands[two] ? [two, argv.slice(2)] : argv[0] && !argv[0].startsWith('-') ? [argv[0], argv.slice(1)] : ['start', argv];
  const command = commands[name];
  if (!command) {
    process.stderr.write(`Unknown command: ${name}\n\n${overview()}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: true });
    if (values.help) {
      process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
      return 0;
    }
    const config = loadConfig(env);
    return await command.run(values as Record<string, string | boolean | undefined>, positionals, config);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\nUsage: ${command.usage}\n`);
      return 2;
    } else if (err instanceof Error && err.name === 'ApiError') process.stderr.write(`${err.message}\n`);
    else throw err;
    return 1;
  }
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
