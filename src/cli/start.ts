/** `switchboard start` (the default command): runs the gateway until SIGTERM or SIGINT. */
import { helpOption, type CommandGroup } from './command.js';

export const group: CommandGroup = {
  '': {
    summary: 'Start the gateway (default command)',
    usage: 'switchboard start\n\nConfigured by environment variables; see .env.example.',
    options: { ...helpOption },
    async run({ config }) {
      const [{ startGateway, describeEndpoints }, { createLogger }] = await Promise.all([import('../main.js'), import('../observability/logger.js')]);
      const gw = await startGateway(config, { logger: createLogger({ level: config.logLevel }) });
      process.stdout.write(`\n${describeEndpoints(config, gw)}\n\n`);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void gw.stop(signal).then(() => process.exit(0));
        });
      }
      return new Promise<number>(() => undefined); // runs until a signal
    },
  },
};
