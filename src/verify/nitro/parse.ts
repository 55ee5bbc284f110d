/**
 * AWS Nitro Enclaves attestation documents: bytes → typed COSE_Sign1 envelope
 * and attestation document. Structure, types and sizes only; no cryptography
 * (verify.ts checks the signature and the certificate chain).
 *
 * The layout is the one AWS documents for the Nitro Secure Module
 * (aws-nitro-enclaves-nsm-api, docs/attestation_process.md): a COSE_Sign1
 * (RFC 9052 §4.2, optionally wrapped in CBOR tag 18) whose protected header is
 * `{1: -35}` (ES384) and whose payload is a CBOR map with the fields below.
 * Real documents use both definite (0xA9) and indefinite (0xBF) length maps,
 * so both are accepted; duplicate keys, floats, unknown fields, unknown
 * simple values and tags anywhere inside are rejected, because two parsers
 * disagreeing about what was signed is exactly what an attacker looks for.
 */
import { decode, Tag, type DecodeOptions } from 'cbor2';
import { VerifyError, describeThrown } from '../../errors.js';

/** COSE algorithm identifier of ECDSA with SHA-384 (RFC 9053 §2.1). */
export const COSE_ALG_ES384 = -35;

/** CBOR tag that marks a COSE_Sign1 (RFC 9052 §2); optional on Nitro documents. */
export const COSE_SIGN1_TAG = 18;

/**
 * Upper bound on the document payload. AWS bounds it at 16 KiB; a maximal real
 * document (32 PCRs of 64 B, five 1 KiB certificates, 2 KiB of user fields) is
 * well under 10 KiB, so anything larger is refused before decoding.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

/** Payload bound plus room for the envelope (protected header, signature, CBOR heads). */
export const MAX_DOCUMENT_BYTES = MAX_PAYLOAD_BYTES + 512;

/** ES384 signatures are r‖s, each a 48-byte big-endian integer (RFC 9053 §2.1). */
export const ES384_SIGNATURE_BYTES = 96;

/** Size limits AWS documents for the user-controlled fields and certificates. */
export const NITRO_LIMITS = {
  certificateBytes: 1024,
  publicKeyBytes: 1024,
  userDataBytes: 512,
  nonceBytes: 512,
  /** Not an AWS limit: module ids are short instance-derived names; this only bounds the field. */
  moduleIdChars: 256,
  /** Not an AWS limit: the NSM sends 4 CA certificates; 16 leaves headroom and bounds chain work. */
  cabundleEntries: 16,
  /** PCR indexes run 0..31. */
  pcrCount: 32,
} as const;

/** PCR lengths that correspond to SHA-256, SHA-384 and SHA-512. */
const PCR_LENGTHS: ReadonlySet<number> = new Set([32, 48, 64]);

/** PCRs the verifier relies on: 0 is the measurement, 0–2 decide debug mode. */
const REQUIRED_PCRS = [0, 1, 2] as const;

const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'module_id',
  'digest',
  'timestamp',
  'pcrs',
  'certificate',
  'cabundle',
  'public_key',
  'user_data',
  'nonce',
]);

/**
 * Decoder settings. Maps always decode to `Map` so integer keys (COSE labels,
 * PCR indexes) keep their type; global tag decoders are off so that a tag can
 * never turn into a Date or bigint behind our back; floats are refused so a
 * timestamp cannot arrive as 1.6e12; depth is capped because the real
 * structure is at most four levels deep.
 */
const CBOR_OPTIONS: DecodeOptions = {
  preferMap: true,
  ignoreGlobalTags: true,
  rejectDuplicateKeys: true,
  rejectFloats: true,
  rejectSimple: true,
  rejectUndefined: true,
  maxDepth: 8,
};

/** The COSE_Sign1 envelope, with the exact bytes the signature covers. */
export interface NitroCoseSign1 {
  /** Whether the input carried CBOR tag 18. */
  readonly tagged: boolean;
  /** Serialized protected header exactly as received: the Sig_structure signs these bytes, not a re-encoding. */
  readonly protectedHeader: Uint8Array;
  /** The `alg` label of the protected header; always ES384 after parsing. */
  readonly alg: number;
  /** Payload bytes (the attestation document) exactly as received. */
  readonly payload: Uint8Array;
  /** 96-byte r‖s ECDSA P-384 signature. */
  readonly signature: Uint8Array;
}

/** The attestation document inside the payload, typed and size-checked. */
export interface NitroAttestationDocument {
  /** Identifier of the issuing Nitro hypervisor module (instance and enclave ids). */
  readonly moduleId: string;
  /** Digest algorithm of the PCRs; AWS defines only SHA384. */
  readonly digest: 'SHA384';
  /** Creation time in milliseconds since the Unix epoch, as the NSM claims it. */
  readonly timestamp: number;
  /** PCR index → value; always contains 0, 1 and 2. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** DER of the short-lived certificate that signed the document. */
  readonly certificate: Uint8Array;
  /** DER CA certificates, root first, ending with the leaf's issuer. */
  readonly cabundle: readonly Uint8Array[];
  /** Optional key supplied by the enclave application (absent or CBOR null → undefined). */
  readonly publicKey: Uint8Array | undefined;
  /** Optional application data supplied by the enclave (absent or null → undefined). */
  readonly userData: Uint8Array | undefined;
  /** Optional verifier nonce echoed by the enclave (absent or null → undefined). */
  readonly nonce: Uint8Array | undefined;
}

/** Result of {@link parseNitroDocument}. */
export interface ParsedNitroDocument {
  readonly cose: NitroCoseSign1;
  readonly document: NitroAttestationDocument;
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `Nitro document: ${message}`);
}

function unsupported(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_UNSUPPORTED', `Nitro document: ${message}`);
}

/** Decodes exactly one CBOR item; every decoder failure becomes EG_VERIFY_PARSE. */
function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes, CBOR_OPTIONS);
  } catch (cause) {
    // cbor2 signals trailing data with a terse message; say what it means here.
    const reason = cause instanceof Error && cause.message === 'Extra data in input' ? 'trailing bytes after the CBOR item' : describeThrown(cause);
    throw new VerifyError('EG_VERIFY_PARSE', `Nitro document: ${what} is not well-formed CBOR (${reason})`, { cause });
  }
}

/** A short, log-safe description of a decoded value's type for error messages. */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `byte string (${value.length} B)`;
  if (value instanceof Map) return 'map';
  if (value instanceof Tag) return `tag ${String(value.tag)}`;
  if (Array.isArray(value)) return `array (${value.length})`;
  if (typeof value === 'string') return 'text string';
  return typeof value;
}

function keyName(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  return typeName(key);
}

/** Requires a byte string of min..max bytes and returns a private copy. */
function bytesField(value: unknown, name: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw parseError(`${name} must be a byte string, got ${typeName(value)}`);
  if (value.length < min || value.length > max) {
    throw parseError(`${name} is ${value.length} bytes, allowed ${min}..${max}`);
  }
  // Copy so the parsed document never aliases (and never changes with) the caller's buffer.
  return value.slice();
}

/** Optional byte-string field: absent and CBOR null both mean "not supplied" (the NSM emits null). */
function optionalBytesField(map: ReadonlyMap<unknown, unknown>, name: string, max: number): Uint8Array | undefined {
  const value = map.get(name);
  if (value === undefined || value === null) return undefined;
  return bytesField(value, name, 0, max);
}

function required(map: ReadonlyMap<unknown, unknown>, name: string): unknown {
  if (!map.has(name)) throw parseError(`attestation document is missing "${name}"`);
  return map.get(name);
}

/** Parses the serialized protected header; returns the algorithm after checking it is ES384. */
function parseProtectedHeader(bytes: Uint8Array): number {
  // A zero-length protected bstr stands for an empty map (RFC 9052 §3), which has no alg.
  if (bytes.length === 0) throw parseError('protected header is empty, no alg');
  if (bytes.length > 64) throw parseError(`protected header is ${bytes.length} bytes, expected a small {1: alg} map`);
  const header = decodeCbor(bytes, 'protected header');
  if (!(header instanceof Map)) throw parseError(`protected header must be a map, got ${typeName(header)}`);
  for (const label of header.keys()) {
    // Any other protected label (crit, content type, kid…) could change how the
    // signature is meant to be read; AWS never sends one, so refuse instead of ignoring.
    if (label !== 1) throw unsupported(`protected header label ${keyName(label)} is not supported (only alg)`);
  }
  if (!header.has(1)) throw parseError('protected header has no alg (label 1)');
  const alg: unknown = header.get(1);
  if (typeof alg !== 'number') throw unsupported(`alg must be an integer, got ${typeName(alg)}`);
  if (alg !== COSE_ALG_ES384) throw unsupported(`COSE alg ${alg} is not supported (only ES384 = -35)`);
  return alg;
}

function parsePcrs(value: unknown): Map<number, Uint8Array> {
  if (!(value instanceof Map)) throw parseError(`pcrs must be a map, got ${typeName(value)}`);
  if (value.size === 0 || value.size > NITRO_LIMITS.pcrCount) {
    throw parseError(`pcrs has ${value.size} entries, allowed 1..${NITRO_LIMITS.pcrCount}`);
  }
  const pcrs = new Map<number, Uint8Array>();
  let length: number | undefined;
  for (const [index, pcr] of value) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= NITRO_LIMITS.pcrCount) {
      throw parseError(`PCR index ${keyName(index)} is not an integer in 0..${NITRO_LIMITS.pcrCount - 1}`);
    }
    if (!(pcr instanceof Uint8Array)) throw parseError(`PCR${index} must be a byte string, got ${typeName(pcr)}`);
    if (!PCR_LENGTHS.has(pcr.length)) throw parseError(`PCR${index} is ${pcr.length} bytes, expected 32, 48 or 64`);
    // One digest algorithm produces one length; a mix means the map was not made by one bank.
    if (length !== undefined && pcr.length !== length) {
      throw parseError(`PCR${index} is ${pcr.length} bytes but earlier PCRs are ${length} bytes`);
    }
    length = pcr.length;
    pcrs.set(index, pcr.slice());
  }
  for (const index of REQUIRED_PCRS) {
    if (!pcrs.has(index)) throw parseError(`pcrs lacks PCR${index} (PCR0–2 identify the image and reveal debug mode)`);
  }
  return pcrs;
}

function parseCabundle(value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw parseError(`cabundle must be an array, got ${typeName(value)}`);
  if (value.length === 0 || value.length > NITRO_LIMITS.cabundleEntries) {
    throw parseError(`cabundle has ${value.length} entries, allowed 1..${NITRO_LIMITS.cabundleEntries}`);
  }
  return value.map((der: unknown, i) => bytesField(der, `cabundle[${i}]`, 1, NITRO_LIMITS.certificateBytes));
}

function parseAttestationDocument(payload: Uint8Array): NitroAttestationDocument {
  const map = decodeCbor(payload, 'payload');
  if (!(map instanceof Map)) throw parseError(`payload must be a map, got ${typeName(map)}`);
  for (const key of map.keys()) {
    if (typeof key !== 'string' || !KNOWN_FIELDS.has(key)) {
      throw parseError(`attestation document has unknown field ${keyName(key)}`);
    }
  }

  const moduleId = required(map, 'module_id');
  if (typeof moduleId !== 'string') throw parseError(`module_id must be a text string, got ${typeName(moduleId)}`);
  if (moduleId.length === 0 || moduleId.length > NITRO_LIMITS.moduleIdChars) {
    throw parseError(`module_id is ${moduleId.length} characters, allowed 1..${NITRO_LIMITS.moduleIdChars}`);
  }

  const digest = required(map, 'digest');
  if (typeof digest !== 'string') throw parseError(`digest must be a text string, got ${typeName(digest)}`);
  if (digest !== 'SHA384') throw unsupported(`digest ${keyName(digest)} is not supported (only "SHA384")`);

  const timestamp = required(map, 'timestamp');
  // cbor2 yields a bigint above 2^53; no real millisecond timestamp gets there.
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    throw parseError(`timestamp must be a positive integer of milliseconds, got ${typeName(timestamp)}`);
  }

  return {
    moduleId,
    digest,
    timestamp,
    pcrs: parsePcrs(required(map, 'pcrs')),
    certificate: bytesField(required(map, 'certificate'), 'certificate', 1, NITRO_LIMITS.certificateBytes),
    cabundle: parseCabundle(required(map, 'cabundle')),
    publicKey: optionalBytesField(map, 'public_key', NITRO_LIMITS.publicKeyBytes),
    userData: optionalBytesField(map, 'user_data', NITRO_LIMITS.userDataBytes),
    nonce: optionalBytesField(map, 'nonce', NITRO_LIMITS.nonceBytes),
  };
}

/**
 * Parses a Nitro attestation document (a COSE_Sign1, tagged 18 or untagged)
 * into its envelope and typed payload.
 *
 * Throws `VerifyError` EG_VERIFY_PARSE for malformed or oversized input,
 * missing or mistyped fields and trailing bytes, and EG_VERIFY_UNSUPPORTED for
 * well-formed input this verifier does not handle (an algorithm other than
 * ES384, a digest other than SHA384, other protected header labels, another
 * CBOR tag, a detached payload). Nothing is verified here.
 */
export function parseNitroDocument(bytes: Uint8Array): ParsedNitroDocument {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', 'Nitro document must be a Uint8Array');
  if (bytes.length === 0) throw parseError('input is empty');
  if (bytes.length > MAX_DOCUMENT_BYTES) throw parseError(`input is ${bytes.length} bytes, limit ${MAX_DOCUMENT_BYTES}`);

  let envelope = decodeCbor(bytes, 'COSE_Sign1');
  let tagged = false;
  if (envelope instanceof Tag) {
    if (Number(envelope.tag) !== COSE_SIGN1_TAG) {
      throw unsupported(`CBOR tag ${String(envelope.tag)} is not COSE_Sign1 (18)`);
    }
    tagged = true;
    envelope = envelope.contents;
  }
  if (!Array.isArray(envelope) || envelope.length !== 4) {
    throw parseError(`COSE_Sign1 must be an array of 4 items, got ${typeName(envelope)}`);
  }
  const [protectedBytes, unprotected, payload, signature] = envelope as unknown[];

  if (!(protectedBytes instanceof Uint8Array)) {
    throw parseError(`protected header must be a byte string, got ${typeName(protectedBytes)}`);
  }
  const alg = parseProtectedHeader(protectedBytes);

  // The unprotected header is not covered by the signature, so its contents
  // cannot be trusted and are ignored; only its type is checked.
  if (!(unprotected instanceof Map)) throw parseError(`unprotected header must be a map, got ${typeName(unprotected)}`);

  if (payload === null) throw unsupported('detached payloads are not supported');
  if (!(payload instanceof Uint8Array)) throw parseError(`payload must be a byte string, got ${typeName(payload)}`);
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_BYTES) {
    throw parseError(`payload is ${payload.length} bytes, allowed 1..${MAX_PAYLOAD_BYTES}`);
  }

  if (!(signature instanceof Uint8Array)) throw parseError(`signature must be a byte string, got ${typeName(signature)}`);
  if (signature.length !== ES384_SIGNATURE_BYTES) {
    throw parseError(`signature is ${signature.length} bytes, expected ${ES384_SIGNATURE_BYTES} (ES384 r‖s)`);
  }

  const cose: NitroCoseSign1 = {
    tagged,
    protectedHeader: protectedBytes.slice(),
    alg,
    payload: payload.slice(),
    signature: signature.slice(),
  };
  return { cose, document: parseAttestationDocument(cose.payload) };
}
