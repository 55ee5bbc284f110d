/**
 * A TPM 2.0 quote: the marshalled TPMS_ATTEST the TPM signed (`message`),
 * the signature bytes, and the PCR values the quote covers (TPM 2.0 Library
 * Part 2, §10.12 TPMS_ATTEST, §10.12.1 TPMS_QUOTE_INFO; big-endian):
 *
 *   u32 magic 0xFF544347, u16 type 0x8018 (quote), TPM2B_NAME qualifiedSigner,
 *   TPM2B_DATA extraData (the nonce), TPMS_CLOCK_INFO (u64, u32, u32, u8),
 *   u64 firmwareVersion, TPML_PCR_SELECTION, TPM2B_DIGEST pcrDigest.
 *
 * The quote proves the PCR values only through pcrDigest = H(selected PCR
 * values in selection order), so the values handed beside it are checked
 * against that digest before anything reads them.
 */
import { constants, createHash, verify, type KeyObject } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import { toHex } from '../bytes.js';

const TPM_GENERATED_VALUE = 0xff544347;
const TPM_ST_ATTEST_QUOTE = 0x8018;
const TPM_ALG_SHA256 = 0x000b;
/** TPM2B_DATA holds at most a TPMT_HA (64 bytes for SHA-512). */
const MAX_EXTRA_DATA = 64;
/** A quote message is small; the cap keeps hostile input cheap. */
const MAX_MESSAGE_BYTES = 1024;
/** A TPM has 24 PCRs per bank. */
export const MAX_PCRS = 24;

/** The quote as the evidence carries it. */
export interface TpmQuote {
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  /** SHA-256 PCR values in the order the quote's selection lists them. */
  readonly pcrs: readonly Uint8Array[];
}

/** The fields of the signed TPMS_ATTEST. */
export interface TpmQuoteInfo {
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  /** PCR indexes selected in the SHA-256 bank, in digest order. */
  readonly pcrIndexes: readonly number[];
  readonly pcrDigest: Uint8Array;
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `TPM quote: ${message}`);
}

/** Parses the TPMS_ATTEST of a quote; every byte must be accounted for. */
export function parseTpmQuoteInfo(message: Uint8Array): TpmQuoteInfo {
  if (message.length > MAX_MESSAGE_BYTES) throw parseError(`message is ${message.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let offset = 0;
  const need = (n: number, what: string): void => {
    if (offset + n > message.length) throw parseError(`message ends inside ${what}`);
  };
  const u8 = (what: string): number => (need(1, what), view.getUint8(offset++));
  const u16 = (what: string): number => {
    need(2, what);
    const v = view.getUint16(offset);
    offset += 2;
    return v;
  };
  const u32 = (what: string): number => {
    need(4, what);
    const v = view.getUint32(offset);
    offset += 4;
    return v;
  };
  const u64 = (what: string): bigint => {
    need(8, what);
    const v = view.getBigUint64(offset);
    offset += 8;
    return v;
  };
  const sized = (what: string, max: number): Uint8Array => {
    const size = u16(`${what} size`);
    if (size > max) throw parseError(`${what} is ${size} bytes, limit ${max}`);
    need(size, what);
    const out = message.slice(offset, offset + size);
    offset += size;
    return out;
  };

  if (u32('magic') !== TPM_GENERATED_VALUE) throw parseError('magic is not TPM_GENERATED_VALUE (0xFF544347): not made by a TPM');
  const type = u16('type');
  if (type !== TPM_ST_ATTEST_QUOTE) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `TPM quote: attestation type 0x${type.toString(16)} is not a quote (0x8018)`);
  const qualifiedSigner = sized('qualifiedSigner', 68);
  const extraData = sized('extraData', MAX_EXTRA_DATA);
  const clock = u64('clock');
  const resetCount = u32('resetCount');
  const restartCount = u32('restartCount');
  const safe = u8('safe') === 1;
  const firmwareVersion = u64('firmwareVersion');
  const count = u32('PCR selection count');
  if (count === 0 || count > 4) throw parseError(`PCR selection has ${count} banks`);
  const pcrIndexes: number[] = [];
  for (let bank = 0; bank < count; bank++) {
    const hash = u16('PCR selection hash');
    const sizeOfSelect = u8('PCR selection size');
    if (sizeOfSelect > 4) throw parseError(`PCR selection of ${sizeOfSelect} bytes`);
    need(sizeOfSelect, 'PCR selection');
    const select = message.subarray(offset, offset + sizeOfSelect);
    offset += sizeOfSelect;
    const selected: number[] = [];
    select.forEach((byte, i) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) selected.push(i * 8 + bit);
    });
    if (selected.length === 0) continue;
    // The PCR values beside the quote are SHA-256 values; another bank's digest could not be checked against them.
    if (hash !== TPM_ALG_SHA256) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `TPM quote: PCR bank 0x${hash.toString(16)} is not SHA-256`);
    pcrIndexes.push(...selected);
  }
  if (new Set(pcrIndexes).size !== pcrIndexes.length) throw parseError('a PCR is selected twice');
  const pcrDigest = sized('pcrDigest', 64);
  if (offset !== message.length) throw parseError(`${message.length - offset} bytes after the quote info`);
  return { qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, pcrIndexes, pcrDigest };
}

/** What {@link checkTpmQuote} proved. */
export interface CheckedTpmQuote {
  readonly info: TpmQuoteInfo;
  /** PCR index (decimal string) → lower-case hex, for every quoted PCR. */
  readonly pcrs: Readonly<Record<string, string>>;
}

/**
 * Checks a quote: its RSASSA-PKCS1-v1_5 SHA-256 signature by `ak`, then the
 * PCR values against the signed digest. Throws EG_VERIFY_PARSE /
 * EG_VERIFY_UNSUPPORTED for a malformed quote, EG_VERIFY_SIGNATURE for a
 * signature that does not verify, EG_VERIFY_BINDING for PCR values that are
 * not the ones quoted. The nonce is the caller's to compare.
 */
export function checkTpmQuote(quote: TpmQuote, ak: KeyObject): CheckedTpmQuote {
  const info = parseTpmQuoteInfo(quote.message);
  let ok = false;
  try {
    ok = verify('sha256', quote.message, { key: ak, padding: constants.RSA_PKCS1_PADDING }, quote.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new VerifyError('EG_VERIFY_SIGNATURE', 'TPM quote: the signature (RSASSA-PKCS1-v1_5 SHA-256) does not verify under HCLAkPub');
  if (quote.pcrs.length !== info.pcrIndexes.length) {
    throw new VerifyError('EG_VERIFY_BINDING', `TPM quote: ${quote.pcrs.length} PCR values given, the quote selects ${info.pcrIndexes.length}`);
  }
  const hash = createHash('sha256');
  for (const [i, pcr] of quote.pcrs.entries()) {
    if (pcr.length !== 32) throw parseError(`PCR value ${i} is ${pcr.length} bytes, expected 32 (SHA-256)`);
    hash.update(pcr);
  }
  const digest = hash.digest();
  if (!digest.equals(Buffer.from(info.pcrDigest))) {
    throw new VerifyError('EG_VERIFY_BINDING', 'TPM quote: the PCR values given do not hash to the quoted PCR digest');
  }
  const pcrs: Record<string, string> = {};
  info.pcrIndexes.forEach((index, i) => {
    pcrs[String(index)] = toHex(quote.pcrs[i]!);
  });
  return { info, pcrs: Object.freeze(pcrs) };
}

