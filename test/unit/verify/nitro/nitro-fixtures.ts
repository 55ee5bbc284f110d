/**
 * Nitro test fixtures: the expectations that test/vectors/README.md
 * states for every Nitro document (written out here by hand so that the
 * tests compare the verifier against the README, not against itself), and
 * helpers that rebuild a document with one part changed.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { decode, encode } from 'cbor2';
import { Transcript, type VerifyContext } from '../../../../src/verify/types.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

/** A context at the given ISO instant with a fresh transcript. */
export function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

/** Loads a Nitro vector as raw COSE bytes, undoing the base64 wrapper of the .b64 file. */
export function nitroDocument(file: string): Uint8Array {
  if (file.endsWith('.b64')) return new Uint8Array(Buffer.from(vectorText(`nitro/${file}`).trim(), 'base64'));
  return new Uint8Array(vector(`nitro/${file}`));
}

/** DER SubjectPublicKeyInfo (hex) via node:crypto, independent of the code under test. */
export function spkiHexOf(der: Uint8Array): string {
  return new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
}

/** One README table row. Hex values given in full are compared in full; `a…b` forms as prefix/suffix. */
export interface NitroExpectation {
  readonly file: string;
  /** Validation instant used for the positive test. */
  readonly at: string;
  /** The README window (signing certificate lifetime). */
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly timestamp: number;
  readonly debug: boolean;
  /** PCR index → full hex, `prefix…suffix`, or 'zero'. */
  readonly pcrs: Readonly<Record<number, string>>;
  /** user_data: full hex, `prefix…suffix`, a function computing it, or null when absent. */
  readonly userData: string | (() => string) | null;
  readonly nonce: string | { readonly bytes: number } | null;
  readonly publicKey: string | null;
  /** First byte of the payload: 0xa9 definite map, 0xbf indefinite map. */
  readonly payloadMapHead: number;
}

const ZERO = 'zero';
const hexOf = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

export const NITRO_VECTORS: readonly NitroExpectation[] = [
  {
    file: 'evervault-2023-09-18.b64',
    at: '2023-09-18T15:05:00Z',
    windowStart: '2023-09-18T14:37:09Z',
    windowEnd: '2023-09-18T17:37:12Z',
    timestamp: 1695049410860,
    debug: true,
    pcrs: { 0: ZERO, 1: ZERO, 2: ZERO, 8: ZERO, 3: '4a9329d6…e53425aa', 4: 'd0531b14…33a65065' },
    userData: () => spkiHexOf(vector('nitro/evervault-2023-09-18-tls-cert.der')),
    nonce: { bytes: 256 },
    publicKey: null,
    payloadMapHead: 0xa9,
  },
  {
    file: 'evervault-2022-10-13.cbor',
    at: '2022-10-13T10:00:00Z',
    windowStart: '2022-10-13T08:57:59Z',
    windowEnd: '2022-10-13T11:58:02Z',
    timestamp: 1665651482136,
    debug: false,
    pcrs: {
      0: 'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b',
      1: 'bcdf05fe…8654e63f',
      2: 'd8f114da…e8dc469a',
      8: '8790eb3c…210201cb',
    },
    userData: null,
    nonce: { bytes: 256 },
    publicKey: null,
    payloadMapHead: 0xa9,
  },
  {
    file: 'evervault-debug-2022-10-12.cbor',
    at: '2022-10-12T15:00:00Z',
    windowStart: '2022-10-12T13:49:51Z',
    windowEnd: '2022-10-12T16:49:54Z',
    timestamp: 1665582606081,
    debug: true,
    pcrs: { 0: ZERO, 1: ZERO, 2: ZERO },
    userData: hexOf('hello, world!'),
    nonce: null,
    publicKey: hexOf('my super secret key'),
    payloadMapHead: 0xa9,
  },
  {
    file: 'evervault-2023-01-18-from-cert.cbor',
    // evervault's own time-sensitive tests spoof the clock to 1674054914.
    at: '2023-01-18T15:15:14Z',
    windowStart: '2023-01-18T13:07:13Z',
    windowEnd: '2023-01-18T16:07:16Z',
    timestamp: 1674047239280,
    debug: false,
    pcrs: {
      0: 'd265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af',
      1: 'bcdf05fe…',
      2: 'e4f634d2…f9a77f24',
      8: '97c5395a…4a1443ca',
    },
    userData: () => spkiHexOf(vector('ratls-certs/evervault-nitro-san-2023-01-18.der')),
    nonce: { bytes: 256 },
    publicKey: null,
    payloadMapHead: 0xa9,
  },
  {
    file: 'evervault-debug-2023-01-18-from-cert.cbor',
    at: '2023-01-18T15:15:14Z',
    windowStart: '2023-01-18T15:10:27Z',
    windowEnd: '2023-01-18T18:10:30Z',
    timestamp: 1674054632312,
    debug: true,
    pcrs: { 0: ZERO, 1: ZERO, 2: ZERO, 8: ZERO },
    userData: () => {
      const pem = vectorText('ratls-certs/evervault-nitro-san-debug-2023-01-18.pem');
      return new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    },
    nonce: { bytes: 256 },
    publicKey: null,
    payloadMapHead: 0xa9,
  },
  {
    file: 'veracruz-2022-11-09.cbor',
    at: '2022-11-09T23:30:00Z',
    windowStart: '2022-11-09T22:51:57Z',
    windowEnd: '2022-11-10T01:52:00Z',
    timestamp: 1668034320696,
    debug: false,
    pcrs: { 0: '22f9e1c9…6f977d01', 1: 'bcdf05fe…', 2: '00943ea8…2ab141f7' },
    userData: '7c371080…e0576620',
    nonce: 'c678c861…f8d96245',
    publicKey: null,
    payloadMapHead: 0xa9,
  },
  {
    file: 'dstack-2025-12-25.cbor',
    // dstack verifies this document at its own timestamp.
    at: '2025-12-25T16:04:19.346Z',
    windowStart: '2025-12-25T16:04:16Z',
    windowEnd: '2025-12-25T19:04:19Z',
    timestamp: 1766678659346,
    debug: false,
    pcrs: {
      0: 'eb7d0dab08ff41546d7e5659aee883af7b32bb2e58e46815b719f9f7bfae7b880188a10d86317e6509923740526cf74a',
      1: '0343b056…d8b0c6aa',
      2: 'd7b0a767…ddf78811',
    },
    userData: createHash('sha256').update('').digest('hex') + '00'.repeat(32),
    nonce: null,
    publicKey: null,
    payloadMapHead: 0xbf,
  },
  {
    file: 'dstack-debug-2025-12-25.cbor',
    at: '2025-12-25T09:00:00Z',
    windowStart: '2025-12-25T08:20:43Z',
    windowEnd: '2025-12-25T11:20:46Z',
    timestamp: 1766650846577,
    debug: true,
    pcrs: { 0: ZERO, 1: ZERO, 2: ZERO },
    userData: '00'.repeat(64),
    nonce: null,
    publicKey: null,
    payloadMapHead: 0xbf,
  },
];

/** Asserts a hex value against a README form: full hex, `prefix…suffix` (either may be empty) or 'zero'. */
export function matchesReadme(actual: string | undefined, expected: string): boolean {
  if (actual === undefined) return false;
  if (expected === ZERO) return /^(?:00)+$/.test(actual);
  const parts = expected.split('…');
  if (parts.length === 1) return actual === expected;
  const [prefix = '', suffix = ''] = parts;
  return actual.startsWith(prefix) && actual.endsWith(suffix) && actual.length > prefix.length + suffix.length;
}

/** The four COSE_Sign1 items of a document, decoded (tag 18 removed if present). */
export interface CoseParts {
  protectedHeader: Uint8Array;
  unprotected: Map<unknown, unknown>;
  payload: Uint8Array;
  signature: Uint8Array;
}

const DECODE = { preferMap: true } as const;

/** Decodes an untagged document into its four COSE items. */
export function splitCose(doc: Uint8Array): CoseParts {
  const items = decode<[Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array]>(doc, DECODE);
  const [protectedHeader, unprotected, payload, signature] = items;
  return { protectedHeader, unprotected, payload, signature };
}

/** Encodes four COSE items again (definite lengths). */
export function joinCose(parts: CoseParts): Uint8Array {
  // cbor2 encodes a Node Buffer as an object, so every byte string is made a plain Uint8Array first.
  const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b);
  return encode([plain(parts.protectedHeader), parts.unprotected, plain(parts.payload), plain(parts.signature)]);
}

/** Decodes the payload map of a document. */
export function payloadMap(doc: Uint8Array): Map<string, unknown> {
  return decode<Map<string, unknown>>(splitCose(doc).payload, DECODE);
}

/** Rebuilds a document with its payload map edited; the signature is left as it was. */
export function withPayload(doc: Uint8Array, edit: (map: Map<string, unknown>) => void): Uint8Array {
  const parts = splitCose(doc);
  const map = decode<Map<string, unknown>>(parts.payload, DECODE);
  edit(map);
  return joinCose({ ...parts, payload: encode(map) });
}

/** Rebuilds a document with its raw payload bytes replaced. */
export function withRawPayload(doc: Uint8Array, payload: Uint8Array): Uint8Array {
  return joinCose({ ...splitCose(doc), payload });
}

/** Offset of `needle` inside `haystack`; throws when absent so tests never flip the wrong byte. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle));
  if (at < 0) throw new Error('needle not found');
  return at;
}

/** A copy of `bytes` with one byte XOR-ed. */
export function flipByte(bytes: Uint8Array, offset: number, mask = 0x01): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = copy[offset]! ^ mask;
  return copy;
}
