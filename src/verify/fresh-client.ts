/**
 * The client's side of the freshness exchange (wire/freshness.ts): one raw
 * HTTP/1.1 GET of /.well-known/attestation on an already connected TLS
 * socket, before anything else uses that socket, so the answer is bound to
 * the very connection the client will send its data over.
 */
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { VerifyError } from '../errors.js';
import { EXPORTER_LABEL, EXPORTER_LENGTH, FRESHNESS_PATH } from '../wire/freshness.js';

/** What one exchange produced: the parsed answer and this side's binding values. */
export interface FreshExchange {
  readonly answer: unknown;
  readonly nonce: Uint8Array;
  readonly tlsExporter: Uint8Array;
}

/** Answers are a few KiB of evidence; anything far larger is not ours. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Sends the GET on `socket` and reads exactly one response (content-length
 * framed, no bytes left over), leaving the socket paused and reusable. Fails
 * with EG_VERIFY_CONNECT on transport problems and EG_VERIFY_PARSE on an
 * answer that is not a 200 JSON document.
 */
export function exchangeFreshness(socket: TLSSocket, host: string, timeoutMs = 10_000): Promise<FreshExchange> {
  const nonce = new Uint8Array(randomBytes(32));
  const tlsExporter = new Uint8Array(socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)));
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null, answer?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve({ answer, nonce, tlsExporter });
    };
    const onError = (cause: Error): void => finish(new VerifyError('EG_VERIFY_CONNECT', `freshness exchange failed: ${cause.message}`, { cause }));
    const onClose = (): void => finish(new VerifyError('EG_VERIFY_CONNECT', 'the server closed the connection during the freshness exchange'));
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_ANSWER_BYTES) return finish(new VerifyError('EG_VERIFY_PARSE', 'freshness answer is too large'));
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = buffered.subarray(0, headEnd).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1];
      const length = Number(head.find((l) => /^content-length:/i.test(l))?.split(':')[1]?.trim() ?? NaN);
      if (!Number.isInteger(length)) return finish(new VerifyError('EG_VERIFY_PARSE', `freshness answer has no content-length (status ${status ?? '?'})`));
      const total = headEnd + 4 + length;
      if (buffered.length < total) return;
      if (buffered.length > total) return finish(new VerifyError('EG_VERIFY_PARSE', 'the server sent more than one response to the freshness request'));
      const body = buffered.subarray(headEnd + 4).toString('utf8');
      if (status !== '200') {
        let code = '';
        try {
          code = String((JSON.parse(body) as { code?: unknown }).code ?? '');
        } catch {
          // not a problem document; the status says enough
        }
        const kind = status === '429' ? 'EG_VERIFY_CONNECT' : 'EG_VERIFY_PARSE';
        return finish(new VerifyError(kind, `freshness endpoint answered ${status}${code ? ` ${code}` : ''}`));
      }
      try {
        finish(null, JSON.parse(body));
      } catch {
        finish(new VerifyError('EG_VERIFY_PARSE', 'freshness answer is not JSON'));
      }
    };
    const timer = setTimeout(() => finish(new VerifyError('EG_VERIFY_CONNECT', `no freshness answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData).on('error', onError).on('close', onClose);
    const query = `nonce=${Buffer.from(nonce).toString('hex')}`;
    socket.write(`GET ${FRESHNESS_PATH}?${query} HTTP/1.1\r\nhost: ${host}\r\naccept: application/json\r\n\r\n`);
  });
}
