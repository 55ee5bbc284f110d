/**
 * Reads a request body into memory with a hard size limit and a deadline.
 * Only bodies the policy must see are buffered; everything else streams.
 */
import type { IncomingMessage } from 'node:http';
import { EnclaveGateError } from '../errors.js';

/** Reads the whole body; throws EG_BODY_TOO_LARGE past `limit` bytes and EG_REQUEST_TIMEOUT past `timeoutMs`. */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (err) {
        // Stop reading: the response goes out with `connection: close`.
        req.pause();
        reject(err);
      } else resolve(body!);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        finish(new EnclaveGateError('EG_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`, { details: { limit } }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onError = (cause: Error): void => finish(new EnclaveGateError('EG_BAD_REQUEST', 'request body could not be read', { cause }));
    const onAborted = (): void => finish(new EnclaveGateError('EG_BAD_REQUEST', 'client aborted the request body'));
    const timer = setTimeout(
      () => finish(new EnclaveGateError('EG_REQUEST_TIMEOUT', `request body not received within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

/** Parses a buffered JSON body; throws EG_INVALID_JSON with the parser's position, never the body. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (cause) {
    const position = /position (\d+)/.exec((cause as Error).message)?.[1];
    throw new EnclaveGateError('EG_INVALID_JSON', position ? `request body is not valid JSON (error at byte ${position})` : 'request body is not valid JSON', {
      details: position ? { position: Number(position) } : {},
    });
  }
}
