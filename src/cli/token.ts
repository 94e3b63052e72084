/**
 * `switchboard token`: an access token from the built-in issuer for local use. While a gateway holds the embedded
 * database, the token comes from that gateway (`POST /dev/token`), whose own refusals are passed through.
 */
import { CliError, helpOption, requireFlag, UsageError, type CommandGroup } from './command.js';
import { withServices } from './database.js';
import { askGateway, runningGatewayUrl } from './running-gateway.js';

export const group: CommandGroup = {
  '': {
    summary: 'Mint an access token from the built-in issuer for local use',
    usage:
      'switchboard token --email me@example.com [--team demo] [--admin] [--ttl 1h] [--client cli] [--force]\n\n' +
      'Prints a JWT for the team endpoint (or, with --admin, for the admin API at $PUBLIC_URL/admin).\n' +
      'For an invite-only team the address must be a member or invited (switchboard members add); --force mints anyway.\n' +
      'Example: curl -H "Authorization: Bearer $(npx switchboard token --team demo --email me@example.com)" ...',
    options: {
      ...helpOption,
      team: { type: 'string', default: 'demo' },
      email: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '1h' },
      client: { type: 'string', default: 'switchboard-cli' },
      force: { type: 'boolean', default: false },
    },
    async run({ values: v, config }) {
      if (config.authMode !== 'builtin') throw new UsageError('tokens can only be minted with AUTH_MODE=builtin');
      const email = requireFlag(v, 'email');
      const team = v.admin ? undefined : (v.team as string);
      const url = await runningGatewayUrl(config);
      if (url) {
        const body = { email, team: v.team, admin: v.admin, ttl: v.ttl, client: v.client, force: v.force };
        const { access_token: token } = await askGateway<{ access_token?: string }>(config, url, '/dev/token', body);
        if (!token) throw new CliError('the running gateway sent no token');
        process.stdout.write(`${token}\n`);
        return 0;
      }
      const token = await withServices(config, async (services) => {
        const problem = team === undefined || v.force ? undefined : await services.keys.nonMemberProblem(team, email);
        if (problem) throw new CliError(problem);
        return services.keys.mintLocalToken({
          email,
          team,
          ttl: v.ttl as string,
          clientId: v.client as string,
        });
      });
      process.stdout.write(`${token}\n`);
      return 0;
    },
  },
};
