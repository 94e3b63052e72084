/**
 * `switchboard members add|list|remove`: a team's members by e-mail (compared exactly, after trimming and lower
 * case). Adding an address no account has yet invites it, as the admin API does: the invitation becomes a
 * membership when a user with that verified address signs in (or `switchboard token` mints for it).
 */
import { helpOption, oneOf, requireFlag, UsageError, type CommandGroup, type Values } from './command.js';
import { CLI_PRINCIPAL, withServices } from './database.js';
import { askGateway, runningGatewayUrl } from './running-gateway.js';
import type { MembersView } from '../authserver/dev-read-router.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function emailFlag(values: Values): string {
  const email = requireFlag(values, 'email').trim().toLowerCase();
  if (!EMAIL.test(email)) throw new UsageError(`--email: ${values.email as string} is not an e-mail address`);
  return email;
}

export const group: CommandGroup = {
  add: {
    summary: 'Add a member (or invite an address without an account), or set their role',
    usage: 'switchboard members add --team <slug> --email <address> [--role member|admin]',
    options: { ...helpOption, team: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' } },
    async run({ values, config }) {
      const team = requireFlag(values, 'team');
      const email = emailFlag(values);
      const role = oneOf(values, 'role', ['member', 'admin'] as const) ?? 'member';
      const result = await withServices(config, (services) => services.members.add(CLI_PRINCIPAL, team, { email, role }));
      if (result.kind === 'invitation') {
        process.stdout.write(`invited ${email} to team ${team} as ${role}: the invitation becomes a membership when they sign in with that address\n`);
      } else {
        process.stdout.write(`${result.created ? 'added' : 'updated'} ${email} in team ${team} as ${role}\n`);
      }
      return 0;
    },
  },
  list: {
    summary: "List a team's members and pending invitations",
    usage: 'switchboard members list --team <slug> [--json]',
    options: { ...helpOption, team: { type: 'string' }, json: { type: 'boolean', default: false } },
    async run({ values, config }) {
      const team = requireFlag(values, 'team');
      const url = await runningGatewayUrl(config);
      const view = url
        ? await askGateway<MembersView>(config, url, `/dev/teams/${encodeURIComponent(team)}/members`)
        : await withServices(config, (services) => services.members.overview(team));
      if (values.json) {
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return 0;
      }
      if (view.items.length === 0 && view.invitations.length === 0) process.stdout.write(`team ${team} has no members\n`);
      for (const m of view.items) process.stdout.write(`${(m.email ?? m.userId).padEnd(32)} ${m.role.padEnd(7)} since ${m.createdAt}\n`);
      for (const i of view.invitations) process.stdout.write(`${i.email.padEnd(32)} ${i.role.padEnd(7)} invited ${i.createdAt}\n`);
      return 0;
    },
  },
  remove: {
    summary: "Remove a member (ending their sessions in the team) or withdraw an invitation",
    usage: 'switchboard members remove --team <slug> --email <address>',
    options: { ...helpOption, team: { type: 'string' }, email: { type: 'string' } },
    async run({ values, config }) {
      const team = requireFlag(values, 'team');
      const email = emailFlag(values);
      const what = await withServices(config, (services) => services.members.removeByEmail(CLI_PRINCIPAL, team, email));
      process.stdout.write(what === 'removed' ? `removed ${email} from team ${team}\n` : `withdrew the invitation of ${email} to team ${team}\n`);
      return 0;
    },
  },
};
