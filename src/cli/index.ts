/**
 * The `switchboard` command line: `start` (default), `migrate`, `teams create`, `tool-servers add|list|remove`,
 * `token`. Operator helpers call the same code as the gateway and the admin API.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, ConfigError, type Config } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { openAndMigrate, startGateway, describeEndpoints } from '../main.js';
import { createTeam } from '../teams/team-admin.js';
import { mintLocalToken } from '../authserver/local-token.js';
import { embeddedLockHolder, EmbeddedDatabaseBusyError } from '../db/embedded-lock.js';
import { createSecretBox, resolveEncryptionKey } from '../security/secret-box.js';
import type { Database } from '../db/database.js';
import { addToolServer, toToolServerJson } from '../toolservers/tool-server-config.js';
import { listToolServers, removeToolServer } from '../toolservers/tool-server-registry.js';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], config: Config, env: Record<string, string | undefined>): Promise<number>;
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
      process.stdout.write(`\n${describeEndpoints(config, gw)}\n\n`);
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
  'tool-servers add': {
    summary: "Add a tool server to a team (a built-in pack or a remote MCP server)",
    usage:
      'switchboard tool-servers add --team <slug> --name <name> (--url <https://…/mcp> | --pack <pack>)\n' +
      '         [--auth exchange|passthrough|static|none] [--header <name>] [--secret-env <VAR> | --secret-stdin]\n' +
      '         [--no-prefix] [--disabled]\n\n' +
      '--auth      how the upstream sees the user (default exchange: a per-user JWT from the gateway)\n' +
      '--header    header for --auth static (default Authorization)\n' +
      '--secret-env  name of an environment variable holding the static secret (never the secret itself)\n' +
      '--secret-stdin  read the static secret from standard input\n' +
      '--no-prefix   expose names and URIs unchanged instead of as {name}__{tool}\n\n' +
      'Example: GITHUB_MCP_TOKEN=… switchboard tool-servers add --team acme --name github \\\n' +
      '           --url https://mcp.example.com/mcp --auth static --secret-env GITHUB_MCP_TOKEN',
    options: {
      ...help,
      team: { type: 'string' },
      name: { type: 'string' },
      url: { type: 'string' },
      pack: { type: 'string' },
      auth: { type: 'string' },
      header: { type: 'string' },
      'secret-env': { type: 'string' },
      'secret-stdin': { type: 'boolean', default: false },
      'no-prefix': { type: 'boolean', default: false },
      disabled: { type: 'boolean', default: false },
    },
    async run(v, _p, config, env) {
      if (typeof v.team !== 'string') throw new UsageError('--team is required');
      if (typeof v.name !== 'string') throw new UsageError('--name is required');
      if ((typeof v.url === 'string') === (typeof v.pack === 'string')) throw new UsageError('give exactly one of --url and --pack');
      const mode = (v.auth as string | undefined) ?? (v.url ? 'exchange' : undefined);
      const secret = await readSecret(v, env);
      if (secret !== undefined && mode !== 'static') throw new UsageError('a secret is only used with --auth static');
      if (mode === 'static' && secret === undefined) throw new UsageError('--auth static needs --secret-env <VAR> or --secret-stdin');
      if (v.pack && (v.auth || v.header)) throw new UsageError('--auth and --header apply to remote tool servers (--url) only');
      const input = v.pack
        ? { name: v.name, kind: 'builtin', pack: v.pack, prefix: !v['no-prefix'], enabled: !v.disabled }
        : {
            name: v.name,
            kind: 'remote',
            url: v.url,
            auth: { mode, ...(v.header ? { header: v.header } : {}), ...(secret !== undefined ? { secret } : {}) },
            prefix: !v['no-prefix'],
            enabled: !v.disabled,
          };
      return withTeam(config, v.team, async (db, teamId) => {
        const box = createSecretBox(resolveEncryptionKey(config.encryptionKey, config.dataDir));
        const row = await addToolServer(db.prisma, box, teamId, input);
        const j = toToolServerJson(row);
        process.stdout.write(`added tool server ${j.name} to team ${v.team as string} (${describeToolServer(j)})\n`);
        return 0;
      });
    },
  },
  'tool-servers list': {
    summary: "List a team's tool servers (secrets are never shown)",
    usage: 'switchboard tool-servers list --team <slug> [--json]',
    options: { ...help, team: { type: 'string' }, json: { type: 'boolean', default: false } },
    async run(v, _p, config) {
      if (typeof v.team !== 'string') throw new UsageError('--team is required');
      return withTeam(config, v.team, async (db, teamId) => {
        const items = await listToolServers(db.prisma, teamId);
        if (v.json) process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
        else if (items.length === 0) process.stdout.write(`team ${v.team as string} has no tool servers\n`);
        else for (const j of items) process.stdout.write(`${j.name.padEnd(20)} ${describeToolServer(j)}${j.enabled ? '' : ' [disabled]'}\n`);
        return 0;
      });
    },
  },
  'tool-servers remove': {
    summary: 'Remove a tool server from a team',
    usage: 'switchboard tool-servers remove --team <slug> --name <name>',
    options: { ...help, team: { type: 'string' }, name: { type: 'string' } },
    async run(v, p, config) {
      const name = (v.name as string | undefined) ?? p[0];
      if (typeof v.team !== 'string') throw new UsageError('--team is required');
      if (!name) throw new UsageError('--name is required');
      return withTeam(config, v.team, async (db, teamId) => {
        await removeToolServer(db.prisma, teamId, name);
        process.stdout.write(`removed tool server ${name} from team ${v.team as string}\n`);
        return 0;
      });
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
      const running = config.databaseUrl ? undefined : embeddedLockHolder(config.dataDir);
      if (running?.url) {
        // The embedded database belongs to the running gateway; ask it (dev login only) instead of opening it.
        process.stdout.write(`${await devTokenFrom(config.dataDir, running.url, v)}\n`);
        return 0;
      }
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

async function devTokenFrom(dataDir: string, url: string, v: Record<string, string | boolean | undefined>): Promise<string> {
  const res = await fetch(`${url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: v.email, team: v.team, admin: v.admin, ttl: v.ttl, client: v.client }),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: { message?: string } };
  if (res.status === 404) {
    // Its dev login is off, so it hands out no tokens; and the database is its alone.
    const holder = embeddedLockHolder(dataDir);
    if (holder) throw new EmbeddedDatabaseBusyError(dataDir, holder);
  }
  if (!res.ok || !body.access_token) throw new UsageError(body.error?.message ?? `the running gateway refused: HTTP ${res.status}`);
  return body.access_token;
}

/** Opens the database, resolves the team slug, runs `fn`, closes. */
async function withTeam(config: Config, slug: string, fn: (db: Database, teamId: string) => Promise<number>): Promise<number> {
  const db = await openAndMigrate(config, createLogger({ level: 'warn' }));
  try {
    const team = await db.prisma.team.findUnique({ where: { slug }, select: { id: true } });
    if (!team) {
      process.stderr.write(`No team ${JSON.stringify(slug)} exists\n`);
      return 1;
    }
    return await fn(db, team.id);
  } finally {
    await db.close();
  }
}

/** A static secret from a named environment variable or stdin: never from argv, where `ps` and shell history see it. */
async function readSecret(v: Record<string, string | boolean | undefined>, env: Record<string, string | undefined>): Promise<string | undefined> {
  const fromEnv = v['secret-env'];
  if (typeof fromEnv === 'string') {
    const value = env[fromEnv];
    if (!value) throw new UsageError(`environment variable ${fromEnv} is not set or empty`);
    return value;
  }
  if (v['secret-stdin']) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (!value) throw new UsageError('no secret on standard input');
    return value;
  }
  return undefined;
}

function describeToolServer(j: { kind: string; pack?: string; url?: string; auth?: { mode: string; header?: string }; prefix: boolean }): string {
  const what = j.kind === 'builtin' ? `pack ${j.pack ?? '?'}` : `${j.url ?? '?'}, auth ${j.auth?.mode ?? '?'}${j.auth?.header ? ` (${j.auth.header})` : ''}`;
  return `${what}${j.prefix ? '' : ', unprefixed'}`;
}

function overview(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(20)} ${c.summary}`);
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
    return await command.run(values as Record<string, string | boolean | undefined>, positionals, config, env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusyError) process.stderr.write(`${err.message}\n`);
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
