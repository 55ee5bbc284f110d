/**
 * The RA-TLS listener: node:https with the in-memory certificate, TLS 1.3 by
 * default, header size and timeout limits, malformed HTTP answered with
 * problem+json, and a graceful close that lets in-flight requests finish.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { constants as cryptoConstants, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { EnclaveGateError } from '../errors.js';
import type { IssuedCertificate } from '../ratls/issue.js';
import type { Logger } from '../observability/logger.js';
import { problemBody, sendProblem, toProblem } from './respond.js';
import { acceptedRequestId } from './headers.js';
import { guardRequest } from './request-guard.js';
import type { ClientAttestation } from './client-attestation.js';

/** TLS listener settings. */
export interface TlsServerOptions {
  readonly certificate: IssuedCertificate;
  readonly minVersion: 'TLSv1.3' | 'TLSv1.2';
  readonly headerBytes: number;
  /** Most header fields per request; more → 431 EG_TOO_MANY_HEADERS (request-guard.ts). Default 100. */
  readonly headerCount?: number;
  /** Session ticket keys are replaced this often, so a stolen ticket key opens little traffic. Default 1 h. */
  readonly ticketKeyRotationMs?: number;
  /** Told about every request refused before the pipeline (metrics). */
  readonly onRefused?: (code: EnclaveGateError['code']) => void;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Mutual RA-TLS (docs/mutual-ratls.md): clients are asked for a certificate,
   * which is verified by its evidence, not by an issuer. Absent → no client
   * certificates are requested.
   */
  readonly clientAttestation?: ClientAttestation;
  /**
   * PEM CAs whose client certificates identify callers (`tls.clientCAs`,
   * docs/identity.md). Clients are asked for a certificate; one that does not
   * chain is let through (it may be an RA-TLS certificate) and simply not
   * taken as an identity (identity.ts reads `socket.authorized`).
   */
  readonly clientCAs?: readonly string[];
}

/**
 * Protocol settings of every secure context the listener uses (the first one
 * and each one installed on rotation): TLS 1.3 unless TLS 1.2 is configured,
 * and then only ECDHE with AEAD suites (the certificate key is ECDSA); no
 * renegotiation (TLS 1.3 has none; for TLS 1.2 OpenSSL refuses it outright).
 */
export function tlsProtocolOptions(minVersion: 'TLSv1.3' | 'TLSv1.2'): {
  minVersion: 'TLSv1.3' | 'TLSv1.2';
  maxVersion: 'TLSv1.3';
  ciphers: string;
  secureOptions: number;
} {
  return {
    minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_SUITES, ...(minVersion === 'TLSv1.2' ? TLS12_AEAD_SUITES : [])].join(':'),
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}

const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];
const TLS12_AEAD_SUITES = ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256'];

/** Writes a raw HTTP/1.1 problem answer on a socket that has no request object. */
function writeRawProblem(socket: Socket, error: EnclaveGateError): void {
  if (!socket.writable) return;
  const { body, headers } = problemBody(toProblem(error, randomUUID()));
  const reason = error.status === 431 ? 'Request Header Fields Too Large' : error.status === 408 ? 'Request Timeout' : 'Bad Request';
  const head = [`HTTP/1.1 ${error.status} ${reason}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  head.push('connection: close', '', '');
  socket.end(Buffer.concat([Buffer.from(head.join('\r\n')), body]));
}

/** Creates (does not start) the RA-TLS server. */
export function createTlsServer(options: TlsServerOptions): Server {
  const attestation = options.clientAttestation;
  const headerCount = options.headerCount ?? 100;
  const inner = attestation === undefined ? options.handler : attestation.wrap(options.handler);
  // The guard runs first: a refused head never reaches attestation or policy.
  const guarded = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      guardRequest(req, { headerCount });
    } catch (err) {
      const error = err instanceof EnclaveGateError ? err : new EnclaveGateError('EG_BAD_REQUEST');
      options.logger.debug({ code: error.code }, 'request refused before the pipeline');
      options.onRefused?.(error.code);
      // Always close: whatever follows on this connection was sent by the same client.
      sendProblem(res, toProblem(error, acceptedRequestId(req.headers['x-request-id']) ?? randomUUID()), true);
      return;
    }
    inner(req, res);
  };
  const server = createServer(
    {
      ...options.certificate.secureContextOptions(),
      ...tlsProtocolOptions(options.minVersion),
      // ALPN: HTTP/1.1 only; the proxy does not speak h2 yet, so it must not offer it.
      ALPNProtocols: ['http/1.1'],
      maxHeaderSize: options.headerBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      keepAliveTimeout: 65_000,
      // A connection that never finishes its TLS handshake holds a socket like a
      // slowloris client; node's default lets it do so for 120 s.
      handshakeTimeout: Math.min(options.requestTimeoutMs, 10_000),
      // request-guard.ts checks Host itself so the 400 is problem+json like every other refusal.
      requireHostHeader: false,
      // Slowloris: the header and request deadlines are checked this often
      // (node's default is every 30 s, far coarser than short deadlines).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(options.requestTimeoutMs / 4))),
      // Client RA-TLS certificates are self-signed: the handshake still proves
      // the client holds the key, and trust comes from the evidence the
      // ClientAttestation verifies, never from a CA (no CA key is handed out).
      ...(attestation === undefined ? {} : { requestCert: true, rejectUnauthorized: false }),
      ...(options.clientCAs === undefined || options.clientCAs.length === 0 ? {} : { requestCert: true, rejectUnauthorized: false, ca: [...options.clientCAs] }),
    },
    guarded,
  );
  // Node drops headers past maxHeadersCount silently; keep one more than the
  // limit so the guard sees the excess and refuses it.
  server.maxHeadersCount = headerCount + 1;
  const rotation = setInterval(() => server.setTicketKeys(randomBytes(48)), options.ticketKeyRotationMs ?? 3_600_000);
  rotation.unref();
  server.once('close', () => clearInterval(rotation));
  if (attestation !== undefined) server.on('secureConnection', attestation.onSecureConnection);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'EG_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'EG_REQUEST_TIMEOUT' : 'EG_BAD_REQUEST';
    if (err.code !== 'ECONNRESET') {
      options.logger.debug({ code, parser: err.code }, 'malformed request');
      options.onRefused?.(code);
    }
    const message = code === 'EG_HEADERS_TOO_LARGE' ? 'request headers exceed the limit' : code === 'EG_REQUEST_TIMEOUT' ? 'request not received in time' : 'malformed HTTP request';
    // A response already under way on this socket cannot take a second status line.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (inFlight?.headersSent !== true) writeRawProblem(socket, new EnclaveGateError(code, message));
    socket.destroy();
  });
  // CONNECT (authority-form): node hands it to 'connect' listeners only and
  // otherwise drops the socket without a word; answer it like other refusals.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    options.onRefused?.('EG_AMBIGUOUS_PATH');
    writeRawProblem(socket, new EnclaveGateError('EG_AMBIGUOUS_PATH', 'CONNECT (authority-form) is not supported'));
    socket.destroy();
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    options.logger.debug({ tls: err.code }, 'TLS handshake failed');
  });
  return server;
}

/** Listens on host:port and resolves with the bound port. */
export async function listen(server: Server | import('node:http').Server, host: string, port: number): Promise<number> {
  server.listen(port, host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  } catch (cause) {
    throw new EnclaveGateError('EG_LISTEN_FAILED', `cannot listen on ${host}:${port} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

/**
 * Stops accepting, lets in-flight requests finish for up to `graceMs`, then
 * closes whatever is left. Idle keep-alive connections close at once.
 */
export async function closeGracefully(server: Server | import('node:http').Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  // Connections that finish a response while draining become idle; close them as they do.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  sweep.unref();
  await closed;
  clearTimeout(timer);
  clearInterval(sweep);
}
