/**
 * The default logger: pino at `BRAID_LOG_LEVEL` (default info), with credentials redacted (RELIABILITY S7).
 */
import { pino, type Logger } from 'pino';

/** Paths pino redacts wherever they appear in a log line. */
export const REDACT_PATHS = ['password', '*.password', 'url', '*.url', 'signingKeys', '*.signingKeys', 'args', '*.args'];

/** Makes braid's default logger. */
export function defaultLogger(): Logger {
  return pino({ name: 'braid', level: process.env.BRAID_LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
