/**
 * A minimal DER reader for the few ASN.1 structures the Intel verifier must
 * look inside: the SGX extension of PCK certificates, CRLs, and the
 * serial/issuer/subject of certificates. node:crypto parses certificates but
 * exposes neither custom extensions nor CRLs, and @peculiar/x509 verifies
 * asynchronously; a synchronous reader keeps `verifyIntelQuote` synchronous.
 *
 * Only DER is accepted (definite lengths, minimal length encodings are not
 * required but lengths must fit the input). Every failure is a
 * `VerifyError('EG_VERIFY_PARSE')` naming what was being read.
 */
import { VerifyError } from '../../errors.js';

/** ASN.1 universal tags used here (class universal, as the full first octet). */
export const DER_TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  enumerated: 0x0a,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** One decoded TLV; `content` and `encoded` are views into the input. */
export interface DerNode {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** The whole TLV, header included. */
  readonly encoded: Uint8Array;
  /** The value octets. */
  readonly content: Uint8Array;
}

function parseError(what: string, message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `${what}: ${message}`);
}

/**
 * Reads the TLV starting at `offset`. High tag numbers (≥ 31) and the
 * indefinite length form are rejected: neither occurs in the Intel PKI, and
 * refusing them keeps the reader small.
 */
export function readDer(input: Uint8Array, offset: number, what: string): DerNode {
  if (offset + 2 > input.length) throw parseError(what, 'truncated DER header');
  const tag = input[offset]!;
  if ((tag & 0x1f) === 0x1f) throw parseError(what, 'high-tag-number DER form is not supported');
  const first = input[offset + 1]!;
  let length: number;
  let headerLength: number;
  if (first < 0x80) {
    length = first;
    headerLength = 2;
  } else {
    const count = first & 0x7f;
    // 0x80 is the BER indefinite form; more than 4 length octets cannot fit any input we accept.
    if (count === 0 || count > 4) throw parseError(what, 'unsupported DER length form');
    if (offset + 2 + count > input.length) throw parseError(what, 'truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + input[offset + 2 + i]!;
    headerLength = 2 + count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw parseError(what, 'DER value runs past the end of its container');
  return {
    tag,
    encoded: input.subarray(offset, end),
    content: input.subarray(offset + headerLength, end),
  };
}

/** Decodes one TLV that must fill `input` exactly. */
export function readDerExact(input: Uint8Array, what: string): DerNode {
  const node = readDer(input, 0, what);
  if (node.encoded.length !== input.length) throw parseError(what, 'trailing bytes after DER value');
  return node;
}

/** The children of a constructed node, in order. */
export function derChildren(node: DerNode, what: string): DerNode[] {
  if ((node.tag & 0x20) === 0) throw parseError(what, 'expected a constructed DER value');
  const out: DerNode[] = [];
  let offset = 0;
  while (offset < node.content.length) {
    const child = readDer(node.content, offset, what);
    out.push(child);
    offset += child.encoded.length;
  }
  return out;
}

/** Throws unless `node` carries `tag`. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined) throw parseError(what, 'missing DER value');
  if (node.tag !== tag) {
    throw parseError(what, `expected DER tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  }
  return node;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER node. */
export function derOid(node: DerNode, what: string): string {
  const bytes = expectTag(node, DER_TAG.oid, what).content;
  if (bytes.length === 0) throw parseError(what, 'empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    // Arcs above 2^53 cannot occur in the OIDs we compare against; refuse rather than lose precision.
    if (value > 2 ** 45) throw parseError(what, 'OBJECT IDENTIFIER arc too large');
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === bytes.length - 1) {
      throw parseError(what, 'truncated OBJECT IDENTIFIER');
    }
  }
  const head = arcs.shift()!;
  const first = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [first, head - first * 40, ...arcs].join('.');
}

/**
 * The magnitude bytes of a non-negative INTEGER, leading zero octets removed
 * (so `00 BB…` and `BB…` compare equal, as certificate serials must).
 */
export function derUnsignedBytes(node: DerNode, what: string, tag: number = DER_TAG.integer): Uint8Array {
  const bytes = expectTag(node, tag, what).content;
  if (bytes.length === 0) throw parseError(what, 'empty INTEGER');
  if ((bytes[0]! & 0x80) !== 0) throw parseError(what, 'negative INTEGER where a non-negative one is required');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** A small non-negative INTEGER (or ENUMERATED) as a number. */
export function derSmallInt(node: DerNode, what: string, tag: number = DER_TAG.integer): number {
  const bytes = derUnsignedBytes(node, what, tag);
  if (bytes.length > 6) throw parseError(what, 'INTEGER too large');
  let value = 0;
  for (const b of bytes) value = value * 256 + b;
  return value;
}

/** The content of an OCTET STRING, optionally of a fixed length. */
export function derOctets(node: DerNode, what: string, length?: number): Uint8Array {
  const bytes = expectTag(node, DER_TAG.octetString, what).content;
  if (length !== undefined && bytes.length !== length) {
    throw parseError(what, `expected ${length} bytes, found ${bytes.length}`);
  }
  return bytes;
}

/** A BOOLEAN's value. */
export function derBoolean(node: DerNode, what: string): boolean {
  const bytes = expectTag(node, DER_TAG.boolean, what).content;
  if (bytes.length !== 1) throw parseError(what, 'BOOLEAN must be one octet');
  return bytes[0] !== 0;
}

/** The bits of a BIT STRING with no unused bits (signatures, keys). */
export function derBitStringBytes(node: DerNode, what: string): Uint8Array {
  const bytes = expectTag(node, DER_TAG.bitString, what).content;
  if (bytes.length === 0 || bytes[0] !== 0) throw parseError(what, 'BIT STRING with unused bits');
  return bytes.subarray(1);
}

const TIME_RE = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** A UTCTime or GeneralizedTime (the Zulu forms RFC 5280 allows) as a Date. */
export function derTime(node: DerNode, what: string): Date {
  if (node.tag !== DER_TAG.utcTime && node.tag !== DER_TAG.generalizedTime) {
    throw parseError(what, 'expected UTCTime or GeneralizedTime');
  }
  const text = Buffer.from(node.content).toString('latin1');
  const m = TIME_RE.exec(text);
  const yearDigits = node.tag === DER_TAG.utcTime ? 2 : 4;
  if (m === null || m[1]!.length !== yearDigits) throw parseError(what, `malformed time "${text}"`);
  let year = Number(m[1]);
  // RFC 5280 §4.1.2.5.1: two-digit years 50–99 are 19xx, 00–49 are 20xx.
  if (yearDigits === 2) year += year >= 50 ? 1900 : 2000;
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const date = new Date(ms);
  if (Number.isNaN(ms) || date.getUTCMonth() !== Number(m[2]) - 1 || date.getUTCDate() !== Number(m[3])) {
    throw parseError(what, `invalid date "${text}"`);
  }
  return date;
}

/** The fields of a certificate the Intel checks compare byte-wise. */
export interface CertificateFields {
  /** Serial magnitude, leading zero octets removed. */
  readonly serial: Uint8Array;
  /** DER of the issuer Name. */
  readonly issuer: Uint8Array;
  /** DER of the subject Name. */
  readonly subject: Uint8Array;
  /** Extensions by OID: criticality and the extnValue octets. */
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Uint8Array }>;
}

/**
 * Reads serial, issuer, subject and extensions from a certificate's DER.
 * Name comparisons are byte-wise on purpose: Intel encodes its names
 * identically in certificates and CRLs, and byte equality is unambiguous.
 */
export function readCertificateFields(der: Uint8Array, what: string): CertificateFields {
  const cert = expectTag(readDerExact(der, what), DER_TAG.sequence, what);
  const tbs = expectTag(derChildren(cert, what)[0], DER_TAG.sequence, `${what} tbsCertificate`);
  const fields = derChildren(tbs, `${what} tbsCertificate`);
  let i = 0;
  if (fields[0]?.tag === 0xa0) i = 1; // explicit [0] version
  const serial = derUnsignedBytes(expectTag(fields[i], DER_TAG.integer, `${what} serial`), `${what} serial`);
  const issuer = expectTag(fields[i + 2], DER_TAG.sequence, `${what} issuer`).encoded;
  const subject = expectTag(fields[i + 4], DER_TAG.sequence, `${what} subject`).encoded;
  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  const extWrapper = fields.slice(i + 6).find((f) => f.tag === 0xa3);
  if (extWrapper !== undefined) {
    const list = expectTag(derChildren(extWrapper, `${what} extensions`)[0], DER_TAG.sequence, `${what} extensions`);
    for (const ext of derChildren(list, `${what} extensions`)) {
      const parts = derChildren(expectTag(ext, DER_TAG.sequence, `${what} extension`), `${what} extension`);
      if (parts.length < 2 || parts.length > 3) throw parseError(what, 'malformed extension');
      const oid = derOid(parts[0]!, `${what} extension id`);
      const critical = parts.length === 3 ? derBoolean(parts[1]!, `${what} extension critical`) : false;
      const value = derOctets(parts[parts.length - 1]!, `${what} extension ${oid}`);
      if (extensions.has(oid)) throw parseError(what, `duplicate extension ${oid}`);
      extensions.set(oid, { critical, value });
    }
  }
  return { serial, issuer, subject, extensions };
}

/** Shared with the other verifiers (../bytes.ts); kept importable from here for the Intel modules. */
export { toHex } from '../bytes.js';

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
