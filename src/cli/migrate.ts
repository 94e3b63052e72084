/** `switchboard migrate`: applies pending migrations and exits (what `start` does first). */
import { helpOption, type CommandGroup } from './command.js';
import { withDatabase } from './database.js';

export const group: CommandGroup = {
  '': {
    summary: 'Apply pending database migrations and exit',
    usage: 'switchboard migrate',
    options: { ...helpOption },
    async run({ config }) {
      await withDatabase(config, async () => undefined);
      process.stdout.write('migrations are up to date\n');
      return 0;
    },
  },
};
