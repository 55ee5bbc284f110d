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

/**
 * Creates the process logger. `destination` lets tests capture lines;
 * `bindings` are fields on every line (a worker's id).
 */
export function createLogger(level: string, destination?: DestinationStream, bindings?: Readonly<Record<string, string | number>>): Logger {
  const options = {
    level,
    base: { service: 'enclave-gate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const bound = (root: Logger): Logger => ours(bindings === undefined ? root : root.child(bindings));
  if (destination !== undefined) return bound(pino(options, destination));
  const stdout = pino.destination({ dest: 1, sync: false, minLength: STDOUT_BUFFER_BYTES });
  // A quiet proxy's lines must not wait for the buffer to fill.
  setInterval(() => stdout.flush(), FLUSH_EVERY_MS).unref();
  return bound(pino(options, stdout));
}

/** Loggers made by createLogger, whose line format accessLogWriter knows. */
const OURS = new WeakSet<Logger>();

function ours(logger: Logger): Logger {
  OURS.add(logger);
  return logger;
}

/** One access-log entry (pipeline stage 7): the request's outcome, never its body or query. */
export interface AccessLogEntry {
  readonly request_id: string;
  readonly method: string | undefined;
  readonly path: string;
  readonly status: number | undefined;
  readonly decision: string;
  readonly code: string;
  readonly reasons?: readonly string[];
  readonly duration_ms: number;
  readonly policy_ms: number;
  readonly upstream_ms?: number;
}

let stampMs = Number.NaN;
let stamp = '';

/** pino's isoTime field, worked out once per millisecond (access lines come in bursts). */
function isoTimeField(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/**
 * Writes access-log lines exactly as `logger.info(entry, 'request')` would
 * (same fields, order and format, to the same destination), without pino's
 * per-call work: its serialiser, the redaction pass (an entry holds no
 * header or credential) and a Date per line. An access line per request cost
 * about a fifth of the proxy's CPU through pino; test/unit/observability
 * checks the lines against pino's own. Callers check
 * `logger.isLevelEnabled('info')` first.
 */
export function accessLogWriter(logger: Logger): (entry: AccessLogEntry) => void {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as DestinationStream | undefined;
  // The base fields and bindings, already as JSON (",\"service\":\"enclave-gate\"…").
  const base = internals[pino.symbols.chindingsSym];
  // Another logger (a test's, a child made elsewhere): through pino itself.
  if (!OURS.has(logger) || stream === undefined || typeof base !== 'string') return (entry) => logger.info(entry, 'request');
  const level = logger.levels.values['info'] ?? 30;
  const head = `{"level":${level}`;
  return (entry) => {
    let line = head + isoTimeField() + base + ',"request_id":' + JSON.stringify(entry.request_id);
    if (entry.method !== undefined) line += ',"method":' + JSON.stringify(entry.method);
    line += ',"path":' + JSON.stringify(entry.path);
    if (entry.status !== undefined) line += ',"status":' + JSON.stringify(entry.status);
    line += ',"decision":' + JSON.stringify(entry.decision) + ',"code":' + JSON.stringify(entry.code);
    if (entry.reasons !== undefined) line += ',"reasons":' + JSON.stringify(entry.reasons);
    line += ',"duration_ms":' + JSON.stringify(entry.duration_ms) + ',"policy_ms":' + JSON.stringify(entry.policy_ms);
    if (entry.upstream_ms !== undefined) line += ',"upstream_ms":' + JSON.stringify(entry.upstream_ms);
    stream.write(line + ',"msg":"request"}\n');
  };
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
