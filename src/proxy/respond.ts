/**
 * The one place that turns an error into an HTTP answer: RFC 9457
 * problem+json with the catalogue's stable `code`. Messages come from our
 * own errors only; anything unexpected becomes EG_INTERNAL with no detail, so
 * a thrown value can never leak a body or a key to a client.
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

/** Serialises a problem with its headers. */
export function problemBody(problem: Problem): { body: Buffer; headers: Record<string, string> } {
  const body = Buffer.from(JSON.stringify(problem));
  return {
    body,
    headers: {
      'content-type': 'application/problem+json',
      'content-length': String(body.length),
      'cache-control': 'no-store',
      'x-request-id': problem.request_id,
    },
  };
}

/**
 * Sends a problem. When the request body was not read to the end the
 * connection is closed after the answer, so unread bytes cannot be taken for
 * the next request.
 */
export function sendProblem(res: ServerResponse, problem: Problem, closeConnection: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { body, headers } = problemBody(problem);
  if (closeConnection) headers['connection'] = 'close';
  res.writeHead(problem.status, headers);
  res.end(body);
}
