/**
 * Intel collateral: TCB info and QE identity JSON (signed by the Intel SGX TCB
 * Signing certificate) and the CRLs of the PCK and root CAs. Two input shapes
 * are accepted and normalised to one:
 *
 *  - the separate files an Intel PCS returns (go-tdx-guest and mobilecoin test
 *    data): `{"tcbInfo":{…},"signature":"…"}` bodies, issuer chains that
 *    arrive in HTTP headers, DER CRLs;
 *  - dcap-qvl's `QuoteCollateralV3` JSON (the `phala-*-collateral.json`
 *    vectors), where the signed body is already a string and CRLs are hex DER.
 *
 * Signatures are checked over the exact signed bytes: the raw `tcbInfo` /
 * `enclaveIdentity` member is cut out of the document text, never
 * re-serialised, since any re-encoding (key order, escapes, number format)
 * would change the bytes Intel signed.
 */
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import type { VerifyContext } from '../types.js';
import { parsePemBundle, verifyChain } from '../x509.js';
import {
  DER_TAG,
  bytesEqual,
  derBitStringBytes,
  derChildren,
  derOid,
  derTime,
  derUnsignedBytes,
  expectTag,
  readCertificateFields,
  readDerExact,
  toHex,
} from './der.js';
import { INTEL_CN } from './roots.js';

// ───────────────────────── input shapes ─────────────────────────

/**
 * Collateral as separate files, the way an Intel PCS (or PCCS) serves them.
 * Optional pieces may be left out; the verifier then records which checks it
 * could not make (`tcb.collateralMissing`) and appraisal refuses partial
 * collateral unless told otherwise.
 */
export interface IntelPcsCollateral {
  /** TCB info response body, `{"tcbInfo":{…},"signature":"…"}`, as text or UTF-8 bytes. */
  readonly tcbInfo: string | Uint8Array;
  /** PEM chain of the TCB info signer: Intel SGX TCB Signing, then Intel SGX Root CA. */
  readonly tcbInfoIssuerChain: string;
  /** QE identity response body, `{"enclaveIdentity":{…},"signature":"…"}`. */
  readonly qeIdentity?: string | Uint8Array;
  /** PEM chain of the QE identity signer; defaults to `tcbInfoIssuerChain` (Intel uses the same signer). */
  readonly qeIdentityIssuerChain?: string;
  /** CRL of the PCK's issuing CA (Platform or Processor): DER bytes, hex, or PEM. */
  readonly pckCrl?: Uint8Array | string;
  /** CRL of the Intel SGX Root CA: DER bytes, hex, or PEM. */
  readonly rootCaCrl?: Uint8Array | string;
}

/**
 * dcap-qvl's `QuoteCollateralV3` as JSON (snake_case keys). `tcb_info` and
 * `qe_identity` are the signed bodies, signatures are hex r‖s, CRLs hex DER.
 * `pck_crl_issuer_chain` is accepted but not needed: the PCK CRL must be
 * signed by the CA that issued the quote's own PCK certificate, which the
 * quote already carries.
 */
export interface IntelDcapQvlCollateral {
  readonly tcb_info: string;
  readonly tcb_info_signature: string;
  readonly tcb_info_issuer_chain: string;
  readonly qe_identity: string;
  readonly qe_identity_signature: string;
  readonly qe_identity_issuer_chain: string;
  readonly pck_crl: string;
  readonly root_ca_crl: string;
  readonly pck_crl_issuer_chain?: string;
}

/** Either collateral shape. */
export type IntelCollateral = IntelPcsCollateral | IntelDcapQvlCollateral;

/** A signed collateral document: the exact signed text and its raw r‖s signature. */
export interface SignedIntelJson {
  readonly body: string;
  readonly signature: Uint8Array;
}

/** Collateral after shape checks; nothing here has been verified yet. */
export interface NormalisedIntelCollateral {
  readonly tcbInfo: SignedIntelJson;
  readonly tcbInfoIssuerChain: readonly X509Certificate[];
  readonly qeIdentity?: SignedIntelJson;
  readonly qeIdentityIssuerChain?: readonly X509Certificate[];
  readonly pckCrl?: Uint8Array;
  readonly rootCaCrl?: Uint8Array;
}

function parseFail(message: string): never {
  throw new VerifyError('EG_VERIFY_PARSE', `Intel collateral: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

function hexBytes(text: string, what: string, length?: number): Uint8Array {
  if (!HEX_RE.test(text)) parseFail(`${what} is not hex`);
  const bytes = Buffer.from(text, 'hex');
  if (length !== undefined && bytes.length !== length) parseFail(`${what} must be ${length} bytes, got ${bytes.length}`);
  return new Uint8Array(bytes);
}

function text(input: unknown, what: string): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (cause) {
      throw new VerifyError('EG_VERIFY_PARSE', `Intel collateral: ${what} is not UTF-8`, { cause });
    }
  }
  return parseFail(`${what} must be a string or bytes`);
}

function crlBytes(input: unknown, what: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (typeof input !== 'string') return parseFail(`${what} must be DER bytes, hex or PEM`);
  const pem = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(input);
  if (pem !== null) return new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64'));
  return hexBytes(input.trim(), what);
}

function chain(pem: unknown, what: string): X509Certificate[] {
  if (typeof pem !== 'string') return parseFail(`${what} must be a PEM string`);
  return parsePemBundle(pem, what);
}

/** Skips one JSON string starting at `i` (which holds the opening quote); returns the index after it. */
function skipJsonString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) j++; // backslash: skip the escaped character
    else if (c === 0x22) return j + 1;
  }
  return parseFail('unterminated string in signed JSON');
}

/** Skips one JSON value starting at `i`; the document is validated by JSON.parse separately. */
function skipJsonValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipJsonString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j];
      if (d === '"') j = skipJsonString(s, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return parseFail('unbalanced brackets in signed JSON');
  }
  let j = i;
  while (j < s.length && !/[,}\]\s]/.test(s[j]!)) j++;
  return j;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i]!)) i++;
  return i;
}

/**
 * Returns the exact text of each top-level member of a JSON object document.
 * The document must also pass JSON.parse, so the scanner only has to find
 * boundaries, not validate. Duplicate top-level keys are refused: JSON.parse
 * keeps the last one, and a signature must not cover a different member than
 * the one interpreted.
 */
export function rawJsonMembers(doc: string, what: string): Map<string, string> {
  try {
    JSON.parse(doc);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', `Intel collateral: ${what} is not valid JSON`, { cause });
  }
  const out = new Map<string, string>();
  let i = skipWs(doc, 0);
  if (doc[i] !== '{') parseFail(`${what} is not a JSON object`);
  i = skipWs(doc, i + 1);
  if (doc[i] === '}') return out;
  for (;;) {
    const keyEnd = skipJsonString(doc, i);
    const key = JSON.parse(doc.slice(i, keyEnd)) as string;
    i = skipWs(doc, keyEnd) + 1; // past ':'
    i = skipWs(doc, i);
    const valueEnd = skipJsonValue(doc, i);
    if (out.has(key)) parseFail(`${what} has duplicate member "${key}"`);
    out.set(key, doc.slice(i, valueEnd));
    i = skipWs(doc, valueEnd);
    if (doc[i] === '}') return out;
    i = skipWs(doc, i + 1); // past ','
  }
}

/** Splits a PCS response body into the signed member (first of `keys` present) and its signature. */
export function splitPcsSignedJson(doc: string, keys: readonly string[], what: string): SignedIntelJson {
  const members = rawJsonMembers(doc, what);
  const key = keys.find((k) => members.has(k));
  if (key === undefined) parseFail(`${what} has no ${keys.map((k) => `"${k}"`).join(' or ')} member`);
  const sig = members.get('signature');
  if (sig === undefined) parseFail(`${what} has no "signature" member`);
  const sigText: unknown = JSON.parse(sig);
  if (typeof sigText !== 'string') parseFail(`${what} signature must be a hex string`);
  return { body: members.get(key)!, signature: hexBytes(sigText, `${what} signature`, 64) };
}

/**
 * Checks the shape of either collateral form and returns it normalised.
 * Throws EG_VERIFY_PARSE for anything malformed; verifies nothing.
 */
export function normaliseIntelCollateral(input: unknown): NormalisedIntelCollateral {
  if (!isRecord(input)) return parseFail('must be an object');
  if ('tcb_info' in input) {
    const s = (key: string): string => {
      const v = input[key];
      if (typeof v !== 'string') parseFail(`dcap-qvl field "${key}" must be a string`);
      return v;
    };
    return {
      tcbInfo: { body: s('tcb_info'), signature: hexBytes(s('tcb_info_signature'), 'tcb_info_signature', 64) },
      tcbInfoIssuerChain: chain(s('tcb_info_issuer_chain'), 'tcb_info_issuer_chain'),
      qeIdentity: { body: s('qe_identity'), signature: hexBytes(s('qe_identity_signature'), 'qe_identity_signature', 64) },
      qeIdentityIssuerChain: chain(s('qe_identity_issuer_chain'), 'qe_identity_issuer_chain'),
      pckCrl: crlBytes(s('pck_crl'), 'pck_crl'),
      rootCaCrl: crlBytes(s('root_ca_crl'), 'root_ca_crl'),
    };
  }
  if (!('tcbInfo' in input)) parseFail('neither the PCS form (tcbInfo, …) nor the dcap-qvl form (tcb_info, …)');
  const tcbInfoIssuerChain = chain(input['tcbInfoIssuerChain'], 'tcbInfoIssuerChain');
  const out: {
    -readonly [K in keyof NormalisedIntelCollateral]: NormalisedIntelCollateral[K];
  } = {
    tcbInfo: splitPcsSignedJson(text(input['tcbInfo'], 'tcbInfo'), ['tcbInfo'], 'tcbInfo'),
    tcbInfoIssuerChain,
  };
  if (input['qeIdentity'] !== undefined) {
    // v2 PCS bodies use "enclaveIdentity"; v1 used "qeIdentity".
    out.qeIdentity = splitPcsSignedJson(text(input['qeIdentity'], 'qeIdentity'), ['enclaveIdentity', 'qeIdentity'], 'qeIdentity');
    out.qeIdentityIssuerChain =
      input['qeIdentityIssuerChain'] === undefined
        ? tcbInfoIssuerChain
        : chain(input['qeIdentityIssuerChain'], 'qeIdentityIssuerChain');
  }
  if (input['pckCrl'] !== undefined) out.pckCrl = crlBytes(input['pckCrl'], 'pckCrl');
  if (input['rootCaCrl'] !== undefined) out.rootCaCrl = crlBytes(input['rootCaCrl'], 'rootCaCrl');
  return out;
}

// ───────────────────────── signed JSON documents ─────────────────────────

/** One TCB level of a TCB info. */
export interface TcbLevel {
  readonly sgxComponents: readonly number[];
  readonly pceSvn: number;
  /** TDX TCB info only. */
  readonly tdxComponents?: readonly number[];
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

/** A TCB level keyed by a single ISVSVN (QE identity, TDX module identity). */
export interface IsvTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

/** Expected signer and attributes of a TDX module. */
export interface TdxModuleIdentity {
  /** `TDX_%02X` of the module's major version; absent for the base `tdxModule`. */
  readonly id?: string;
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

/** A parsed TCB info (SGX v2/v3 or TDX v3). */
export interface TcbInfo {
  readonly id: 'SGX' | 'TDX';
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  /** Lower-case hex. */
  readonly fmspc: string;
  /** Lower-case hex. */
  readonly pceId: string;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule?: TdxModuleIdentity;
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TcbLevel[];
}

/** A parsed QE identity (`QE` for SGX, `TD_QE` for TDX). */
export interface QeIdentity {
  readonly id: string;
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscSelect: Uint8Array;
  readonly miscSelectMask: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

/** Typed accessors over untrusted JSON; every mismatch is EG_VERIFY_PARSE naming the path. */
class J {
  constructor(
    private readonly value: Record<string, unknown>,
    private readonly path: string,
  ) {}

  static root(body: string, what: string): J {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (cause) {
      throw new VerifyError('EG_VERIFY_PARSE', `Intel collateral: ${what} is not valid JSON`, { cause });
    }
    if (!isRecord(value)) parseFail(`${what} must be a JSON object`);
    return new J(value, what);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  str(key: string): string {
    const v = this.value[key];
    if (typeof v !== 'string') parseFail(`${this.path}.${key} must be a string`);
    return v;
  }

  int(key: string): number {
    const v = this.value[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) parseFail(`${this.path}.${key} must be a non-negative integer`);
    return v;
  }

  hex(key: string, length: number): Uint8Array {
    return hexBytes(this.str(key), `${this.path}.${key}`, length);
  }

  date(key: string): Date {
    const v = this.str(key);
    // Intel writes RFC 3339 UTC timestamps; refuse anything Date.parse would guess at.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/.test(v)) parseFail(`${this.path}.${key} is not an RFC 3339 UTC time`);
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) parseFail(`${this.path}.${key} is not a valid time`);
    return new Date(ms);
  }

  obj(key: string): J {
    const v = this.value[key];
    if (!isRecord(v)) parseFail(`${this.path}.${key} must be an object`);
    return new J(v, `${this.path}.${key}`);
  }

  objs(key: string): J[] {
    const v = this.value[key];
    if (!Array.isArray(v)) parseFail(`${this.path}.${key} must be an array`);
    return v.map((item, i) => {
      if (!isRecord(item)) parseFail(`${this.path}.${key}[${i}] must be an object`);
      return new J(item, `${this.path}.${key}[${i}]`);
    });
  }

  strings(key: string): string[] {
    const v = this.value[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) parseFail(`${this.path}.${key} must be an array of strings`);
    return v as string[];
  }
}

function isvLevels(j: J, key: string): IsvTcbLevel[] {
  return j.objs(key).map((level) => ({
    isvSvn: level.obj('tcb').int('isvsvn'),
    tcbDate: level.str('tcbDate'),
    tcbStatus: level.str('tcbStatus'),
    advisoryIds: level.strings('advisoryIDs'),
  }));
}

function componentSvns(j: J, key: string): number[] {
  const comps = j.objs(key);
  if (comps.length !== 16) parseFail(`${key} must have 16 entries, has ${comps.length}`);
  return comps.map((c) => {
    const svn = c.int('svn');
    if (svn > 255) parseFail(`${key} svn ${svn} does not fit a byte`);
    return svn;
  });
}

function moduleIdentity(j: J, withId: boolean): TdxModuleIdentity {
  return {
    ...(withId ? { id: j.str('id') } : {}),
    mrSigner: j.hex('mrsigner', 48),
    attributes: j.hex('attributes', 8),
    attributesMask: j.hex('attributesMask', 8),
    tcbLevels: withId ? isvLevels(j, 'tcbLevels') : [],
  };
}

/** Parses the signed body of a TCB info (the value of `tcbInfo`). */
export function parseTcbInfo(body: string): TcbInfo {
  const j = J.root(body, 'tcbInfo');
  const id = j.str('id');
  const version = j.int('version');
  if (id !== 'SGX' && id !== 'TDX') throw new VerifyError('EG_VERIFY_UNSUPPORTED', `TCB info id "${id}" is not supported (SGX, TDX)`);
  if ((id === 'SGX' && version !== 2 && version !== 3) || (id === 'TDX' && version !== 3)) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `${id} TCB info version ${version} is not supported`);
  }
  const tcbType = j.int('tcbType');
  // tcbType 0 is the only defined TCB component layout; another one would change what the 16 SVNs mean.
  if (tcbType !== 0) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `TCB info tcbType ${tcbType} is not supported`);
  const tcbLevels = j.objs('tcbLevels').map((level): TcbLevel => {
    const tcb = level.obj('tcb');
    let sgxComponents: number[];
    if (version === 2) {
      sgxComponents = [];
      for (let i = 1; i <= 16; i++) {
        const svn = tcb.int(`sgxtcbcomp${String(i).padStart(2, '0')}svn`);
        if (svn > 255) parseFail(`sgxtcbcomp${i}svn does not fit a byte`);
        sgxComponents.push(svn);
      }
    } else {
      sgxComponents = componentSvns(tcb, 'sgxtcbcomponents');
    }
    return {
      sgxComponents,
      pceSvn: tcb.int('pcesvn'),
      ...(id === 'TDX' ? { tdxComponents: componentSvns(tcb, 'tdxtcbcomponents') } : {}),
      tcbDate: level.str('tcbDate'),
      tcbStatus: level.str('tcbStatus'),
      advisoryIds: level.strings('advisoryIDs'),
    };
  });
  if (tcbLevels.length === 0) parseFail('tcbInfo.tcbLevels is empty');
  return {
    id,
    version,
    issueDate: j.date('issueDate'),
    nextUpdate: j.date('nextUpdate'),
    fmspc: toHex(j.hex('fmspc', 6)),
    pceId: toHex(j.hex('pceId', 2)),
    tcbType,
    tcbEvaluationDataNumber: j.int('tcbEvaluationDataNumber'),
    ...(j.has('tdxModule') ? { tdxModule: moduleIdentity(j.obj('tdxModule'), false) } : {}),
    tdxModuleIdentities: j.has('tdxModuleIdentities') ? j.objs('tdxModuleIdentities').map((m) => moduleIdentity(m, true)) : [],
    tcbLevels,
  };
}

/** Parses the signed body of a QE identity (the value of `enclaveIdentity`). */
export function parseQeIdentity(body: string): QeIdentity {
  const j = J.root(body, 'enclaveIdentity');
  const version = j.int('version');
  if (version !== 2) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `QE identity version ${version} is not supported (2 is)`);
  const tcbLevels = isvLevels(j, 'tcbLevels');
  if (tcbLevels.length === 0) parseFail('enclaveIdentity.tcbLevels is empty');
  const isvProdId = j.int('isvprodid');
  if (isvProdId > 0xffff) parseFail('enclaveIdentity.isvprodid does not fit 16 bits');
  return {
    id: j.str('id'),
    version,
    issueDate: j.date('issueDate'),
    nextUpdate: j.date('nextUpdate'),
    tcbEvaluationDataNumber: j.int('tcbEvaluationDataNumber'),
    miscSelect: j.hex('miscselect', 4),
    miscSelectMask: j.hex('miscselectMask', 4),
    attributes: j.hex('attributes', 16),
    attributesMask: j.hex('attributesMask', 16),
    mrSigner: j.hex('mrsigner', 32),
    isvProdId,
    tcbLevels,
  };
}

function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}

/**
 * Verifies a signed collateral document: its issuer chain ends at a pinned
 * root and is valid at ctx.at (EG_VERIFY_CHAIN / EG_VERIFY_EXPIRED), the
 * signer is an "Intel SGX TCB Signing" certificate, and its key signed the
 * exact body bytes (EG_VERIFY_SIGNATURE).
 */
export function verifySignedCollateral(
  doc: SignedIntelJson,
  issuerChain: readonly X509Certificate[],
  label: string,
  roots: ReadonlyMap<string, string>,
  ctx: VerifyContext,
): void {
  verifyChain(issuerChain, roots, `${label}.issuer`, ctx);
  const signer = issuerChain[0]!;
  if (issuerChain.length !== 2 || commonName(signer) !== INTEL_CN.tcbSigning) {
    const detail = `${label}: signer must be "${INTEL_CN.tcbSigning}" directly under the root, got "${commonName(signer) ?? '?'}" in a chain of ${issuerChain.length}`;
    ctx.transcript.fail(`${label}.issuer`, 'EG_VERIFY_CHAIN', detail);
    throw new VerifyError('EG_VERIFY_CHAIN', detail);
  }
  let ok = false;
  try {
    ok = cryptoVerify('sha256', Buffer.from(doc.body, 'utf8'), { key: signer.publicKey, dsaEncoding: 'ieee-p1363' }, doc.signature);
  } catch {
    ok = false;
  }
  if (!ok) {
    const detail = `${label}: ECDSA signature over the signed body does not verify with the TCB Signing key`;
    ctx.transcript.fail(`${label}.signature`, 'EG_VERIFY_SIGNATURE', detail);
    throw new VerifyError('EG_VERIFY_SIGNATURE', detail);
  }
  ctx.transcript.pass(`${label}.signature`, `signed by ${INTEL_CN.tcbSigning} (serial ${signer.serialNumber})`);
}

/** Throws EG_VERIFY_EXPIRED unless issueDate ≤ ctx.at ≤ nextUpdate (both inclusive). */
export function checkCollateralWindow(issueDate: Date, nextUpdate: Date, label: string, ctx: VerifyContext): void {
  if (ctx.at < issueDate || ctx.at > nextUpdate) {
    const detail = `${label} valid ${issueDate.toISOString()} → ${nextUpdate.toISOString()}, checked at ${ctx.at.toISOString()}`;
    ctx.transcript.fail(`${label}.validity`, 'EG_VERIFY_EXPIRED', detail);
    throw new VerifyError('EG_VERIFY_EXPIRED', detail);
  }
  ctx.transcript.pass(`${label}.validity`, `${issueDate.toISOString()} → ${nextUpdate.toISOString()}`);
}

// ───────────────────────── CRLs ─────────────────────────

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** A parsed X.509 CRL (RFC 5280 §5). */
export interface IntelCrl {
  /** DER of tbsCertList: the signed bytes. */
  readonly tbs: Uint8Array;
  /** DER of the issuer Name. */
  readonly issuer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Revoked serials as lower-case hex, leading zero octets removed. */
  readonly revokedSerials: ReadonlySet<string>;
  /** DER ECDSA-Sig-Value. */
  readonly signature: Uint8Array;
}

/** Parses a DER CRL. Only ecdsa-with-SHA256 (the Intel PKI's algorithm) is accepted. */
export function parseIntelCrl(der: Uint8Array, what: string): IntelCrl {
  const top = derChildren(expectTag(readDerExact(der, what), DER_TAG.sequence, what), what);
  if (top.length !== 3) throw new VerifyError('EG_VERIFY_PARSE', `${what}: CertificateList must have 3 parts`);
  const tbsNode = expectTag(top[0], DER_TAG.sequence, `${what} tbsCertList`);
  const outerAlg = derChildren(expectTag(top[1], DER_TAG.sequence, `${what} signatureAlgorithm`), what);
  const signature = derBitStringBytes(top[2]!, `${what} signature`);
  const fields = derChildren(tbsNode, `${what} tbsCertList`);
  let i = fields[0]?.tag === DER_TAG.integer ? 1 : 0; // optional version
  const innerAlg = expectTag(fields[i++], DER_TAG.sequence, `${what} signature algorithm`);
  const algOid = derOid(derChildren(innerAlg, what)[0]!, `${what} signature algorithm`);
  if (algOid !== ECDSA_WITH_SHA256 || outerAlg[0] === undefined || derOid(outerAlg[0], what) !== algOid) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `${what}: signature algorithm ${algOid} is not ecdsa-with-SHA256`);
  }
  const issuer = expectTag(fields[i++], DER_TAG.sequence, `${what} issuer`).encoded;
  const thisUpdate = derTime(fields[i++] ?? parseFail(`${what}: thisUpdate missing`), `${what} thisUpdate`);
  const next = fields[i++];
  // nextUpdate is optional in RFC 5280 but without it a stale CRL could never be detected.
  if (next === undefined || (next.tag !== DER_TAG.utcTime && next.tag !== DER_TAG.generalizedTime)) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: nextUpdate is required`);
  }
  const nextUpdate = derTime(next, `${what} nextUpdate`);
  const revokedSerials = new Set<string>();
  const list = fields[i];
  if (list !== undefined && list.tag === DER_TAG.sequence) {
    for (const entry of derChildren(list, `${what} revokedCertificates`)) {
      const parts = derChildren(expectTag(entry, DER_TAG.sequence, `${what} revoked entry`), `${what} revoked entry`);
      revokedSerials.add(toHex(derUnsignedBytes(expectTag(parts[0], DER_TAG.integer, `${what} serial`), `${what} serial`)));
    }
  }
  return { tbs: tbsNode.encoded, issuer, thisUpdate, nextUpdate, revokedSerials, signature };
}

/**
 * Verifies a CRL against the CA that must have issued it: issuer name equal
 * to the CA's subject (EG_VERIFY_CHAIN, the wrong CRL was supplied),
 * signature (EG_VERIFY_SIGNATURE), and thisUpdate ≤ ctx.at ≤ nextUpdate
 * (EG_VERIFY_EXPIRED). A stale CRL is an error, not a warning: it could
 * hide a revocation issued since.
 */
export function verifyIntelCrl(crl: IntelCrl, issuer: X509Certificate, label: string, ctx: VerifyContext): void {
  const issuerSubject = readCertificateFields(issuer.raw, `${label} issuer`).subject;
  if (!bytesEqual(crl.issuer, issuerSubject)) {
    const detail = `${label}: CRL is not issued by "${commonName(issuer) ?? '?'}"`;
    ctx.transcript.fail(`${label}.issuer`, 'EG_VERIFY_CHAIN', detail);
    throw new VerifyError('EG_VERIFY_CHAIN', detail);
  }
  let ok = false;
  try {
    ok = cryptoVerify('sha256', crl.tbs, issuer.publicKey, crl.signature);
  } catch {
    ok = false;
  }
  if (!ok) {
    const detail = `${label}: CRL signature does not verify with "${commonName(issuer) ?? '?'}"`;
    ctx.transcript.fail(`${label}.signature`, 'EG_VERIFY_SIGNATURE', detail);
    throw new VerifyError('EG_VERIFY_SIGNATURE', detail);
  }
  if (ctx.at < crl.thisUpdate || ctx.at > crl.nextUpdate) {
    const detail = `${label} valid ${crl.thisUpdate.toISOString()} → ${crl.nextUpdate.toISOString()}, checked at ${ctx.at.toISOString()}`;
    ctx.transcript.fail(`${label}.validity`, 'EG_VERIFY_EXPIRED', detail);
    throw new VerifyError('EG_VERIFY_EXPIRED', detail);
  }
  ctx.transcript.pass(`${label}`, `signed by ${commonName(issuer) ?? '?'}, ${crl.revokedSerials.size} entries, valid to ${crl.nextUpdate.toISOString()}`);
}

/** Throws EG_VERIFY_REVOKED when the CRL lists any of `certs` (which must all be issued by the CRL's issuer). */
export function checkNotRevoked(crl: IntelCrl, certs: readonly X509Certificate[], label: string, ctx: VerifyContext): void {
  for (const cert of certs) {
    const serial = toHex(readCertificateFields(cert.raw, `${label} subject`).serial);
    if (crl.revokedSerials.has(serial)) {
      const detail = `${label}: "${commonName(cert) ?? '?'}" serial ${serial} is revoked`;
      ctx.transcript.fail(`${label}.revocation`, 'EG_VERIFY_REVOKED', detail);
      throw new VerifyError('EG_VERIFY_REVOKED', detail);
    }
  }
  ctx.transcript.pass(`${label}.revocation`, `${certs.map((c) => commonName(c) ?? '?').join(', ')} not listed`);
}
