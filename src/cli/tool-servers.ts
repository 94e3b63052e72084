/**
 * `switchboard tool-servers add|list|remove|policy`: a team's tool servers (built-in packs or remote MCP servers) and
 * who may use which of their tools (`policy`, through the admin API's service: validated, audited, announced to
 * live sessions on every replica).
 */
import { readFile } from 'node:fs/promises';
import { CliError, helpOption, inFlagTerms, requireFlag, UsageError, type CommandGroup, type Values } from './command.js';
import { CLI_PRINCIPAL, withServices } from './database.js';
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
      '         [--auth exchange|passthrough|static|none|oauth] [--header <name>] [--secret-env <VAR> | --secret-stdin]\n' +
      '         [--no-prefix] [--disabled]\n\n' +
      '--auth      how the upstream sees the user (default exchange: a per-user JWT from the gateway; oauth: each user connects their own account there)\n' +
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
      const j = await withServices(config, (services) =>
        services.toolServers.add(CLI_PRINCIPAL, team, input).catch((err: unknown) => {
          throw inFlagTerms(err, TOOL_SERVER_FLAGS);
        }),
      );
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
        : await withServices(config, (services) => services.toolServers.overview(team));
      if (values.json) process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
      else if (items.length === 0) process.stdout.write(`team ${team} has no tool servers\n`);
      else for (const j of items) process.stdout.write(`${j.name.padEnd(20)} ${describeToolServer(j)}${j.enabled ? '' : ' [disabled]'}\n`);
      return 0;
    },
  },
  policy: {
    summary: 'Show or set who may use which tools, prompts and resources of a tool server',
    usage:
      'switchboard tool-servers policy --team <slug> --name <name> [--set <json> | --file <path> | --clear]\n\n' +
      'Without --set, --file or --clear: prints the policy (JSON; {} when everything is open to every member).\n' +
      '--set     the new policy as JSON (replaces the old one as a whole)\n' +
      '--file    read the new policy from a JSON file (- for standard input)\n' +
      '--clear   remove every rule\n\n' +
      'A policy: {"tools": {"<tool>": {"roles": ["admin"]} | {"members": ["ada@example.com"]} | {"hidden": true}},\n' +
      '           "prompts": {…}, "resources": {"<uri>": …}}   (names as the tool server lists them, without the prefix)\n\n' +
      'Example: switchboard tool-servers policy --team acme --name github \\\n' +
      '           --set \'{"tools":{"create_issue":{"roles":["admin"]},"delete_repo":{"hidden":true}}}\'',
    options: { ...helpOption, team: { type: 'string' }, name: { type: 'string' }, set: { type: 'string' }, file: { type: 'string' }, clear: { type: 'boolean', default: false } },
    async run({ values: v, config }) {
      const team = requireFlag(v, 'team');
      const name = requireFlag(v, 'name');
      const given = [v.set !== undefined, v.file !== undefined, v.clear === true].filter(Boolean).length;
      if (given > 1) throw new UsageError('give at most one of --set, --file and --clear');
      if (given === 0) {
        const url = await runningGatewayUrl(config);
        const { items } = url
          ? await askGateway<ToolServersView>(config, url, `/dev/teams/${encodeURIComponent(team)}/tool-servers`)
          : await withServices(config, (services) => services.toolServers.overview(team));
        const found = items.find((j) => j.name === name);
        if (!found) throw new CliError(`Team ${team} has no tool server named ${name}`);
        process.stdout.write(`${JSON.stringify(found.policy, null, 2)}\n`);
        return 0;
      }
      const policy = v.clear ? {} : parsePolicyJson(typeof v.set === 'string' ? v.set : await readPolicyFile(v.file as string), v.set !== undefined ? '--set' : '--file');
      const saved = await withServices(config, (services) => services.toolServers.update(CLI_PRINCIPAL, team, name, { policy })).catch((err: unknown) => {
        const e = err as { domain?: unknown; code?: string; message?: string };
        if (e.domain === true && e.code === 'invalid_body') throw new UsageError(String(e.message).replace(/^Invalid (change|tool server): /, 'invalid policy: '));
        throw err;
      });
      const rules = Object.values(saved.policy).reduce((n, r) => n + Object.keys(r ?? {}).length, 0);
      process.stdout.write(`policy of tool server ${name} in team ${team}: ${rules === 0 ? 'cleared (everything open to every member)' : `${rules} rule${rules === 1 ? '' : 's'}`}; live sessions were told\n`);
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
      await withServices(config, (services) => services.toolServers.remove(CLI_PRINCIPAL, team, name));
      process.stdout.write(`removed tool server ${name} from team ${team}\n`);
      return 0;
    },
  },
};

/** The policy text as JSON, or a usage error naming the flag it came from. */
function parsePolicyJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag}: the policy is not valid JSON`);
  }
}

async function readPolicyFile(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--file: cannot read ${path} (${err.code ?? err.message})`);
  });
}

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

function describeToolServer(j: { kind: string; pack?: string; url?: string; auth?: { mode: string; header?: string }; prefix: boolean; policy?: Record<string, object | undefined> }): string {
  const what = j.kind === 'builtin' ? `pack ${j.pack ?? '?'}` : `${j.url ?? '?'}, auth ${j.auth?.mode ?? '?'}${j.auth?.header ? ` (${j.auth.header})` : ''}`;
  const rules = Object.values(j.policy ?? {}).reduce((n, r) => n + Object.keys(r ?? {}).length, 0);
  return `${what}${j.prefix ? '' : ', unprefixed'}${rules ? `, policy: ${rules} rule${rules === 1 ? '' : 's'}` : ''}`;
}
