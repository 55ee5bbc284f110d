/**
 * The upstream leg: one undici Pool to the model server (keep-alive, bounded
 * connections, pipelining off so a slow response never blocks another), and
 * the mapping of transport failures onto catalogue errors. The idle timeout
 * stays at undici's 4 s default (honouring a server's Keep-Alive hint), below
 * the 5 s of common Python model servers, so the proxy retires idle
 * connections before the server does and never races a server-side close.
 */
import { Pool } from 'undici';
import { EnclaveGateError } from '../errors.js';

/** Pool settings from the configuration. */
export interface UpstreamOptions {
  /** http://host:port or unix:/path. */
  readonly upstream: string;
  readonly connections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Called whenever a new upstream connection is opened (metrics). */
  readonly onConnect?: () => void;
}

/** Creates the pool for `options.upstream`. */
export function createUpstreamPool(options: UpstreamOptions): Pool {
  const isUnix = options.upstream.startsWith('unix:');
  const origin = isUnix ? 'http://localhost' : options.upstream.replace(/\/$/, '');
  const pool = new Pool(origin, {
    connections: options.connections,
    pipelining: 1,
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    ...(isUnix ? { socketPath: options.upstream.slice('unix:'.length) } : {}),
  });
  if (options.onConnect) pool.on('connect', options.onConnect);
  return pool;
}

const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ENOENT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Maps an undici/socket failure to EG_UPSTREAM_UNAVAILABLE (502) or EG_UPSTREAM_TIMEOUT (504). */
export function upstreamError(cause: unknown): EnclaveGateError {
  if (cause instanceof EnclaveGateError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT.has(code)) {
    return new EnclaveGateError('EG_UPSTREAM_TIMEOUT', 'the model server did not answer in time', { cause });
  }
  const known = typeof code === 'string' && UNAVAILABLE.has(code);
  return new EnclaveGateError('EG_UPSTREAM_UNAVAILABLE', known ? `the model server is unreachable (${code})` : 'the model server is unreachable', { cause });
}
