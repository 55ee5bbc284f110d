/**
 * Request body reading and JSON/error responses for the demo model server.
 * Errors use the OpenAI shape, `{ "error": { "message", "type", "param",
 * "code" } }`, because the proxy's clients are OpenAI SDKs that know how to
 * surface exactly that.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** An error that ends a request with a given status and OpenAI error type. */
export class HttpError extends Error {
  /**
   * @param status HTTP status code.
   * @param type OpenAI-style error type, e.g. `invalid_request_error`.
   * @param message Human-readable message, returned to the client.
   * @param param Request field at fault, if any.
   * @param headers Extra response headers (e.g. `Allow` on 405).
   */
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A 400 `invalid_request_error`, the common case. */
export function badRequest(message: string, param: string | null = null): HttpError {
  return new HttpError(400, 'invalid_request_error', message, param);
}

/**
 * Reads the request body as UTF-8, up to `limit` bytes. Rejects with a 413
 * as soon as the declared or received size exceeds the limit, without
 * buffering the rest; the caller answers with `Connection: close` so the
 * unread remainder never reaches another request on the connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): HttpError =>
      new HttpError(413, 'request_too_large', `request body exceeds ${limit} bytes`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    // Belt and braces: should a connection die without an 'error' event, the
    // promise must still settle, or the handler would leak forever.
    const onClose = (): void => {
      cleanup();
      reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Reads and parses a JSON object body. Anything else (empty body, invalid
 * JSON, an array or scalar at the top level, a compressed body) is a 400/415.
 */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new HttpError(415, 'invalid_request_error', `unsupported content-encoding: ${encoding}`);
  }
  const text = await readBody(req, limit);
  if (text.trim() === '') throw badRequest('request body is empty; expected a JSON object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Sends a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** Sends an `HttpError` as an OpenAI-style error body. */
export function sendError(res: ServerResponse, error: HttpError): void {
  const headers: Record<string, string> = { ...error.headers };
  // After a 413 the rest of the oversized body is still in flight; closing
  // the connection is the only way to keep it from being parsed as the next
  // request.
  if (error.status === 413) headers['connection'] = 'close';
  sendJson(
    res,
    error.status,
    { error: { message: error.message, type: error.type, param: error.param, code: null } },
    headers,
  );
}
