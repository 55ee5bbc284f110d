/**
 * pino JSON logger. Bodies are never passed to the logger at all; the redact
 * list is a second line of defence for headers that carry credentials.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths pino replaces with "[redacted]" wherever a log object contains them. */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.key',
  '*.privateKey',
];

/** Creates the process logger. `destination` lets tests capture lines. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'enclave-gate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination !== undefined) return pino(options, destination);
  const stdout = pino.destination({ dest: 1, sync: false, minLength: STDOUT_BUFFER_BYTES });
  // A quiet proxy's lines must not wait for the buffer to fill.
  setInterval(() => stdout.flush(), FLUSH_EVERY_MS).unref();
  return pino(options, stdout);
}

/** How long a log line may wait in the buffer at most. */
const FLUSH_EVERY_MS = 250;

/**
 * Bytes of log lines gathered before one write to stdout. pino's default
 * destination writes synchronously, a syscall per line: with an access-log
 * line per request that is a syscall on every request's path. Buffered, lines
 * leave in batches (as nginx's `access_log ... buffer=... flush=`), at the
 * latest FLUSH_EVERY_MS later, and pino flushes what is left when the process
 * exits.
 */
const STDOUT_BUFFER_BYTES = 4096;
