/** pino logging. Secrets are redacted by path, so a stray header or body field never reaches a log line. */
import { pino, type Logger, type DestinationStream } from 'pino';
import { requestFacts } from './request-context.js';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.code_verifier',
  '*.token',
  'token',
  'secret',
];

export function createLogger(opts: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Every line written while serving a request names it (and, once known, its caller and session); what the line
      // itself says wins.
      mixin: () => ({ ...requestFacts() }),
    },
    opts.destination,
  );
}
