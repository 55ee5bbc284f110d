/**
 * The one place that turns an error into an HTTP answer: RFC 9457
 * problem+json with the catalogue's stable `code`. Messages come from our
 * own errors only; anything unexpected becomes EG_INTERNAL with no detail, so
 * a thrown value can never leak a body or a key to a client.
 *
 * On the model-API routes the same document also carries the error envelope
 * that the route's client SDKs parse (docs/errors.md, "What client libraries
 * see"), so an SDK's exception shows our message and code instead of a bare
 * status: OpenAI's `error` object, Anthropic's `type: "error"` envelope,
 * Ollama's `error` string. The problem fields stay beside the envelope.
 */
import type { ServerResponse } from 'node:http';
import { EnclaveGateError, ERRORS, type ErrorCode } from '../errors.js';

/** The problem document enclave-gate sends. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly request_id: string;
  readonly reasons?: readonly string[];
}

/** Which client family a route belongs to, and so which error envelope it gets. */
export type ErrorDialect = 'openai' | 'anthropic' | 'ollama' | 'problem';

/**
 * The dialect of a request path (query ignored). Anthropic's Messages API
 * lives under /v1 too, so it is matched before the OpenAI catch-all.
 */
export function errorDialect(path: string): ErrorDialect {
  const bare = path.split('?', 1)[0] ?? '/';
  if (/^\/v1\/(messages|complete)(\/|$)/.test(bare)) return 'anthropic';
  if (bare.startsWith('/v1/')) return 'openai';
  if (bare.startsWith('/api/')) return 'ollama';
  return 'problem';
}

/** The `type` URI of a code; docs/errors.md has one anchor per code. */
export function problemType(code: ErrorCode): string {
  return `tag:enclave-gate,2026:problem:${code}`;
}

/** Builds the problem document for an error. */
export function toProblem(error: unknown, requestId: string, reasons?: readonly string[], status?: number): Problem {
  const known = error instanceof EnclaveGateError ? error : new EnclaveGateError('EG_INTERNAL');
  const spec = ERRORS[known.code];
  return {
    type: problemType(known.code),
    title: spec.title,
    status: status ?? known.status,
    code: known.code,
    detail: known.message,
    request_id: requestId,
    ...(reasons && reasons.length > 0 ? { reasons } : {}),
  };
}

/** The one-line message an SDK shows: the detail, then the policy's reasons. */
export function sdkMessage(problem: Problem): string {
  return problem.reasons && problem.reasons.length > 0 ? `${problem.detail}: ${problem.reasons.join(', ')}` : problem.detail;
}

/**
 * The error `type` the SDKs branch on, by status. The names are those the
 * Anthropic API documents and OpenAI uses for the same classes; the OpenAI
 * SDK only copies it into `error.type`, the Anthropic SDK into `error.type`.
 */
function sdkErrorType(status: number): string {
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 408 || status === 504) return 'timeout_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/**
 * The JSON body and content type for a dialect. OpenAI's SDKs parse any JSON
 * body, so the answer stays problem+json with an `error` object added. The
 * Anthropic envelope needs a top-level `type: "error"`, which is not a
 * problem-type URI, and ollama-js reads the body only when the content type
 * contains `application/json`; both are therefore sent as application/json.
 */
function envelope(problem: Problem, dialect: ErrorDialect): { document: Record<string, unknown>; contentType: string } {
  const message = sdkMessage(problem);
  switch (dialect) {
    case 'openai':
      return {
        document: { ...problem, error: { message, type: sdkErrorType(problem.status), code: problem.code, param: null } },
        contentType: 'application/problem+json',
      };
    case 'anthropic':
      return {
        document: { ...problem, type: 'error', error: { type: sdkErrorType(problem.status), message, details: { error_code: problem.code } } },
        contentType: 'application/json',
      };
    case 'ollama':
      // Ollama clients surface only this string, so it carries the code too.
      return { document: { ...problem, error: `${problem.code}: ${message}` }, contentType: 'application/json' };
    case 'problem':
      return { document: { ...problem }, contentType: 'application/problem+json' };
  }
}

/**
 * Failures that the same request meets again: the policy's verdict on these
 * bytes, or a model answer the proxy cannot inspect. The OpenAI and Anthropic
 * SDKs retry 5xx answers unless told `x-should-retry: false`, and each retry
 * is a full model call; 502/503/504 for an unreachable, slow or starting
 * model stay retryable.
 */
const NOT_RETRYABLE: ReadonlySet<ErrorCode> = new Set(['EG_POLICY_FAILURE', 'EG_UPSTREAM_INVALID_JSON', 'EG_UPSTREAM_RESPONSE_TOO_LARGE']);

/**
 * Serialises a problem with its headers, in the envelope of the route `path`
 * names (plain problem+json when no path is known, as for malformed HTTP).
 */
export function problemBody(problem: Problem, path?: string): { body: Buffer; headers: Record<string, string> } {
  const { document, contentType } = envelope(problem, path === undefined ? 'problem' : errorDialect(path));
  const body = Buffer.from(JSON.stringify(document));
  return {
    body,
    headers: {
      'content-type': contentType,
      'content-length': String(body.length),
      'cache-control': 'no-store',
      'x-request-id': problem.request_id,
      ...(NOT_RETRYABLE.has(problem.code) ? { 'x-should-retry': 'false' } : {}),
    },
  };
}

/**
 * Sends a problem, in the envelope of the request's route. When the request
 * body was not read to the end the connection is closed after the answer, so
 * unread bytes cannot be taken for the next request.
 */
export function sendProblem(res: ServerResponse, problem: Problem, closeConnection: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { body, headers } = problemBody(problem, res.req.url ?? '/');
  if (closeConnection) headers['connection'] = 'close';
  res.writeHead(problem.status, headers);
  res.end(body);
}
