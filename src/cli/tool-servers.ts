/** `switchboard tool-servers add|list|remove`: a team's tool servers (built-in packs or remote MCP servers). */
import { helpOption, inFlagTerms, requireFlag, UsageError, type CommandGroup, type Values } from './command.js';
import { teamIdOf, withDatabase } from './database.js';
import { askGateway, runningGatewayUrl } from './running-gateway.js';
import type { ToolServersView } from '../authserver/dev-read-router.js';

const TOOL_SERVER_FLAGS = {
  name: '--name',
  url: '--url',
  pack: '--pack',
  'auth.mode': '--auth',
  'auth.header': '--header',
  'auth.secret': 'the secret (--secret-env or --secret-stdin)',
  auth: '--auth',
  prefix: '--no-prefix',
  enabled: '--disabled',
};

export const group: CommandGroup = {
  add: {
    summary: 'Add a tool server to a team (a built-in pack or a remote MCP server)',
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
      ...helpOption,
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
    async run({ values: v, config, env }) {
      const team = requireFlag(v, 'team');
      const name = requireFlag(v, 'name');
      if ((typeof v.url === 'string') === (typeof v.pack === 'string')) throw new UsageError('give exactly one of --url and --pack');
      const mode = (v.auth as string | undefined) ?? (v.url ? 'exchange' : undefined);
      const secret = await readSecret(v, env);
      if (secret !== undefined && mode !== 'static') throw new UsageError('a secret is only used with --auth static');
      if (mode === 'static' && secret === undefined) throw new UsageError('--auth static needs --secret-env <VAR> or --secret-stdin');
      if (v.pack && (v.auth || v.header)) throw new UsageError('--auth and --header apply to remote tool servers (--url) only');
      const input = v.pack
        ? { name, kind: 'builtin', pack: v.pack, prefix: !v['no-prefix'], enabled: !v.disabled }
        : {
            name,
            kind: 'remote',
            url: v.url,
            auth: { mode, ...(v.header ? { header: v.header } : {}), ...(secret !== undefined ? { secret } : {}) },
            prefix: !v['no-prefix'],
            enabled: !v.disabled,
          };
      const [{ addToolServer, toToolServerJson }, { createSecretBox, resolveEncryptionKey }] = await Promise.all([
        import('../toolservers/tool-server-config.js'),
        import('../security/secret-box.js'),
      ]);
      const j = await withDatabase(config, async (db) => {
        const box = createSecretBox(resolveEncryptionKey(config.encryptionKey, config.dataDir));
        const row = await addToolServer(db.prisma, box, await teamIdOf(db, team), input).catch((err: unknown) => {
          throw inFlagTerms(err, TOOL_SERVER_FLAGS);
        });
        return toToolServerJson(row);
      });
      process.stdout.write(`added tool server ${j.name} to team ${team} (${describeToolServer(j)})\n`);
      return 0;
    },
  },
  list: {
    summary: "List a team's tool servers (secrets are never shown)",
    usage: 'switchboard tool-servers list --team <slug> [--json]',
    options: { ...helpOption, team: { type: 'string' }, json: { type: 'boolean', default: false } },
    async run({ values, config }) {
      const team = requireFlag(values, 'team');
      const url = await runningGatewayUrl(config);
      const { items } = url
        ? await askGateway<ToolServersView>(config, url, `/dev/teams/${encodeURIComponent(team)}/tool-servers`)
        : await withDatabase(config, async (db) => (await import('../authserver/dev-read-router.js')).readToolServers(db.prisma, team));
      if (values.json) process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
      else if (items.length === 0) process.stdout.write(`team ${team} has no tool servers\n`);
      else for (const j of items) process.stdout.write(`${j.name.padEnd(20)} ${describeToolServer(j)}${j.enabled ? '' : ' [disabled]'}\n`);
      return 0;
    },
  },
  remove: {
    summary: 'Remove a tool server from a team',
    usage: 'switchboard tool-servers remove --team <slug> --name <name>',
    options: { ...helpOption, team: { type: 'string' }, name: { type: 'string' } },
    async run({ values, positionals, config }) {
      const team = requireFlag(values, 'team');
      const name = (values.name as string | undefined) ?? positionals[0];
      if (!name) throw new UsageError('--name is required');
      const { removeToolServer } = await import('../toolservers/tool-server-registry.js');
      await withDatabase(config, async (db) => removeToolServer(db.prisma, await teamIdOf(db, team), name));
      process.stdout.write(`removed tool server ${name} from team ${team}\n`);
      return 0;
    },
  },
};

/** A static secret from a named environment variable or stdin: never from argv, where `ps` and shell history see it. */
async function readSecret(v: Values, env: Record<string, string | undefined>): Promise<string | undefined> {
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
