/**
 * Header rules for both legs. Hop-by-hop headers (RFC 9110 §7.6.1) describe
 * one connection and must not be forwarded; so must any header the
 * `connection` header names.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node answers `Expect: 100-continue` itself before the proxy reads the body;
  // forwarded, undici refuses the request outright (a 502 for a valid request).
  'expect',
]);

/** Request headers enclave-gate sets itself; a client's values are replaced. */
const SET_BY_PROXY = new Set(['host', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'accept-encoding']);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const NONE: ReadonlySet<string> = new Set();

/**
 * Header names a `connection` header lists (RFC 9110 §7.6.1), to be dropped
 * with it. The usual values name no header, so they cost no allocation.
 */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return NONE;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** A client-supplied request id when it is safe to echo, else undefined. */
export function acceptedRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/** Context added to the forwarded request. */
export interface ForwardingContext {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly host: string | undefined;
}

/**
 * Headers sent to the model server. `accept-encoding` is dropped so JSON
 * responses come back uncompressed and the response policy can read them
 * (compression buys nothing on loopback).
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, ctx: ForwardingContext): Record<string, string | string[]> {
  const drop = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  // Object.keys rather than entries: one array per request, not one per header.
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || SET_BY_PROXY.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  const priorFor = incoming['x-forwarded-for'];
  const prior = typeof priorFor === 'string' && priorFor.length > 0 ? `${priorFor}, ` : '';
  out['x-forwarded-for'] = `${prior}${ctx.clientAddress}`;
  out['x-forwarded-proto'] = 'https';
  if (ctx.host !== undefined) out['x-forwarded-host'] = ctx.host;
  out['x-request-id'] = ctx.requestId;
  return out;
}

/** Headers sent back to the client: hop-by-hop removed, request id added. */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>, requestId: string): OutgoingHttpHeaders {
  const drop = connectionTokens(upstream['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

/**
 * Lower-case header map for policy input, from a request's or undici's
 * response headers: repeated headers joined with ", " (set-cookie with "; "
 * is not a request header).
 */
export function policyHeaders(incoming: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** True for application/json and any application/*+json media type. */
export function isJsonMediaType(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string') return false;
  if (contentType === 'application/json') return true;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
