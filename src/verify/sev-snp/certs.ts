/**
 * AMD certificate specifics the generic X.509 helpers do not cover: the
 * VCEK/VLEK extensions under 1.3.6.1.4.1.3704.1 (TCB levels the key was
 * derived for, the chip's hwID, the cloud provider of a VLEK) and the one
 * signature algorithm AMD uses for ARK, ASK/ASVK and VEK certificates
 * (RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48). Pure DER reading, no crypto.
 *
 * Extension semantics: AMD "Versioned Chip Endorsement Key (VCEK)
 * Certificate and KDS Interface Specification" (#57230).
 */
import { VerifyError } from '../../errors.js';
import { TAG, children, content, decodeIa5String, decodeOid, decodeSmallUnsigned, expectTag, readTlv, type Tlv } from './der.js';

/** The endorsement key kinds: chip-unique (VCEK) or cloud-provider loaded (VLEK). */
export type SnpVekKind = 'vcek' | 'vlek';

/** TCB levels a VEK was derived for, from its SPL extensions. */
export interface SnpVekTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin: the fmcSPL extension (.3.9). */
  readonly fmc?: number;
  /** spl4..spl7 (.3.4–.3.7), reserved by AMD; only those present. */
  readonly reserved: Readonly<Record<string, number>>;
}

/** What a VEK's AMD extensions say. */
export interface SnpVekExtensions {
  readonly kind: SnpVekKind;
  /** .1 structVersion, when present. */
  readonly structVersion: number | undefined;
  /** .2 productName, e.g. "Milan-B0", "Genoa", "Turin". */
  readonly productName: string;
  readonly tcb: SnpVekTcb;
  /** .4 hwID (VCEK only): 64 bytes, or 8 bytes on Turin. */
  readonly hwId: Uint8Array | undefined;
  /** .5 cspID (VLEK only), e.g. "CN=cc-us-east-2.amazonaws.com". */
  readonly cspId: string | undefined;
}

const AMD_PREFIX = '1.3.6.1.4.1.3704.1.';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const SHA384_LENGTH = 48;

interface CertParts {
  readonly tbs: Tlv;
  readonly tbsFields: readonly Tlv[];
  readonly outerSignatureAlgorithm: Tlv;
}

function certParts(der: Uint8Array, what: string): CertParts {
  const cert = expectTag(readTlv(der, 0, der.length, what), TAG.SEQUENCE, what);
  if (cert.end !== der.length) throw new VerifyError('EG_VERIFY_PARSE', `${what}: trailing bytes after the certificate`);
  const [tbs, sigAlg, sigValue] = children(der, cert, what);
  if (tbs === undefined || sigAlg === undefined || sigValue === undefined) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: certificate must hold tbsCertificate, signatureAlgorithm, signature`);
  }
  expectTag(tbs, TAG.SEQUENCE, what);
  expectTag(sigAlg, TAG.SEQUENCE, what);
  return { tbs, tbsFields: children(der, tbs, what), outerSignatureAlgorithm: sigAlg };
}

/** Reads a hash AlgorithmIdentifier (SEQUENCE { OID, NULL? }) and returns its OID. */
function hashOid(der: Uint8Array, algId: Tlv, what: string): string {
  const [oid, params, extra] = children(der, expectTag(algId, TAG.SEQUENCE, what), what);
  if (oid === undefined || extra !== undefined || (params !== undefined && params.tag !== TAG.NULL)) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: malformed hash AlgorithmIdentifier`);
  }
  return decodeOid(der, oid, what);
}

/** Describes a signature AlgorithmIdentifier, e.g. "RSASSA-PSS(sha384, mgf1-sha384, salt 48)". */
function describePss(der: Uint8Array, algId: Tlv, what: string): { ok: boolean; text: string } {
  const [oidTlv, params] = children(der, algId, what);
  if (oidTlv === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what}: empty AlgorithmIdentifier`);
  const oid = decodeOid(der, oidTlv, what);
  if (oid !== OID_RSASSA_PSS) return { ok: false, text: `algorithm ${oid}` };
  if (params === undefined || params.tag !== TAG.SEQUENCE) return { ok: false, text: 'RSASSA-PSS without parameters' };
  // RFC 4055 defaults (SHA-1, salt 20) are not what AMD signs with, so every
  // field must be present and explicit.
  let hash: string | undefined;
  let mgf: string | undefined;
  let mgfHash: string | undefined;
  let salt: number | undefined;
  for (const field of children(der, params, what)) {
    const inner = children(der, field, what)[0];
    if (inner === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what}: empty RSASSA-PSS parameter`);
    if (field.tag === 0xa0) hash = hashOid(der, inner, what);
    else if (field.tag === 0xa1) {
      const [mgfOid, mgfParams] = children(der, expectTag(inner, TAG.SEQUENCE, what), what);
      if (mgfOid === undefined || mgfParams === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what}: malformed MGF`);
      mgf = decodeOid(der, mgfOid, what);
      mgfHash = hashOid(der, mgfParams, what);
    } else if (field.tag === 0xa2) salt = decodeSmallUnsigned(der, inner, what);
  }
  const name = (o: string | undefined): string => (o === OID_SHA384 ? 'sha384' : (o ?? 'default'));
  const text = `RSASSA-PSS(${name(hash)}, ${mgf === OID_MGF1 ? 'mgf1' : (mgf ?? 'default')}-${name(mgfHash)}, salt ${salt ?? 'default'})`;
  return { ok: hash === OID_SHA384 && mgf === OID_MGF1 && mgfHash === OID_SHA384 && salt === SHA384_LENGTH, text };
}

/**
 * Throws EG_VERIFY_CHAIN unless the certificate is signed with RSASSA-PSS,
 * SHA-384, MGF1-SHA-384, salt 48 in both its outer and its TBS
 * AlgorithmIdentifier. node:crypto would also accept PKCS#1 v1.5 or SHA-1;
 * AMD never signs with those, so a certificate that does is not AMD's.
 */
export function checkAmdSignatureAlgorithm(der: Uint8Array, what: string): void {
  const parts = certParts(der, what);
  const outer = describePss(der, parts.outerSignatureAlgorithm, what);
  const tbsAlg = parts.tbsFields.find((f, i) => f.tag === TAG.SEQUENCE && i <= 2);
  if (tbsAlg === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what}: tbsCertificate has no signature algorithm`);
  const inner = describePss(der, tbsAlg, what);
  if (!outer.ok || !inner.ok) {
    throw new VerifyError(
      'EG_VERIFY_CHAIN',
      `${what} is signed with ${outer.text} (TBS says ${inner.text}); AMD certificates use RSASSA-PSS(sha384, mgf1-sha384, salt 48)`,
    );
  }
  const a = content(der, parts.outerSignatureAlgorithm);
  const b = content(der, tbsAlg);
  if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) {
    throw new VerifyError('EG_VERIFY_CHAIN', `${what}: outer and TBS signature algorithms differ`);
  }
}

/** The raw extnValue contents of every extension, keyed by OID; duplicates are rejected. */
function extensionValues(der: Uint8Array, what: string): Map<string, Uint8Array> {
  const { tbsFields } = certParts(der, what);
  const wrapper = tbsFields.find((f) => f.tag === 0xa3);
  const out = new Map<string, Uint8Array>();
  if (wrapper === undefined) return out;
  const [list] = children(der, wrapper, what);
  if (list === undefined) return out;
  for (const ext of children(der, expectTag(list, TAG.SEQUENCE, what), what)) {
    const fields = children(der, expectTag(ext, TAG.SEQUENCE, what), what);
    const oidTlv = fields[0];
    const valueTlv = fields.at(-1);
    if (oidTlv === undefined || valueTlv === undefined || fields.length < 2 || fields.length > 3) {
      throw new VerifyError('EG_VERIFY_PARSE', `${what}: malformed extension`);
    }
    if (fields.length === 3) expectTag(fields[1]!, TAG.BOOLEAN, what);
    const oid = decodeOid(der, oidTlv, what);
    // Two values for one OID would let a parser pick whichever suits an attacker.
    if (out.has(oid)) throw new VerifyError('EG_VERIFY_PARSE', `${what}: duplicate extension ${oid}`);
    out.set(oid, content(der, expectTag(valueTlv, TAG.OCTET_STRING, what)));
  }
  return out;
}

/** Decodes a DER value that must be exactly one element of `tag`. */
function single(value: Uint8Array, what: string): { buf: Uint8Array; tlv: Tlv } {
  const tlv = readTlv(value, 0, value.length, what);
  if (tlv.end !== value.length) throw new VerifyError('EG_VERIFY_PARSE', `${what}: trailing bytes in extension value`);
  return { buf: value, tlv };
}

function splValue(exts: Map<string, Uint8Array>, suffix: string, label: string, what: string): number | undefined {
  const raw = exts.get(AMD_PREFIX + suffix);
  if (raw === undefined) return undefined;
  const { buf, tlv } = single(raw, `${what} ${label}`);
  const value = decodeSmallUnsigned(buf, tlv, `${what} ${label}`);
  if (value > 0xff) throw new VerifyError('EG_VERIFY_PARSE', `${what}: ${label} ${value} does not fit a TCB byte`);
  return value;
}

function requiredSpl(exts: Map<string, Uint8Array>, suffix: string, label: string, what: string): number {
  const value = splValue(exts, suffix, label, what);
  if (value === undefined) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what} lacks the ${label} extension (${AMD_PREFIX}${suffix})`);
  }
  return value;
}

/**
 * The hwID is stored as the raw bytes in every KDS certificate seen so far;
 * a DER OCTET STRING wrapping them is accepted too (trustee reads both), as
 * the lengths cannot be confused: raw hwIDs are 64 or 8 bytes.
 */
function decodeHwId(raw: Uint8Array, what: string): Uint8Array {
  if (raw.length === 64 || raw.length === 8) return new Uint8Array(raw);
  if (raw[0] === TAG.OCTET_STRING) {
    const { tlv } = single(raw, `${what} hwID`);
    const inner = content(raw, tlv);
    if (inner.length === 64 || inner.length === 8) return new Uint8Array(inner);
  }
  throw new VerifyError('EG_VERIFY_PARSE', `${what}: hwID extension holds ${raw.length} bytes, expected 64 (8 on Turin)`);
}

/**
 * Reads the AMD extensions of a VCEK or VLEK certificate (DER). The kind
 * follows from the extensions themselves: a VCEK names its chip (hwID), a
 * VLEK its cloud provider (cspID); a certificate with both or neither is not
 * a VEK.
 */
export function parseVekExtensions(der: Uint8Array, what: string): SnpVekExtensions {
  const exts = extensionValues(der, what);
  const nameRaw = exts.get(`${AMD_PREFIX}2`);
  if (nameRaw === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what} lacks the productName extension (${AMD_PREFIX}2)`);
  const nameEl = single(nameRaw, `${what} productName`);
  const productName = decodeIa5String(nameEl.buf, nameEl.tlv, `${what} productName`);

  const versionRaw = exts.get(`${AMD_PREFIX}1`);
  let structVersion: number | undefined;
  if (versionRaw !== undefined) {
    const el = single(versionRaw, `${what} structVersion`);
    structVersion = decodeSmallUnsigned(el.buf, el.tlv, `${what} structVersion`);
  }

  const reserved: Record<string, number> = {};
  for (const n of [4, 5, 6, 7]) {
    const v = splValue(exts, `3.${n}`, `spl${n}`, what);
    if (v !== undefined) reserved[`spl${n}`] = v;
  }
  const fmc = splValue(exts, '3.9', 'fmcSPL', what);
  const tcb: SnpVekTcb = {
    bootloader: requiredSpl(exts, '3.1', 'blSPL', what),
    tee: requiredSpl(exts, '3.2', 'teeSPL', what),
    snp: requiredSpl(exts, '3.3', 'snpSPL', what),
    microcode: requiredSpl(exts, '3.8', 'ucodeSPL', what),
    ...(fmc === undefined ? {} : { fmc }),
    reserved,
  };

  const hwIdRaw = exts.get(`${AMD_PREFIX}4`);
  const cspRaw = exts.get(`${AMD_PREFIX}5`);
  if ((hwIdRaw === undefined) === (cspRaw === undefined)) {
    throw new VerifyError(
      'EG_VERIFY_PARSE',
      `${what} must carry exactly one of hwID (${AMD_PREFIX}4, VCEK) and cspID (${AMD_PREFIX}5, VLEK)`,
    );
  }
  if (hwIdRaw !== undefined) {
    return { kind: 'vcek', structVersion, productName, tcb, hwId: decodeHwId(hwIdRaw, what), cspId: undefined };
  }
  const cspEl = single(cspRaw!, `${what} cspID`);
  return { kind: 'vlek', structVersion, productName, tcb, hwId: undefined, cspId: decodeIa5String(cspEl.buf, cspEl.tlv, `${what} cspID`) };
}
