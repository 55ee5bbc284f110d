/**
 * The RA-TLS claims buffer: what the TEE evidence binds.
 *
 * A definite-length, deterministically encoded CBOR map with text keys, as in
 * the CCC Interoperable RA-TLS spec: every value is a byte string holding the
 * serialized `hash-entry` (or the raw nonce). Keys:
 *   - `pubkey-hash`  hash of the certificate's DER SubjectPublicKeyInfo (required)
 *   - `policy-hash`  hash of the active policy bundle (enclave-gate extension; required by us)
 *   - `nonce`        a verifier-chosen nonce (optional; freshness endpoint)
 *   - `tls-exporter` the TLS exporter value of one connection (optional; session binding)
 *   - `audit-key-hash` hash of the DER SubjectPublicKeyInfo of the key that
 *                  signs the decision log (optional; enclave-gate extension,
 *                  present when the decision log is on; docs/audit.md)
 * The evidence's report data is `reportDataFor(claimsBuffer)`.
 */
import { createHash } from 'node:crypto';
import { decode, encode, cdeEncodeOptions } from 'cbor2';
import { VerifyError } from '../errors.js';
import { checkDigestLength, hashAlgFromId, hashAlgId, type HashEntry } from './hash-entry.js';

/** Decoded claims. */
export interface RatlsClaims {
  readonly pubkeyHash: HashEntry;
  readonly policyHash?: HashEntry;
  readonly nonce?: Uint8Array;
  readonly tlsExporter?: Uint8Array;
  /** Hash of the decision-log signing key's SPKI DER (docs/audit.md). */
  readonly auditKeyHash?: HashEntry;
}

const KNOWN_KEYS = new Set(['pubkey-hash', 'policy-hash', 'nonce', 'tls-exporter', 'audit-key-hash']);
/** Claims buffers are small; a cap keeps a hostile certificate from costing much to parse. */
const MAX_CLAIMS_BYTES = 4096;

function encodeHashEntry(entry: HashEntry): Uint8Array {
  return encode([hashAlgId(entry.alg), entry.digest], cdeEncodeOptions);
}

function decodeHashEntry(bytes: unknown, key: string): HashEntry {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_PARSE', `claims: "${key}" is not a byte string`);
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', `claims: "${key}" does not hold CBOR`, { cause });
  }
  if (!Array.isArray(value) || value.length !== 2 || !(value[1] instanceof Uint8Array)) {
    throw new VerifyError('EG_VERIFY_PARSE', `claims: "${key}" is not a [alg-id, digest] hash entry`);
  }
  return checkDigestLength({ alg: hashAlgFromId(value[0]), digest: value[1] }, `claims "${key}"`);
}

/** Encodes claims into the deterministic CBOR claims buffer. */
export function encodeClaims(claims: RatlsClaims): Uint8Array {
  const map = new Map<string, Uint8Array>();
  map.set('pubkey-hash', encodeHashEntry(claims.pubkeyHash));
  if (claims.policyHash) map.set('policy-hash', encodeHashEntry(claims.policyHash));
  if (claims.nonce) map.set('nonce', claims.nonce);
  if (claims.tlsExporter) map.set('tls-exporter', claims.tlsExporter);
  if (claims.auditKeyHash) map.set('audit-key-hash', encodeHashEntry(claims.auditKeyHash));
  return encode(map, cdeEncodeOptions);
}

/** Decodes a claims buffer strictly: unknown keys, wrong types or trailing bytes are parse errors. */
export function decodeClaims(buffer: Uint8Array): RatlsClaims {
  if (buffer.length > MAX_CLAIMS_BYTES) throw new VerifyError('EG_VERIFY_PARSE', `claims buffer has ${buffer.length} bytes, limit ${MAX_CLAIMS_BYTES}`);
  let value: unknown;
  try {
    value = decode(buffer, { rejectDuplicateKeys: true, rejectStreaming: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'claims buffer is not a definite-length CBOR map', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || value instanceof Map) {
    throw new VerifyError('EG_VERIFY_PARSE', 'claims buffer is not a CBOR map with text keys');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_KEYS.has(key)) throw new VerifyError('EG_VERIFY_PARSE', `claims: unknown key "${key}"`);
  }
  if (!('pubkey-hash' in record)) throw new VerifyError('EG_VERIFY_PARSE', 'claims: "pubkey-hash" is missing');
  const bytesOf = (key: string): Uint8Array | undefined => {
    const v = record[key];
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_PARSE', `claims: "${key}" is not a byte string`);
    return v;
  };
  const policy = record['policy-hash'];
  const audit = record['audit-key-hash'];
  const nonce = bytesOf('nonce');
  const tlsExporter = bytesOf('tls-exporter');
  return {
    pubkeyHash: decodeHashEntry(record['pubkey-hash'], 'pubkey-hash'),
    ...(policy === undefined ? {} : { policyHash: decodeHashEntry(policy, 'policy-hash') }),
    ...(nonce === undefined ? {} : { nonce }),
    ...(tlsExporter === undefined ? {} : { tlsExporter }),
    ...(audit === undefined ? {} : { auditKeyHash: decodeHashEntry(audit, 'audit-key-hash') }),
  };
}

/**
 * The 64 bytes of report data that bind a claims buffer: SHA-256 of the
 * buffer followed by 32 zero bytes. This is the CCC rule for Intel quotes
 * (Gramine and rats-tls verifiers compare the first 32 bytes); we use it on
 * every platform so one verifier rule covers all of them.
 */
export function reportDataFor(claimsBuffer: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(createHash('sha256').update(claimsBuffer).digest(), 0);
  return out;
}
