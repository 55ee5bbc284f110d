/**
 * Checks on the request head that node's HTTP parser does not make, run once
 * per request before the pipeline (docs/security.md):
 *
 * - header count: node's `maxHeadersCount` silently drops the excess, which
 *   would let a client hide headers from the policy; here the excess is refused;
 * - one `Host` only (RFC 9112 §3.2: a server MUST answer 400);
 * - protocol upgrades (WebSocket, h2c) are refused: nothing past the upgrade
 *   would pass the policy;
 * - the request target must be one unambiguous origin-form path, because the
 *   policy matches the path as spelled and the model server receives the same
 *   bytes: a spelling that a server could read as another path (dot segments,
 *   `//`, `%2f`, `%2e`, `\`, encoded Unicode look-alikes) would let a path rule
 *   be dodged, so it is refused
 *   before the policy rather than normalised behind its back.
 *
 * The only rewrite: an absolute-form target (`GET https://host/p`) whose
 * authority is the `Host` header becomes its origin form (`/p`), so policy and
 * model server still see one spelling.
 */
import type { IncomingMessage } from 'node:http';
import { EnclaveGateError } from '../errors.js';

/** What the guard enforces. */
export interface RequestGuardLimits {
  /** Most header fields a request may carry; more → 431 EG_TOO_MANY_HEADERS. */
  readonly headerCount: number;
}

/** RFC 3986 unreserved characters: their percent-encoded form means the same, so it is a second spelling. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Paths that are plainly unambiguous: segments of unreserved and sub-delim
 * characters, none starting with a dot, no percent sign, and at most a
 * trailing slash. Every string it matches passes the full check below, which
 * it only spares the common case (every model route).
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~:@+!$&'()*,;=-][A-Za-z0-9._~:@+!$&'()*,;=-]*)+\/?$/;

/** Why a path is ambiguous, or undefined when it is one plain origin-form path. */
export function ambiguousPathReason(path: string): string | undefined {
  return PLAIN_PATH.test(path) ? undefined : pathAmbiguity(path);
}

/** The full check, character by character and segment by segment (exported for the test that PLAIN_PATH never admits more). */
export function pathAmbiguity(path: string): string | undefined {
  if (!path.startsWith('/')) return 'not an origin-form path';
  if (path.includes('#')) return 'fragment in request target';
  if (path.includes('\\')) return 'backslash in path';
  // Control characters and non-ASCII bytes (node's parser lets some through as latin-1).
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return 'control, space or non-ASCII character in path';
  }
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    // An empty last segment is a trailing slash ("/v1/models/"), which is a spelling of its own, not an alias.
    if (segment.length === 0 && i < segments.length - 1) return 'empty path segment (//)';
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return 'invalid percent-encoding';
    }
    for (const m of segment.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      const ch = String.fromCharCode(parseInt(m[1]!, 16));
      if (ch === '/' || ch === '\\') return 'percent-encoded path separator';
      if (ch === '%' && /^%25[0-9A-Fa-f]{2}/i.test(segment.slice(m.index))) return 'double percent-encoding';
      if (UNRESERVED.test(ch)) return 'percent-encoded unreserved character';
      if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) return 'percent-encoded control character';
      // Unicode look-alikes (U+FF0E "．", U+2215 "∕") become "." or "/" on servers that
      // NFKC-normalise paths; model routes are ASCII, so encoded non-ASCII is refused.
      if (ch.charCodeAt(0) >= 0x80) return 'percent-encoded non-ASCII byte in path';
    }
    if (/^\.+$/.test(decoded)) return 'dot segment';
  }
  return undefined;
}

/**
 * Checks the request head. Throws a catalogue error for a refused request; may
 * rewrite `req.url` from absolute form to origin form.
 */
export function guardRequest(req: IncomingMessage, limits: RequestGuardLimits): void {
  // llhttp accepts any one-digit version; only HTTP/1.0 and 1.1 are spoken here.
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') throw new EnclaveGateError('EG_BAD_REQUEST', `HTTP/${req.httpVersion} is not supported on this connection`);
  const raw = req.rawHeaders;
  if (raw.length / 2 > limits.headerCount) {
    throw new EnclaveGateError('EG_TOO_MANY_HEADERS', `request carries more than ${limits.headerCount} header fields`, {
      details: { limit: limits.headerCount },
    });
  }
  let hosts = 0;
  // Length first: lower-casing every header name would allocate a string per header per request.
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) throw new EnclaveGateError('EG_AMBIGUOUS_REQUEST', 'request carries more than one Host header');
  // RFC 9112 §3.2: HTTP/1.1 without Host is a 400 (checked here so the answer is problem+json).
  if (hosts === 0 && req.httpVersion === '1.1') throw new EnclaveGateError('EG_BAD_REQUEST', 'HTTP/1.1 request without a Host header');

  if (req.headers.upgrade !== undefined) {
    throw new EnclaveGateError('EG_UPGRADE_NOT_SUPPORTED', 'protocol upgrades (WebSocket, h2c) are not supported; use HTTP/1.1 over TLS');
  }
  if (req.method === 'CONNECT') throw new EnclaveGateError('EG_AMBIGUOUS_PATH', 'CONNECT (authority-form) is not supported');

  let target = req.url ?? '';
  const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(target);
  if (absolute !== null) {
    const [, scheme, authority, rest] = absolute as unknown as [string, string, string, string];
    if (scheme.toLowerCase() !== 'https') throw new EnclaveGateError('EG_AMBIGUOUS_PATH', 'absolute-form target must use https');
    const host = req.headers.host;
    if (host === undefined || host.toLowerCase() !== authority.toLowerCase()) {
      throw new EnclaveGateError('EG_AMBIGUOUS_REQUEST', 'absolute-form target names another host than the Host header');
    }
    target = rest.startsWith('/') ? rest : `/${rest}`;
    req.url = target;
  }
  const q = target.indexOf('?');
  const reason = ambiguousPathReason(q === -1 ? target : target.slice(0, q));
  if (reason !== undefined) throw new EnclaveGateError('EG_AMBIGUOUS_PATH', `request target refused: ${reason}`, { details: { reason } });
}
