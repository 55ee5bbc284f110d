/**
 * The RA-TLS listener: node:https with the in-memory certificate, TLS 1.3 by
 * default, header size and timeout limits, malformed HTTP answered with
 * problem+json, and a graceful close that lets in-flight requests finish.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { EnclaveGateError } from '../errors.js';
import type { IssuedCertificate } from '../ratls/issue.js';
import type { Logger } from '../observability/logger.js';
import { problemBody, toProblem } from './respond.js';
import type { ClientAttestation } from './client-attestation.js';

/** TLS listener settings. */
export interface TlsServerOptions {
  readonly certificate: IssuedCertificate;
  readonly minVersion: 'TLSv1.3' | 'TLSv1.2';
  readonly headerBytes: number;
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

/** Writes a raw HTTP/1.1 problem answer on a socket that has no request object. */
function writeRawProblem(socket: Socket, error: EnclaveGateError): void {
  if (!socket.writable) return;
  const { body, headers } = problemBody(toProblem(error, randomUUID()));
  const head = [`HTTP/1.1 ${error.status} ${error.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  head.push('connection: close', '', '');
  socket.end(Buffer.concat([Buffer.from(head.join('\r\n')), body]));
}

/** Creates (does not start) the RA-TLS server. */
export function createTlsServer(options: TlsServerOptions): Server {
  const attestation = options.clientAttestation;
  const server = createServer(
    {
      ...options.certificate.secureContextOptions(),
      minVersion: options.minVersion,
      // ALPN: HTTP/1.1 only; the proxy does not speak h2 yet, so it must not offer it.
      ALPNProtocols: ['http/1.1'],
      maxHeaderSize: options.headerBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      keepAliveTimeout: 65_000,
      // Client RA-TLS certificates are self-signed: the handshake still proves
      // the client holds the key, and trust comes from the evidence the
      // ClientAttestation verifies, never from a CA (no CA key is handed out).
      ...(attestation === undefined ? {} : { requestCert: true, rejectUnauthorized: false }),
      ...(options.clientCAs === undefined || options.clientCAs.length === 0 ? {} : { requestCert: true, rejectUnauthorized: false, ca: [...options.clientCAs] }),
    },
    attestation === undefined ? options.handler : attestation.wrap(options.handler),
  );
  if (attestation !== undefined) server.on('secureConnection', attestation.onSecureConnection);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'EG_HEADERS_TOO_LARGE' : 'EG_BAD_REQUEST';
    if (err.code !== 'ECONNRESET') options.logger.debug({ code, parser: err.code }, 'malformed request');
    writeRawProblem(socket, new EnclaveGateError(code, code === 'EG_HEADERS_TOO_LARGE' ? 'request headers exceed the limit' : 'malformed HTTP request'));
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
