/**
 * Raw HTTP/1.1 over a verified TLS connection, for the adversarial suite:
 * the test writes exactly the bytes it means (no client library tidies them
 * up) and reads back every response the proxy sends, parsed just enough to
 * assert status, headers and problem code, plus whether the proxy closed.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Gateway } from '../../src/proxy/gateway.js';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The problem+json `code`, when the body is one. */
  readonly code: string | undefined;
}

export interface RawResult {
  readonly responses: RawResponse[];
  /** True when the proxy ended the connection (FIN or reset) before the wait ended. */
  readonly closed: boolean;
  /** Milliseconds from the first byte written to the close, when it closed. */
  readonly closedAfterMs: number | undefined;
}

/** Parses as many complete HTTP/1.1 responses as `data` holds. */
export function parseResponses(data: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = end + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const chunks: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p);
        if (lineEnd === -1) break;
        const size = parseInt(data.subarray(p, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd === -1 && data.length < lineEnd + 4) break;
          p = trailerEnd === -1 ? lineEnd + 4 : trailerEnd + 4;
          complete = true;
          break;
        }
        if (data.length < lineEnd + 2 + size + 2) break;
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
      bodyStart = p;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (data.length < bodyStart + length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    let code: string | undefined;
    if (headers['content-type']?.startsWith('application/problem+json')) {
      try {
        code = (JSON.parse(body.toString('utf8')) as { code?: string }).code;
      } catch {
        code = undefined;
      }
    }
    responses.push({ status, headers, body, code });
    at = bodyStart;
  }
  return { responses, rest: data.subarray(at) };
}

/** Opens a verified TLS connection to the gateway (trusts exactly its certificate). */
export function openTls(gateway: Gateway, extra: { ALPNProtocols?: string[] } = {}): Promise<TLSSocket> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: url.hostname, port: Number(url.port), ca: gateway.certificate.certPem, servername: 'localhost', ...extra },
      () => resolve(socket),
    );
    socket.once('error', reject);
  });
}

export interface ExchangeOptions {
  /** Stop once this many responses have arrived (default: wait for the close). */
  readonly responses?: number;
  /** Longest wait for the close or the responses (default 5 s). */
  readonly waitMs?: number;
  /** Bytes to write after the first write, each after a pause (slow clients). */
  readonly drip?: { readonly parts: readonly (string | Buffer)[]; readonly everyMs: number };
}

/** Writes `payload` on a fresh connection and collects what comes back. */
export async function exchange(gateway: Gateway, payload: string | Buffer, options: ExchangeOptions = {}): Promise<RawResult> {
  const socket = await openTls(gateway);
  const chunks: Buffer[] = [];
  const started = Date.now();
  let drip: NodeJS.Timeout | undefined;
  return new Promise((resolve) => {
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (drip !== undefined) clearInterval(drip);
      const { responses } = parseResponses(Buffer.concat(chunks));
      socket.destroy();
      resolve({ responses, closed, closedAfterMs: closed ? Date.now() - started : undefined });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 5000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (options.responses !== undefined && parseResponses(Buffer.concat(chunks)).responses.length >= options.responses) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(payload);
    if (options.drip !== undefined) {
      const parts = [...options.drip.parts];
      drip = setInterval(() => {
        const next = parts.shift();
        if (next === undefined || socket.destroyed) return void clearInterval(drip);
        socket.write(next);
      }, options.drip.everyMs);
    }
  });
}

/** A plain well-formed request head, CRLF-terminated, for building cases. */
export function head(requestLine: string, headers: readonly string[] = [], hostHeader = 'Host: localhost'): string {
  return [requestLine, ...(hostHeader === '' ? [] : [hostHeader]), ...headers, '', ''].join('\r\n');
}
