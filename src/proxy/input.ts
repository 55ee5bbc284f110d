/**
 * Maps an HTTP request onto the policy input document (docs/policy.md). This
 * is the only place that knows both shapes; policy/ never sees node:http.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { PiiFinding } from '../policy/builtins/pii.js';
import type { RequestInput, ResponseInput } from '../policy/input.js';
import { peerAttestationOf } from './client-attestation.js';
import { policyHeaders, policyResponseHeaders } from './headers.js';

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape is kept verbatim; the policy still sees the raw path.
    return segment;
  }
}

/** Splits a request target into path, segments and query. */
export function splitTarget(target: string): { path: string; parsedPath: string[]; query: string; parsedQuery: Record<string, string[]> } {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  const parsedPath = path.split('/').filter((s) => s.length > 0).map(decodeSegment);
  const parsedQuery: Record<string, string[]> = {};
  if (query.length > 0) {
    for (const [key, value] of new URLSearchParams(query)) (parsedQuery[key] ??= []).push(value);
  }
  return { path, parsedPath, query, parsedQuery };
}

/**
 * Builds the request decision input. `body` is the parsed JSON body, when the
 * request had one, with the PII findings the proxy's scan made of it.
 */
export function buildRequestInput(
  req: IncomingMessage,
  requestId: string,
  body: { value: unknown; pii?: readonly PiiFinding[] } | undefined,
  bodySize: number,
): RequestInput {
  const target = splitTarget(req.url ?? '/');
  const socket = req.socket as TLSSocket;
  const cipher = typeof socket.getCipher === 'function' ? socket.getCipher() : undefined;
  const protocol = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null;
  const alpn = socket.alpnProtocol;
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  // Mutual RA-TLS: the verdict on the client's certificate, when it presented one.
  const attestation = peerAttestationOf(req.socket);
  return {
    request_id: requestId,
    method: req.method ?? 'GET',
    path: target.path,
    parsed_path: target.parsedPath,
    query: target.query,
    parsed_query: target.parsedQuery,
    headers: policyHeaders(req.headers),
    ...(body === undefined ? {} : { body: body.value }),
    ...(body?.pii === undefined ? {} : { pii: body.pii }),
    body_size: bodySize,
    peer: {
      address: req.socket.remoteAddress ?? '',
      port: req.socket.remotePort ?? 0,
      tls: {
        protocol: protocol ?? null,
        cipher: cipher?.name ?? null,
        alpn: typeof alpn === 'string' ? alpn : null,
        servername: typeof servername === 'string' ? servername : null,
      },
      ...(attestation === undefined ? {} : { attestation }),
    },
  };
}

/** Builds the response decision input. */
export function buildResponseInput(request: RequestInput, status: number, headers: Record<string, string | string[] | undefined>, body: unknown): ResponseInput {
  return {
    request: { method: request.method, path: request.path, parsed_path: request.parsed_path, request_id: request.request_id },
    status,
    headers: policyResponseHeaders(headers),
    body,
  };
}
