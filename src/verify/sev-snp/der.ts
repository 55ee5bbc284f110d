/**
 * A minimal DER reader: just enough to walk an X.509 certificate to its
 * extensions and signature algorithm. node:crypto's X509Certificate parses
 * and verifies certificates but exposes neither, and AMD's VEK extensions
 * (TCB levels, hwID) are exactly what the report must be compared with.
 *
 * Strict DER only: definite lengths in minimal form, single-byte tags. Every
 * read is bounds-checked against its parent, so hostile input ends in
 * EG_VERIFY_PARSE and never in a RangeError.
 */
import { VerifyError } from '../../errors.js';

/** Universal tags used by the certificate walker. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  IA5_STRING: 0x16,
  SEQUENCE: 0x30,
} as const;

/** One tag-length-value element: offsets into the buffer it was read from. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset one past the last content byte. */
  readonly end: number;
}

function fail(what: string, reason: string, offset: number): never {
  throw new VerifyError('EG_VERIFY_PARSE', `${what}: malformed DER at offset ${offset}: ${reason}`);
}

/** Reads the element at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number, what: string): Tlv {
  if (offset + 2 > limit) fail(what, 'truncated header', offset);
  const tag = buf[offset]!;
  // Multi-byte tags never occur in certificates; refusing them keeps the reader small.
  if ((tag & 0x1f) === 0x1f) fail(what, 'multi-byte tag', offset);
  let length = buf[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) fail(what, 'indefinite length is not DER', offset);
    if (count > 4) fail(what, 'length field too long', offset);
    if (contentStart + count > limit) fail(what, 'truncated length', offset);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[contentStart + i]!;
    contentStart += count;
    // DER requires the shortest form; a padded length is a second encoding of the same value.
    if (length < 0x80 || buf[offset + 2] === 0) fail(what, 'non-minimal length', offset);
  }
  const end = contentStart + length;
  if (end > limit) fail(what, `length ${length} overruns its container`, offset);
  return { tag, start: offset, contentStart, end };
}

/** Reads `tlv`, requiring the given tag. */
export function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) {
    fail(what, `expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`, tlv.start);
  }
  return tlv;
}

/** The direct children of a constructed element, in order. */
export function children(buf: Uint8Array, parent: Tlv, what: string): Tlv[] {
  if ((parent.tag & 0x20) === 0) fail(what, 'expected a constructed element', parent.start);
  const out: Tlv[] = [];
  let offset = parent.contentStart;
  while (offset < parent.end) {
    const child = readTlv(buf, offset, parent.end, what);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** The content bytes of an element (a view, not a copy). */
export function content(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.contentStart, tlv.end);
}

/** Decodes an OBJECT IDENTIFIER to dotted form. */
export function decodeOid(buf: Uint8Array, tlv: Tlv, what: string): string {
  expectTag(tlv, TAG.OID, what);
  const bytes = content(buf, tlv);
  if (bytes.length === 0) fail(what, 'empty OID', tlv.start);
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (value === 0 && byte === 0x80) fail(what, 'non-minimal OID arc', tlv.start);
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) fail(what, 'OID arc too large', tlv.start);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === bytes.length - 1) {
      fail(what, 'truncated OID arc', tlv.start);
    }
  }
  const first = arcs[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/**
 * Decodes a non-negative INTEGER that fits in 32 bits (AMD's SPL values and
 * struct versions are single bytes; 0xD9 is encoded 02 02 00 D9).
 */
export function decodeSmallUnsigned(buf: Uint8Array, tlv: Tlv, what: string): number {
  expectTag(tlv, TAG.INTEGER, what);
  const bytes = content(buf, tlv);
  if (bytes.length === 0) fail(what, 'empty INTEGER', tlv.start);
  if (bytes[0]! & 0x80) fail(what, 'negative INTEGER', tlv.start);
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) fail(what, 'non-minimal INTEGER', tlv.start);
  const significant = bytes[0] === 0 ? bytes.subarray(1) : bytes;
  if (significant.length > 4) fail(what, 'INTEGER too large', tlv.start);
  let value = 0;
  for (const byte of significant) value = value * 256 + byte;
  return value;
}

/** Decodes an IA5String (ASCII). */
export function decodeIa5String(buf: Uint8Array, tlv: Tlv, what: string): string {
  expectTag(tlv, TAG.IA5_STRING, what);
  const bytes = content(buf, tlv);
  for (const byte of bytes) if (byte > 0x7f) fail(what, 'non-ASCII byte in IA5String', tlv.start);
  return Buffer.from(bytes).toString('latin1');
}
