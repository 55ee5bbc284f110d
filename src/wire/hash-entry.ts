/**
 * Hash entries in the CoSWID/CoRIM `hash-entry` form `[alg-id, digest]`,
 * with the IANA named-information algorithm ids the CCC Interoperable RA-TLS
 * spec requires verifiers to accept (1 sha-256, 7 sha-384, 8 sha-512).
 */
import { createHash } from 'node:crypto';
import { VerifyError } from '../errors.js';

/** Hash algorithms a hash entry may name. */
export type HashAlgorithm = 'sha-256' | 'sha-384' | 'sha-512';

const ALG_IDS: Readonly<Record<HashAlgorithm, number>> = { 'sha-256': 1, 'sha-384': 7, 'sha-512': 8 };
const DIGEST_BYTES: Readonly<Record<HashAlgorithm, number>> = { 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 };

/** A digest together with the algorithm that produced it. */
export interface HashEntry {
  readonly alg: HashAlgorithm;
  readonly digest: Uint8Array;
}

/** Hashes `data` into a hash entry. */
export function hashEntry(alg: HashAlgorithm, data: Uint8Array): HashEntry {
  return { alg, digest: new Uint8Array(createHash(alg.replace('-', '')).update(data).digest()) };
}

/** The IANA named-information id of `alg`. */
export function hashAlgId(alg: HashAlgorithm): number {
  return ALG_IDS[alg];
}

/** Maps an IANA id back to an algorithm; unknown ids are a parse error. */
export function hashAlgFromId(id: unknown): HashAlgorithm {
  for (const [alg, value] of Object.entries(ALG_IDS) as [HashAlgorithm, number][]) {
    if (value === id) return alg;
  }
  throw new VerifyError('EG_VERIFY_UNSUPPORTED', `hash algorithm id ${String(id)} is not one of 1, 7, 8`);
}

/** Checks that a decoded digest has the length its algorithm implies. */
export function checkDigestLength(entry: HashEntry, what: string): HashEntry {
  if (entry.digest.length !== DIGEST_BYTES[entry.alg]) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: ${entry.alg} digest has ${entry.digest.length} bytes, expected ${DIGEST_BYTES[entry.alg]}`);
  }
  return entry;
}

/** True when both entries use the same algorithm and digest (constant-time on the digest). */
export function sameHashEntry(a: HashEntry, b: HashEntry): boolean {
  if (a.alg !== b.alg || a.digest.length !== b.digest.length) return false;
  let diff = 0;
  for (let i = 0; i < a.digest.length; i++) diff |= a.digest[i]! ^ b.digest[i]!;
  return diff === 0;
}

/** Renders an entry as `sha-384:<hex>` for logs, metrics and JSON. */
export function formatHashEntry(entry: HashEntry): string {
  return `${entry.alg}:${Buffer.from(entry.digest).toString('hex')}`;
}

/** Parses `sha-384:<hex>` (the form `formatHashEntry` writes, used in reference values). */
export function parseHashEntry(text: string): HashEntry {
  const match = /^(sha-256|sha-384|sha-512):([0-9a-fA-F]+)$/.exec(text.trim());
  if (!match) throw new VerifyError('EG_VERIFY_USAGE', `"${text}" is not of the form sha-384:<hex>`);
  const entry = { alg: match[1] as HashAlgorithm, digest: new Uint8Array(Buffer.from(match[2]!, 'hex')) };
  return checkDigestLength(entry, 'hash entry');
}
