/** `switchboard teams list|create|delete`. */
import { helpOption, inFlagTerms, oneOf, UsageError, type CommandGroup } from './command.js';
import { CLI_PRINCIPAL, withServices } from './database.js';
import { askGateway, runningGatewayUrl } from './running-gateway.js';
import type { TeamsView } from '../authserver/dev-read-router.js';

const TEAM_FLAGS = { slug: 'the team slug', name: '--name', joinPolicy: '--join', packs: '--pack' };

export const group: CommandGroup = {
  list: {
    summary: 'List the teams',
    usage: 'switchboard teams list [--json]',
    options: { ...helpOption, json: { type: 'boolean', default: false } },
    async run({ values, config }) {
      const url = await runningGatewayUrl(config);
      const view = url
        ? await askGateway<TeamsView>(config, url, '/dev/teams')
        : await withServices(config, (services) => services.teams.overview());
      if (values.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      else if (view.items.length === 0) process.stdout.write('there are no teams; create one with: switchboard teams create <slug>\n');
      else for (const t of view.items) process.stdout.write(`${t.slug.padEnd(24)} ${t.joinPolicy === 'open' ? 'open  ' : 'invite'}  ${t.name}\n`);
      return 0;
    },
  },
  create: {
    summary: 'Create a team',
    usage: 'switchboard teams create <slug> [--name "Acme"] [--join open|invite] [--pack demo]',
    options: { ...helpOption, name: { type: 'string' }, join: { type: 'string', default: 'open' }, pack: { type: 'string' } },
    async run({ values, positionals, config }) {
      const slug = positionals[0];
      if (!slug) throw new UsageError('a team slug is required');
      const joinPolicy = oneOf(values, 'join', ['open', 'invite'] as const);
      const team = await withServices(config, (services) =>
        services.teams.create(CLI_PRINCIPAL, {
          slug,
          name: (values.name as string | undefined) ?? slug,
          ...(joinPolicy ? { joinPolicy } : {}),
          ...(values.pack ? { packs: [values.pack as string] } : {}),
        }).catch((err: unknown) => {
          throw inFlagTerms(err, TEAM_FLAGS);
        }),
      );
      process.stdout.write(`created team ${team.slug}; MCP endpoint: ${config.publicUrl}/t/${team.slug}/mcp\n`);
      return 0;
    },
  },
  delete: {
    summary: 'Delete a team with its members, tool servers and sessions',
    usage: 'switchboard teams delete <slug> --yes\n\nEnds the team\'s sessions on every replica, then deletes the team and everything it owns.',
    options: { ...helpOption, yes: { type: 'boolean', default: false } },
    async run({ values, positionals, config }) {
      const slug = positionals[0];
      if (!slug) throw new UsageError('a team slug is required');
      if (!values.yes) throw new UsageError(`deleting team ${slug} cannot be undone: confirm with --yes`);
      await withServices(config, (services) => services.teams.delete(CLI_PRINCIPAL, slug));
      process.stdout.write(`deleted team ${slug}\n`);
      return 0;
    },
  },
};
