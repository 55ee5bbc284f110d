/**
 * How long a fetched endorsement may be served from cache. Two rules:
 *
 *  - certificates (VCEK, KDS cert_chain): they never change for a given URL
 *    (a VCEK is derived from the chip and the TCB in its query), so they are
 *    kept long, which is what keeps clients clear of AMD KDS throttling;
 *    bounded by their own notAfter and by a maximum age;
 *  - collateral (CRLs, TCB info, QE identity): until their own nextUpdate,
 *    read from the content, and never longer than a maximum age, because
 *    Intel can publish new TCB info before nextUpdate (a TCB recovery) and
 *    Intel's own PCCS refreshes daily by default.
 *
 * Content whose expiry cannot be read is not cached at all: the verifier
 * will reject it anyway, and caching it would only repeat the failure.
 */
import { X509Certificate } from 'node:crypto';
import { DER_TAG, derChildren, derTime, expectTag, readDerExact } from '../intel/der.js';

/** What an online fetch retrieves; decides how its expiry is read. */
export type EndorsementKind = 'vcek' | 'cert-chain' | 'crl' | 'tcb-info' | 'qe-identity';

/** Upper bounds on cache age, in ms, per class of endorsement. */
export interface MaxAge {
  /** VCEKs and certificate chains. Default 30 days. */
  readonly certificate?: number;
  /** CRLs, TCB info, QE identity. Default 24 hours. */
  readonly collateral?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Default bounds: certificates 30 days, collateral 24 hours. */
export const DEFAULT_MAX_AGE_MS: Required<MaxAge> = { certificate: 30 * DAY_MS, collateral: DAY_MS };

function isCertificateKind(kind: EndorsementKind): boolean {
  return kind === 'vcek' || kind === 'cert-chain';
}

function latin1(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}

/** Earliest notAfter among the certificates of a DER certificate or a PEM bundle. */
function certificatesNotAfter(body: Uint8Array): Date | undefined {
  const ders: Uint8Array[] =
    body[0] === DER_TAG.sequence
      ? [body]
      : (latin1(body).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
          (block) => new Uint8Array(new X509Certificate(block).raw),
        );
  if (ders.length === 0) return undefined;
  let earliest: Date | undefined;
  for (const der of ders) {
    const notAfter = new Date(new X509Certificate(der).validTo);
    if (Number.isNaN(notAfter.getTime())) return undefined;
    if (earliest === undefined || notAfter < earliest) earliest = notAfter;
  }
  return earliest;
}

/** DER bytes of a CRL served as DER, PEM or hex (PCCS variants differ). */
function crlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === DER_TAG.sequence) return body;
  const text = latin1(body).trim();
  const pem = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(text);
  if (pem !== null) return new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64'));
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  return undefined;
}

/** nextUpdate of a CRL (RFC 5280 §5.1: version?, signature, issuer, thisUpdate, nextUpdate?). */
function crlNextUpdate(body: Uint8Array): Date | undefined {
  const der = crlDer(body);
  if (der === undefined) return undefined;
  const list = expectTag(readDerExact(der, 'CRL'), DER_TAG.sequence, 'CRL');
  const tbs = expectTag(derChildren(list, 'CRL')[0], DER_TAG.sequence, 'CRL tbsCertList');
  const fields = derChildren(tbs, 'CRL tbsCertList');
  const first = fields[0]?.tag === DER_TAG.integer ? 1 : 0;
  const next = fields[first + 3];
  if (next === undefined || (next.tag !== DER_TAG.utcTime && next.tag !== DER_TAG.generalizedTime)) return undefined;
  return derTime(next, 'CRL nextUpdate');
}

/** nextUpdate of a PCS JSON body: `{"tcbInfo":{…}}` or `{"enclaveIdentity":{…}}` (v1: `qeIdentity`). */
function jsonNextUpdate(body: Uint8Array, members: readonly string[]): Date | undefined {
  const doc: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  if (typeof doc !== 'object' || doc === null) return undefined;
  for (const member of members) {
    const inner = (doc as Record<string, unknown>)[member];
    if (typeof inner === 'object' && inner !== null) {
      const next = (inner as Record<string, unknown>)['nextUpdate'];
      if (typeof next !== 'string') return undefined;
      const ms = Date.parse(next);
      return Number.isNaN(ms) ? undefined : new Date(ms);
    }
  }
  return undefined;
}

/**
 * The instant the content itself stops being usable (certificate notAfter,
 * collateral nextUpdate), or undefined when it cannot be read.
 */
export function contentExpiry(kind: EndorsementKind, body: Uint8Array): Date | undefined {
  try {
    switch (kind) {
      case 'vcek':
      case 'cert-chain':
        return certificatesNotAfter(body);
      case 'crl':
        return crlNextUpdate(body);
      case 'tcb-info':
        return jsonNextUpdate(body, ['tcbInfo']);
      case 'qe-identity':
        return jsonNextUpdate(body, ['enclaveIdentity', 'qeIdentity']);
    }
  } catch {
    // Unparseable content: the verifier reports it; here it only means "do not cache".
    return undefined;
  }
}

/**
 * When a cache entry fetched at `fetchedAt` must stop being served: the
 * earlier of the content's own expiry and `fetchedAt` + the class's maximum
 * age. Undefined when the content's expiry cannot be read (do not cache).
 */
export function cacheExpiry(kind: EndorsementKind, body: Uint8Array, fetchedAt: Date, maxAge: MaxAge = {}): Date | undefined {
  const own = contentExpiry(kind, body);
  if (own === undefined) return undefined;
  const bound = isCertificateKind(kind)
    ? (maxAge.certificate ?? DEFAULT_MAX_AGE_MS.certificate)
    : (maxAge.collateral ?? DEFAULT_MAX_AGE_MS.collateral);
  const capped = fetchedAt.getTime() + bound;
  return new Date(Math.min(own.getTime(), capped));
}
