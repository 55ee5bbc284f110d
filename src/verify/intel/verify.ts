/**
 * Intel DCAP quote verification: signatures and chains. The order follows
 * Intel's QVL, from the pinned root down to the quote, so each step only
 * trusts keys the previous step proved:
 *
 *  1. parse, QE vendor;
 *  2. PCK chain (leaf → PCK Platform/Processor CA → pinned Intel SGX Root CA),
 *     valid at ctx.at; PCK SGX extensions;
 *  3. QE report signed by the PCK;
 *  4. QE report_data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes,
 *     which binds the attestation key to that QE;
 *  5. the quote (header ‖ body) signed by the attestation key;
 *  6. with collateral: TCB info and QE identity signed by Intel SGX TCB Signing
 *     under the pinned root, in their issueDate/nextUpdate windows; CRLs;
 *     TCB level, TDX module and QE identity evaluation.
 *
 * Every step is appended to ctx.transcript; every failure is a VerifyError.
 */
import { X509Certificate, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { VerifyError, describeThrown } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import { parsePemBundle, verifyChain } from '../x509.js';
import {
  checkCollateralWindow,
  checkNotRevoked,
  normaliseIntelCollateral,
  parseIntelCrl,
  parseQeIdentity,
  parseTcbInfo,
  verifyIntelCrl,
  verifySignedCollateral,
  type IntelCollateral,
  type QeIdentity,
} from './collateral.js';
import { readCertificateFields, toHex } from './der.js';
import { parseIntelQuote, type IntelQuote, type ParseIntelQuoteOptions, type SgxReportBody, type TdReportBody } from './parse.js';
import { parsePckExtensions, type PckExtensions } from './pck.js';
import { INTEL_CN, INTEL_QE_IDENTITY, INTEL_QE_VENDOR_ID, INTEL_ROOTS } from './roots.js';
import {
  checkTcbInfoApplies,
  evaluatePlatformTcb,
  evaluateQeIdentity,
  evaluateTdxModule,
  mergeTcbVerdicts,
  type TcbVerdict,
} from './tcb.js';

/** Options of {@link verifyIntelQuote}. */
export interface IntelVerifyOptions extends ParseIntelQuoteOptions {
  /**
   * Replaces the pinned Intel SGX Root CA (SHA-256 of DER → name), like
   * go-tdx-guest's `TrustedRoots`. Only for private test PKIs: a quote
   * chained to any other root proves nothing about Intel hardware. Its use
   * is recorded in the transcript.
   */
  readonly trustedRoots?: ReadonlyMap<string, string>;
}

/** Which pieces of collateral were supplied and verified. */
export type IntelCollateralState = 'verified' | 'partial' | 'absent';

function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}

function failStep(ctx: VerifyContext, step: string, code: VerifyError['code'] & `EG_VERIFY_${string}`, detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

/** Verifies a raw r‖s ECDSA-P256/SHA-256 signature; false for any malformed input. */
function verifyP256(data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

function attestationPublicKey(raw: Uint8Array, ctx: VerifyContext): KeyObject {
  const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(0, 32)), y: b64url(raw.subarray(32, 64)) }, format: 'jwk' });
  } catch {
    // A key that is not a curve point can have signed nothing.
    return failStep(ctx, 'intel.quote.signature', 'EG_VERIFY_SIGNATURE', 'attestation key is not a valid P-256 point');
  }
}

interface PckResult {
  readonly leaf: X509Certificate;
  readonly ca: X509Certificate;
  readonly root: X509Certificate;
  readonly caKind: 'platform' | 'processor';
  readonly ext: PckExtensions;
}

function verifyPckChain(q: IntelQuote, roots: ReadonlyMap<string, string>, ctx: VerifyContext): PckResult {
  const certs = parsePemBundle(q.signatureData.pckChainPem, 'PCK certificate chain');
  if (certs.length !== 3) {
    failStep(ctx, 'intel.pck.chain', 'EG_VERIFY_CHAIN', `PCK chain must be leaf, PCK CA, root; it has ${certs.length} certificates`);
  }
  const [leaf, ca, root] = certs as [X509Certificate, X509Certificate, X509Certificate];
  verifyChain(certs, roots, 'intel.pck', ctx);
  // The root also issues the TCB Signing certificate; names and CA flags keep
  // a certificate of the wrong role from standing in for a PCK CA or leaf.
  const caName = commonName(ca);
  const caKind = caName === INTEL_CN.pckPlatformCa ? 'platform' : caName === INTEL_CN.pckProcessorCa ? 'processor' : undefined;
  if (caKind === undefined || !ca.ca) {
    failStep(ctx, 'intel.pck.roles', 'EG_VERIFY_CHAIN', `PCK issuer "${caName ?? '?'}" is not an Intel SGX PCK Platform/Processor CA`);
  }
  if (commonName(leaf) !== INTEL_CN.pckLeaf || leaf.ca) {
    failStep(ctx, 'intel.pck.roles', 'EG_VERIFY_CHAIN', `PCK leaf "${commonName(leaf) ?? '?'}" is not an Intel SGX PCK Certificate`);
  }
  ctx.transcript.pass('intel.pck.roles', `${INTEL_CN.pckLeaf} issued by ${caName}`);
  const ext = parsePckExtensions(leaf.raw);
  ctx.transcript.pass('intel.pck.extensions', `FMSPC ${ext.fmspc}, PCESVN ${ext.pceSvn}, CPUSVN ${ext.cpuSvn}, PCE-ID ${ext.pceId}`);
  return { leaf, ca, root, caKind, ext };
}

const hex = toHex;

function bodyClaims(q: IntelQuote): Record<string, unknown> {
  if (q.body.tee === 'sgx') {
    const b: SgxReportBody = q.body.report;
    return {
      cpuSvn: hex(b.cpuSvn),
      miscSelect: hex(b.miscSelect),
      isvExtProdId: hex(b.isvExtProdId),
      attributes: hex(b.attributes),
      mrEnclave: hex(b.mrEnclave),
      mrSigner: hex(b.mrSigner),
      configId: hex(b.configId),
      isvProdId: b.isvProdId,
      isvSvn: b.isvSvn,
      configSvn: b.configSvn,
      isvFamilyId: hex(b.isvFamilyId),
      reportData: hex(b.reportData),
    };
  }
  const b: TdReportBody = q.body.report;
  const attr = b.tdAttributes;
  return {
    teeTcbSvn: hex(b.teeTcbSvn),
    mrSeam: hex(b.mrSeam),
    mrSignerSeam: hex(b.mrSignerSeam),
    seamAttributes: hex(b.seamAttributes),
    tdAttributes: hex(attr),
    // Decoded TD_ATTRIBUTES bits policies commonly look at (TDX ABI: bit 0 DEBUG, 28 SEPT_VE_DISABLE, 30 PKS, 31 KL, 63 PERFMON).
    tdAttributeFlags: {
      debug: (attr[0]! & 0x01) !== 0,
      septVeDisable: (attr[3]! & 0x10) !== 0,
      pks: (attr[3]! & 0x40) !== 0,
      kl: (attr[3]! & 0x80) !== 0,
      perfmon: (attr[7]! & 0x80) !== 0,
    },
    xfam: hex(b.xfam),
    mrTd: hex(b.mrTd),
    mrConfigId: hex(b.mrConfigId),
    mrOwner: hex(b.mrOwner),
    mrOwnerConfig: hex(b.mrOwnerConfig),
    rtmr0: hex(b.rtmrs[0]),
    rtmr1: hex(b.rtmrs[1]),
    rtmr2: hex(b.rtmrs[2]),
    rtmr3: hex(b.rtmrs[3]),
    reportData: hex(b.reportData),
    ...(b.teeTcbSvn2 === undefined ? {} : { teeTcbSvn2: hex(b.teeTcbSvn2) }),
    ...(b.mrServiceTd === undefined ? {} : { mrServiceTd: hex(b.mrServiceTd) }),
  };
}

/** Without a signed QE identity, the QE must at least be Intel's production QE for this TEE. */
function checkPinnedQe(q: IntelQuote, ctx: VerifyContext): void {
  const pinned = INTEL_QE_IDENTITY[q.tee];
  const qe = q.signatureData.qeReport;
  if (hex(qe.mrSigner) !== pinned.mrSigner || qe.isvProdId !== pinned.isvProdId) {
    failStep(
      ctx,
      'intel.qe.identity',
      'EG_VERIFY_TCB',
      `QE MRSIGNER ${hex(qe.mrSigner)} / ISVPRODID ${qe.isvProdId} is not ${pinned.name} (no QE identity collateral given)`,
    );
  }
  ctx.transcript.pass('intel.qe.identity', `${pinned.name} (pinned MRSIGNER; no QE identity collateral, QE TCB status unknown)`);
}

interface CollateralOutcome {
  readonly state: IntelCollateralState;
  readonly missing: readonly string[];
  readonly merged: TcbVerdict;
  readonly platform: TcbVerdict;
  readonly module?: TcbVerdict;
  readonly qe?: TcbVerdict;
  readonly tcbEvaluationDataNumber: number;
  readonly tcbInfoIssueDate: string;
  readonly tcbInfoNextUpdate: string;
}

function verifyCollateral(
  input: IntelCollateral,
  q: IntelQuote,
  pck: PckResult,
  roots: ReadonlyMap<string, string>,
  ctx: VerifyContext,
): CollateralOutcome {
  const c = normaliseIntelCollateral(input);
  ctx.transcript.pass('intel.collateral.parse');

  verifySignedCollateral(c.tcbInfo, c.tcbInfoIssuerChain, 'intel.tcbinfo', roots, ctx);
  const info = parseTcbInfo(c.tcbInfo.body);
  checkCollateralWindow(info.issueDate, info.nextUpdate, 'intel.tcbinfo', ctx);

  let identity: QeIdentity | undefined;
  if (c.qeIdentity !== undefined && c.qeIdentityIssuerChain !== undefined) {
    verifySignedCollateral(c.qeIdentity, c.qeIdentityIssuerChain, 'intel.qeidentity', roots, ctx);
    identity = parseQeIdentity(c.qeIdentity.body);
    checkCollateralWindow(identity.issueDate, identity.nextUpdate, 'intel.qeidentity', ctx);
  }

  if (c.rootCaCrl !== undefined) {
    const crl = parseIntelCrl(c.rootCaCrl, 'root CA CRL');
    verifyIntelCrl(crl, pck.root, 'intel.crl.root', ctx);
    // Everything the root issued that this verification relied on.
    const intermediates = [pck.ca, c.tcbInfoIssuerChain[0]!, ...(c.qeIdentityIssuerChain === undefined ? [] : [c.qeIdentityIssuerChain[0]!])];
    checkNotRevoked(crl, intermediates, 'intel.crl.root', ctx);
  }
  if (c.pckCrl !== undefined) {
    const crl = parseIntelCrl(c.pckCrl, 'PCK CRL');
    // The CRL that matters is the one of the CA that issued this PCK; verifyIntelCrl refuses any other.
    verifyIntelCrl(crl, pck.ca, 'intel.crl.pck', ctx);
    checkNotRevoked(crl, [pck.leaf], 'intel.crl.pck', ctx);
  }

  checkTcbInfoApplies(info, q.tee, pck.ext, ctx);
  const td = q.body.tee === 'tdx' ? q.body.report : undefined;
  const platform = evaluatePlatformTcb(info, pck.ext, td);
  ctx.transcript.pass('intel.tcb.platform', `${platform.status}${platform.advisoryIds.length > 0 ? ` (${platform.advisoryIds.join(', ')})` : ''}`);
  const module = td === undefined ? undefined : evaluateTdxModule(info, td, ctx);
  let qe: TcbVerdict | undefined;
  if (identity !== undefined) qe = evaluateQeIdentity(identity, q.tee, q.signatureData.qeReport, ctx);
  else checkPinnedQe(q, ctx);
  const merged = mergeTcbVerdicts([platform, ...(module === undefined ? [] : [module]), ...(qe === undefined ? [] : [qe])]);

  const missing = [
    ...(identity === undefined ? ['qeIdentity'] : []),
    ...(c.pckCrl === undefined ? ['pckCrl'] : []),
    ...(c.rootCaCrl === undefined ? ['rootCaCrl'] : []),
  ];
  ctx.transcript.pass(
    'intel.tcb.status',
    `${merged.status}${missing.length > 0 ? `; collateral partial, not checked: ${missing.join(', ')}` : ''}`,
  );
  return {
    state: missing.length === 0 ? 'verified' : 'partial',
    missing,
    merged,
    platform,
    ...(module === undefined ? {} : { module }),
    ...(qe === undefined ? {} : { qe }),
    tcbEvaluationDataNumber: info.tcbEvaluationDataNumber,
    tcbInfoIssueDate: info.issueDate.toISOString(),
    tcbInfoNextUpdate: info.nextUpdate.toISOString(),
  };
}

/**
 * Verifies an Intel DCAP quote (SGX v3, TDX v4/v5) at ctx.at and returns what
 * it proves. `collateral` (either form of {@link IntelCollateral}) adds the
 * TCB status; without it `tcb.collateral` is 'absent' and the status is
 * unknown, which default appraisal refuses. Throws VerifyError: PARSE /
 * UNSUPPORTED (format), CHAIN / EXPIRED / REVOKED (certificates, CRLs,
 * collateral windows), SIGNATURE (quote, QE report, collateral), BINDING
 * (QE report_data), TCB (collateral for another platform, QE or TDX module
 * not matching Intel's identity), DEBUG (debug QE).
 */
export function verifyIntelQuote(
  quote: Uint8Array,
  collateral: IntelCollateral | undefined,
  ctx: VerifyContext,
  options: IntelVerifyOptions = {},
): VerifiedEvidence {
  let step = 'intel.quote.parse';
  try {
    const roots = options.trustedRoots ?? INTEL_ROOTS;
    if (options.trustedRoots !== undefined) {
      ctx.transcript.pass('intel.roots', `WARNING: pinned Intel SGX Root CA replaced by ${[...roots.values()].join(', ')}`);
    }
    const q = parseIntelQuote(quote, options);
    ctx.transcript.pass(
      step,
      `${q.tee.toUpperCase()} quote v${q.header.version}${q.bodyType === undefined ? '' : ` body type ${q.bodyType}`}, ${q.quoteBytes.length} bytes` +
        (q.trailingBytes > 0 ? `, ${q.trailingBytes} trailing bytes ignored` : ''),
    );
    step = 'intel.quote.vendor';
    if (hex(q.header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
      failStep(ctx, step, 'EG_VERIFY_UNSUPPORTED', `QE vendor ${hex(q.header.qeVendorId)} is not Intel`);
    }

    step = 'intel.pck';
    const pck = verifyPckChain(q, roots, ctx);

    step = 'intel.qe.report.signature';
    const sd = q.signatureData;
    if (!verifyP256(sd.qeReportRaw, pck.leaf.publicKey, sd.qeReportSignature)) {
      failStep(ctx, step, 'EG_VERIFY_SIGNATURE', 'QE report signature does not verify with the PCK certificate key');
    }
    ctx.transcript.pass(step, 'QE report signed by the PCK');

    step = 'intel.qe.binding';
    const expected = createHash('sha256').update(sd.attestationKey).update(sd.qeAuthData).digest();
    const rd = sd.qeReport.reportData;
    if (!expected.equals(rd.subarray(0, 32)) || rd.subarray(32).some((b) => b !== 0)) {
      failStep(ctx, step, 'EG_VERIFY_BINDING', 'QE report_data is not SHA-256(attestation key ‖ QE auth data) followed by zeros');
    }
    ctx.transcript.pass(step, 'attestation key bound to the QE report');

    step = 'intel.qe.debug';
    if (sd.qeReport.debug) failStep(ctx, step, 'EG_VERIFY_DEBUG', 'the Quoting Enclave runs in debug mode; its attestation key is not protected');

    step = 'intel.quote.signature';
    const key = attestationPublicKey(sd.attestationKey, ctx);
    if (!verifyP256(q.signedData, key, sd.signature)) {
      failStep(ctx, step, 'EG_VERIFY_SIGNATURE', 'quote signature does not verify with the attestation key');
    }
    ctx.transcript.pass(step, 'header and body signed by the attestation key');

    step = 'intel.collateral';
    let outcome: CollateralOutcome | undefined;
    if (collateral === undefined) {
      checkPinnedQe(q, ctx);
      ctx.transcript.pass(step, 'no collateral given: TCB status unknown');
    } else {
      outcome = verifyCollateral(collateral, q, pck, roots, ctx);
    }
    return buildEvidence(q, pck, outcome);
  } catch (e) {
    if (e instanceof VerifyError) {
      const last = ctx.transcript.steps.at(-1);
      if (last === undefined || last.ok) ctx.transcript.fail(step, e.code, e.message);
      throw e;
    }
    // A bug must still fail closed with a typed error, never an untyped throw.
    const err = new VerifyError('EG_VERIFY_PARSE', `${step}: unexpected failure: ${describeThrown(e)}`, { cause: e });
    ctx.transcript.fail(step, 'EG_VERIFY_PARSE', err.message);
    throw err;
  }
}

function buildEvidence(q: IntelQuote, pck: PckResult, outcome: CollateralOutcome | undefined): VerifiedEvidence {
  const claims = bodyClaims(q);
  const qe = q.signatureData.qeReport;
  const td = q.body.tee === 'tdx' ? q.body.report : undefined;
  const leafFields = readCertificateFields(pck.leaf.raw, 'PCK certificate');
  const e = pck.ext;
  const tcb: Record<string, unknown> = {
    fmspc: e.fmspc,
    pceSvn: e.pceSvn,
    pceId: e.pceId,
    cpuSvn: e.cpuSvn,
    tcbComponents: [...e.tcbComponents],
    sgxType: e.sgxType,
    ppid: e.ppid,
    pckCa: pck.caKind,
    qeSvn: qe.isvSvn,
    ...(td === undefined ? {} : { teeTcbSvn: hex(td.teeTcbSvn) }),
    ...(td?.teeTcbSvn2 === undefined ? {} : { teeTcbSvn2: hex(td.teeTcbSvn2) }),
    collateral: outcome?.state ?? 'absent',
  };
  if (outcome !== undefined) {
    Object.assign(tcb, {
      status: outcome.merged.status,
      advisoryIds: [...outcome.merged.advisoryIds],
      platformStatus: outcome.platform.status,
      ...(outcome.platform.tcbDate === undefined ? {} : { tcbDate: outcome.platform.tcbDate }),
      ...(outcome.module === undefined ? {} : { tdxModuleStatus: outcome.module.status }),
      ...(outcome.qe === undefined ? {} : { qeStatus: outcome.qe.status }),
      tcbEvaluationDataNumber: outcome.tcbEvaluationDataNumber,
      tcbInfoIssueDate: outcome.tcbInfoIssueDate,
      tcbInfoNextUpdate: outcome.tcbInfoNextUpdate,
      ...(outcome.missing.length === 0 ? {} : { collateralMissing: [...outcome.missing] }),
    });
  }
  return {
    platform: q.tee,
    measurement: q.body.tee === 'tdx' ? hex(q.body.report.mrTd) : hex(q.body.report.mrEnclave),
    reportData: hex(q.body.report.reportData),
    debug: q.body.report.debug,
    tcb,
    claims: {
      ...claims,
      header: {
        version: q.header.version,
        attestationKeyType: q.header.attestationKeyType,
        teeType: q.header.teeType,
        qeSvn: q.header.qeSvn,
        pceSvn: q.header.pceSvn,
        qeVendorId: hex(q.header.qeVendorId),
        userData: hex(q.header.userData),
      },
      ...(q.bodyType === undefined ? {} : { bodyType: q.bodyType }),
      qe: {
        mrEnclave: hex(qe.mrEnclave),
        mrSigner: hex(qe.mrSigner),
        isvProdId: qe.isvProdId,
        isvSvn: qe.isvSvn,
        attributes: hex(qe.attributes),
        miscSelect: hex(qe.miscSelect),
      },
      pck: {
        serial: hex(leafFields.serial),
        issuer: commonName(pck.ca) ?? '',
        notBefore: new Date(pck.leaf.validFrom).toISOString(),
        notAfter: new Date(pck.leaf.validTo).toISOString(),
      },
      trailingBytes: q.trailingBytes,
    },
  };
}
