/**
 * Cryptocurrency wallet address detector. Every form it reports carries a
 * checksum, so a match is near-certain and needs no context:
 *
 * - Bitcoin legacy (P2PKH, starts with "1") and script (P2SH, "3") addresses:
 *   Base58Check, 25 bytes = version 0x00/0x05 + 20-byte hash + the first four
 *   bytes of SHA-256(SHA-256(version + hash)).
 * - Bitcoin SegWit "bc1…" addresses: Bech32 (witness v0) or Bech32m (v1+,
 *   Taproot) with their BCH checksum, in one letter case, with a program of
 *   the length its witness version allows.
 * - Ethereum "0x" + 40 hex digits. All lower- or all upper-case hex has no
 *   checksum and is reported on its shape (40 hex digits after "0x" is
 *   specific; transaction hashes are 64); mixed case must satisfy EIP-55.
 *
 * Linear time: candidates are maximal runs of letters and digits that start
 * a word and hold a digit, found by growing a digit run (digit-runs.ts) both
 * ways; each is examined once, and only runs of bounded length (≤ 90) are
 * decoded.
 */
import { createHash } from 'node:crypto';

import * as chars from './char-class.js';
import { GATE_WALLET } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { findDigitRuns } from './digit-runs.js';
import { keccak256 } from './keccak.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { ALNUM, inClass, isWordChar } = chars;

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE58_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE58.length; i++) BASE58_VALUE[BASE58.charCodeAt(i)] = i;

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BECH32.length; i++) BECH32_VALUE[BECH32.charCodeAt(i)] = i;
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;

/** Decodes Base58 text[start, end) to bytes, or undefined on a bad character. */
export function base58Decode(text: string): Uint8Array | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? BASE58_VALUE[code]! : -1;
    if (value < 0) return undefined;
    let carry = value;
    for (let k = 0; k < bytes.length; k++) {
      carry += bytes[k]! * 58;
      bytes[k] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  // Each leading "1" stands for a leading zero byte.
  for (let i = 0; i < text.length && text.charCodeAt(i) === 0x31; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

function sha256d(data: Uint8Array): Buffer {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}

/** True for a Base58Check P2PKH/P2SH mainnet address. */
export function base58AddressValid(candidate: string): boolean {
  if (candidate.length < 26 || candidate.length > 35) return false;
  const bytes = base58Decode(candidate);
  if (bytes === undefined || bytes.length !== 25 || (bytes[0] !== 0x00 && bytes[0] !== 0x05)) return false;
  const check = sha256d(bytes.subarray(0, 21));
  return check[0] === bytes[21] && check[1] === bytes[22] && check[2] === bytes[23] && check[3] === bytes[24];
}

/** BIP-173 checksum polynomial over 5-bit values. */
function polymod(values: readonly number[]): number {
  const generator = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ generator[i]!) >>> 0;
  }
  return chk;
}

/** True for a mainnet SegWit address ("bc1…") with a valid Bech32/Bech32m checksum. */
export function segwitAddressValid(candidate: string): boolean {
  if (candidate.length < 14 || candidate.length > 90) return false;
  const lower = candidate.toLowerCase();
  // Mixed case is invalid Bech32 by definition.
  if (candidate !== lower && candidate !== candidate.toUpperCase()) return false;
  if (!lower.startsWith('bc1')) return false;
  const data: number[] = [];
  for (let i = 3; i < lower.length; i++) {
    const code = lower.charCodeAt(i);
    const v = code < 128 ? BECH32_VALUE[code]! : -1;
    if (v < 0) return false;
    data.push(v);
  }
  if (data.length < 7) return false;
  // Human-readable part "bc", expanded as BIP-173 says: high bits, 0, low bits.
  const expanded = [3, 3, 0, 2, 3, ...data];
  const version = data[0]!;
  if (version > 16) return false;
  const expected = version === 0 ? BECH32_CONST : BECH32M_CONST;
  if (polymod(expanded) !== expected) return false;
  // Program: 5-bit groups after the version, minus the six checksum symbols.
  const bits = (data.length - 7) * 5;
  const programBytes = Math.floor(bits / 8);
  if (bits % 8 >= 5) return false;
  if (programBytes < 2 || programBytes > 40) return false;
  return version !== 0 || programBytes === 20 || programBytes === 32;
}

/** True for "0x" + 40 hex digits that are single-case or satisfy EIP-55. */
export function ethereumAddressValid(candidate: string): boolean {
  if (candidate.length !== 42 || !candidate.startsWith('0x')) return false;
  const hex = candidate.slice(2);
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) return false;
  const lower = hex.toLowerCase();
  if (hex === lower || hex === hex.toUpperCase()) return true;
  const hash = keccak256(Buffer.from(lower, 'latin1'));
  for (let i = 0; i < 40; i++) {
    const c = hex.charCodeAt(i);
    if (c < 0x41) continue; // a digit has no case
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    const upper = c <= 0x46;
    if (upper !== nibble >= 8) return false;
  }
  return true;
}

/** First characters of the address forms: Base58 "1"/"3", "0x", "bc1"/"BC1". */
const ADDRESS_FIRST = '130bB';

function valid(candidate: string): boolean {
  const first = candidate.charCodeAt(0);
  if (first === 0x31 || first === 0x33) return base58AddressValid(candidate);
  if (first === 0x30) return ethereumAddressValid(candidate);
  if (first === 0x62 || first === 0x42) return segwitAddressValid(candidate);
  return false;
}

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const { count, starts, ends } = digits ?? findDigitRuns(text);
  const n = text.length;
  // A candidate is a maximal run of ASCII letters and digits that starts a
  // word. Every address form holds a digit ("1…", "3…", "0x…", "bc1…"), so
  // only the runs around digit runs are read; `floor` is the end of the last.
  let floor = 0;
  for (let r = 0; r < count; r++) {
    if (starts[r]! < floor) continue;
    let start = starts[r]!;
    while (start > floor && inClass(ALNUM, text.charCodeAt(start - 1))) start--;
    let end = ends[r]!;
    while (end < n && inClass(ALNUM, text.charCodeAt(end))) end++;
    floor = end;
    // "_" glues the run to an identifier ("0xabc…_v2"); such runs are code, not addresses.
    if (start > 0 && isWordChar(text.charCodeAt(start - 1))) continue;
    if (end < n && text.charCodeAt(end) === 0x5f) continue;
    const length = end - start;
    if (length < 26 || length > 90 || !ADDRESS_FIRST.includes(text[start]!)) continue;
    if (valid(text.slice(start, end)) && !report(start, end)) return;
  }
}

/** Finds Bitcoin and Ethereum addresses that pass their checksums. */
export const cryptoWalletDetector: PiiDetector = { type: 'crypto_wallet', scan, gate: GATE_WALLET };
