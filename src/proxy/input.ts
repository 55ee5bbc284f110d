/**
 * Maps an HTTP request onto the policy input document (docs/policy.md). This
 * is the only place that knows both shapes; policy/ never sees node:http.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { PiiFinding } from '../policy/builtins/pii.js';
import type { Peer, RequestInput, ResponseInput } from '../policy/input.js';
import { peerAttestationOf } from './client-attestation.js';
import { policyHeaders } from './headers.js';
import type { CallerIdentity } from './identity.js';

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
 * The connection's side of the input: the same for every request on it, so
 * worked out once per socket (TLS facts are native calls) and shared.
 */
const peers = new WeakMap<object, Peer>();

function peerOf(socket: TLSSocket): Peer {
  const known = peers.get(socket);
  if (known !== undefined) return known;
  const cipher = typeof socket.getCipher === 'function' ? socket.getCipher() : undefined;
  const protocol = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null;
  const alpn = socket.alpnProtocol;
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  // Mutual RA-TLS: the verdict on the client's certificate, when it presented
  // one. Settled during the handshake, before any request on the socket.
  const attestation = peerAttestationOf(socket);
  const peer: Peer = Object.freeze({
    address: socket.remoteAddress ?? '',
    port: socket.remotePort ?? 0,
    tls: Object.freeze({
      protocol: protocol ?? null,
      cipher: cipher?.name ?? null,
      alpn: typeof alpn === 'string' ? alpn : null,
      servername: typeof servername === 'string' ? servername : null,
    }),
    ...(attestation === undefined ? {} : { attestation }),
  });
  peers.set(socket, peer);
  return peer;
}

/** The last caller merged into a connection's peer, and the peer it made. */
interface MergedPeer {
  readonly certificate: CallerIdentity['certificate'];
  readonly jwt: CallerIdentity['jwt'];
  readonly apiKeyId: string | undefined;
  readonly peer: Peer;
}
const lastMerged = new WeakMap<Peer, MergedPeer>();

/**
 * The connection's peer with the caller's identity merged in, frozen all the
 * way down like the connection's own. A connection usually carries one
 * caller, whose certificate identity and verified claims are cached objects
 * (identity.ts), so the merged peer is made once and reused while the caller
 * stays the same: the decision log then writes its JSON from memory and asks
 * its mask rule once (audit/decision-log.ts), instead of per request.
 */
function peerWithCaller(base: Peer, caller: CallerIdentity): Peer {
  const apiKeyId = caller.api_key?.id;
  const last = lastMerged.get(base);
  if (last !== undefined && last.certificate === caller.certificate && last.jwt === caller.jwt && last.apiKeyId === apiKeyId) return last.peer;
  // The caller's members keep their order; `api_key` is frozen by identity.ts like the others.
  const peer: Peer = Object.freeze({ ...base, ...caller });
  lastMerged.set(base, { certificate: caller.certificate, jwt: caller.jwt, apiKeyId, peer });
  return peer;
}

/**
 * Builds the request decision input. `body` is the parsed JSON body, when the
 * request had one, with the PII findings the proxy's scan made of it.
 *
 * Built whole, as a plain data object: making the parsed path, query and
 * header copy lazy getters cost more (an object literal with accessors is
 * built through the runtime, about 1.6 us) than computing them (0.6 us for a
 * chat request, the request guard bounding the target's length).
 */
export function buildRequestInput(
  req: IncomingMessage,
  requestId: string,
  body: { value: unknown; pii?: readonly PiiFinding[] } | undefined,
  bodySize: number,
  caller?: CallerIdentity,
): RequestInput {
  const target = splitTarget(req.url ?? '/');
  const input: { -readonly [K in keyof RequestInput]: RequestInput[K] } = {
    request_id: requestId,
    method: req.method ?? 'GET',
    path: target.path,
    parsed_path: target.parsedPath,
    query: target.query,
    parsed_query: target.parsedQuery,
    headers: policyHeaders(req.headers),
    body_size: bodySize,
    // The caller's identity (identity.ts) joins the connection's facts here.
    peer: hasIdentity(caller) ? peerWithCaller(peerOf(req.socket as TLSSocket), caller) : peerOf(req.socket as TLSSocket),
  };
  if (body !== undefined) {
    input.body = body.value;
    if (body.pii !== undefined) input.pii = body.pii;
  }
  return input;
}

function hasIdentity(caller: CallerIdentity | undefined): caller is CallerIdentity {
  return caller !== undefined && (caller.certificate !== undefined || caller.jwt !== undefined || caller.api_key !== undefined);
}

/** What a response decision is about besides status and headers. */
export type ResponseFacts = Pick<ResponseInput, 'body_format' | 'body' | 'pii' | 'event'>;

/** Builds the response decision input, as plainly as the request's. */
export function buildResponseInput(request: RequestInput, status: number, headers: Record<string, string | string[] | undefined>, facts: ResponseFacts): ResponseInput {
  const input: { -readonly [K in keyof ResponseInput]: ResponseInput[K] } = {
    request: { method: request.method, path: request.path, parsed_path: request.parsed_path, request_id: request.request_id },
    status,
    headers: policyHeaders(headers),
  };
  // Assigned one by one rather than spread: this runs for every response and every stream event.
  if (facts.body_format !== undefined) input.body_format = facts.body_format;
  if (facts.body !== undefined) input.body = facts.body;
  if (facts.pii !== undefined) input.pii = facts.pii;
  if (facts.event !== undefined) input.event = facts.event;
  return input;
}
