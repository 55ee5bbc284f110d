/**
 * Azure confidential VMs (SEV-SNP and TDX behind the paravisor's vTPM).
 *
 * The guest never sees the hardware report directly. The paravisor (HCL)
 * puts a hardware report into the vTPM's NV index 0x01400001 whose
 * report_data[0:32] is SHA-256 of a JSON blob holding the vTPM attestation
 * key (HCLAkPub); the guest then proves its state with a TPM quote by that
 * AK over PCRs and a caller's nonce. So the chain of proof is:
 *
 *   AMD VCEK / Intel PCK ─signs─▶ hardware report ─report_data─▶ SHA-256(variable data)
 *     ─contains─▶ HCLAkPub ─signs─▶ TPM quote ─▶ nonce + PCR digest ─▶ PCR values
 *
 * On SEV-SNP the hardware report is in the HCL report and is verified with
 * the VCEK. On TDX the HCL holds only a TDREPORT (MAC'd, not verifiable
 * off the machine); the TD quote Azure's IMDS makes from it travels beside it
 * and is verified with DCAP, and its report_data carries the same hash.
 *
 * What it means (docs/verify.md): the hardware measurement covers the
 * paravisor (Microsoft's), not the guest OS; the guest OS and everything
 * after it is visible only in the PCRs, which reference values must pin.
 *
 * Evidence is JSON, in the shapes CoCo's trustee uses (and enclave-gate's
 * azure-vtpm provider emits the v1 shape):
 *   v0 SNP: { "quote": { "signature": [u8], "message": [u8], "pcrs": [[u8]] }, "report": [u8], "vcek": PEM }
 *   v0 TDX: { "tpm_quote": {…as v0}, "hcl_report": [u8], "td_quote": [u8] }
 *   v1/v2:  { "version": n, "tpm_quote": { "signature": hex, "message": hex, "pcrs": [hex] },
 *             "hcl_report": base64url, "vcek": base64url DER (SNP) | "td_quote": base64url (TDX) }
 */
import { timingSafeEqual } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import { toHex } from '../bytes.js';
import { verifyIntelQuote, type IntelCollateral } from '../intel/index.js';
import { verifySnpReport, type CertificateInput, type SnpChainCache, type SnpEndorsements, type SnpProduct } from '../sev-snp/index.js';
import { recorded, type VerifiedEvidence, type VerifyContext } from '../types.js';
import { parseHclReport, type HclReport } from './hcl.js';
import { MAX_PCRS, checkTpmQuote, type TpmQuote } from './tpm-quote.js';

/** The two Azure platforms. */
export type AzurePlatform = 'azure-sev-snp' | 'azure-tdx';

/** Evidence JSON stays well under this (the TD quote is the largest part, ~5 KB). */
export const MAX_AZURE_EVIDENCE_BYTES = 64 * 1024;
const SNP_VMPL_OF_PARAVISOR = 0;

/** The parts of Azure evidence, decoded. */
export interface AzureEvidence {
  /** The trustee format version (0 when the document has none). */
  readonly version: number;
  readonly tpmQuote: TpmQuote;
  readonly hclReport: Uint8Array;
  /** SEV-SNP: the VCEK the evidence carries (DER or PEM), if any. */
  readonly vcek?: Uint8Array | string;
  /** TDX: the DCAP quote of the TD report. */
  readonly tdQuote?: Uint8Array;
}

/** What the Azure verifier needs besides the evidence. */
export interface AzureVerifySources {
  /** SEV-SNP: the ASK/ARK chain (and the VCEK when the evidence lacks one). */
  readonly endorsements?: SnpEndorsements;
  readonly product?: SnpProduct;
  readonly chainCache?: SnpChainCache;
  /** TDX: collateral for the TD quote. */
  readonly collateral?: IntelCollateral;
}

/** Claims of verified Azure evidence; the hardware verifier's own claims sit under `hardware`. */
export interface AzureClaims {
  readonly hardware: Readonly<Record<string, unknown>>;
  readonly hcl: {
    readonly variableDataSha256: string;
    /** HCLAkPub as a JWK (kty, n, e). */
    readonly akPub: Readonly<Record<string, unknown>>;
    /** `user-data` (hex) from the variable data: what was written to NV 0x01400002 before the report was made. */
    readonly userData?: string;
    readonly vmConfiguration?: Readonly<Record<string, unknown>>;
  };
  readonly tpm: {
    /** The quote's extraData (qualifying data, the nonce), hex. */
    readonly nonce: string;
    /** PCR index → SHA-256 value, hex. */
    readonly pcrs: Readonly<Record<string, string>>;
    readonly pcrDigest: string;
    readonly clock: string;
    readonly resetCount: number;
    readonly restartCount: number;
    readonly firmwareVersion: string;
  };
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `Azure evidence: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An array of byte values (v0). */
function byteArray(value: unknown, name: string, max: number): Uint8Array | undefined {
  if (!Array.isArray(value)) return undefined;
  if (value.length > max) throw parseError(`${name} has ${value.length} bytes, limit ${max}`);
  if (!value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw parseError(`${name} is not an array of bytes`);
  return Uint8Array.from(value as number[]);
}

function hexBytes(value: unknown, name: string, max: number): Uint8Array {
  const fromArray = byteArray(value, name, max);
  if (fromArray !== undefined) return fromArray;
  if (typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw parseError(`${name} must be hex or an array of bytes`);
  if (value.length / 2 > max) throw parseError(`${name} has ${value.length / 2} bytes, limit ${max}`);
  return new Uint8Array(Buffer.from(value, 'hex'));
}

function base64Bytes(value: unknown, name: string, max: number): Uint8Array {
  const fromArray = byteArray(value, name, max);
  if (fromArray !== undefined) return fromArray;
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw parseError(`${name} must be base64 or an array of bytes`);
  const bytes = new Uint8Array(Buffer.from(value, 'base64url'));
  if (bytes.length > max) throw parseError(`${name} has ${bytes.length} bytes, limit ${max}`);
  return bytes;
}

function parseQuote(value: unknown): TpmQuote {
  if (!isObject(value)) throw parseError('"tpm_quote" (or "quote") must be an object');
  const pcrs = value['pcrs'];
  if (!Array.isArray(pcrs) || pcrs.length === 0 || pcrs.length > MAX_PCRS) throw parseError(`"pcrs" must be an array of 1..${MAX_PCRS} PCR values`);
  return {
    signature: hexBytes(value['signature'], 'quote signature', 1024),
    message: hexBytes(value['message'], 'quote message', 1024),
    pcrs: pcrs.map((p, i) => hexBytes(p, `pcrs[${i}]`, 64)),
  };
}

/**
 * Decodes Azure evidence JSON (bytes of UTF-8 text) in any of the shapes
 * above. Unknown keys are refused, so a misspelt field cannot go unread.
 */
export function parseAzureEvidence(bytes: Uint8Array): AzureEvidence {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', 'Azure evidence must be bytes (the JSON document)');
  if (bytes.length > MAX_AZURE_EVIDENCE_BYTES) throw parseError(`${bytes.length} bytes, limit ${MAX_AZURE_EVIDENCE_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'Azure evidence is not JSON (expected the trustee shape {tpm_quote, hcl_report, vcek|td_quote})', { cause });
  }
  if (!isObject(json)) throw parseError('must be a JSON object');
  for (const key of Object.keys(json)) {
    if (!['version', 'quote', 'tpm_quote', 'report', 'hcl_report', 'vcek', 'td_quote'].includes(key)) throw parseError(`unknown key "${key.slice(0, 40)}"`);
  }
  const version = json['version'] ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0 || version > 2) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `Azure evidence: version ${String(version)} is not 0, 1 or 2`);
  const quote = json['tpm_quote'] ?? json['quote'];
  const report = json['hcl_report'] ?? json['report'];
  if (quote === undefined || report === undefined) throw parseError('needs "tpm_quote" (or "quote") and "hcl_report" (or "report")');
  const vcek = json['vcek'];
  let vcekValue: Uint8Array | string | undefined;
  if (typeof vcek === 'string' && vcek.includes('-----BEGIN')) vcekValue = vcek;
  else if (vcek !== undefined) vcekValue = base64Bytes(vcek, 'vcek', 8192);
  return {
    version,
    tpmQuote: parseQuote(quote),
    hclReport: base64Bytes(report, 'hcl_report', 8192),
    ...(vcekValue === undefined ? {} : { vcek: vcekValue }),
    ...(json['td_quote'] === undefined ? {} : { tdQuote: base64Bytes(json['td_quote'], 'td_quote', 16 * 1024) }),
  };
}

/** Which Azure platform a piece of evidence is for, from its HCL report type (certificates carry one tag for both). */
export function azurePlatformOf(bytes: Uint8Array): AzurePlatform {
  return parseHclReport(parseAzureEvidence(bytes).hclReport).platform === 'sev-snp' ? 'azure-sev-snp' : 'azure-tdx';
}

function fail(ctx: VerifyContext, step: string, code: ConstructorParameters<typeof VerifyError>[0], detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SNP: the VCEK from the evidence, the chain from the caller (either may also hold the other). */
function snpEndorsements(evidence: AzureEvidence, given: SnpEndorsements | undefined, ctx: VerifyContext): SnpEndorsements {
  if (evidence.vcek !== undefined) {
    const givenChain: readonly CertificateInput[] = given?.chain === undefined ? [] : Array.isArray(given.chain) ? given.chain : [given.chain as CertificateInput];
    // What the caller gave (usually the KDS ASK/ARK bundle) is all chain here; a repeated VCEK is dropped by fingerprint.
    return { vek: evidence.vcek, chain: given === undefined ? [] : [given.vek, ...givenChain] };
  }
  if (given === undefined) {
    fail(ctx, 'azure.endorsements', 'EG_VERIFY_ENDORSEMENTS_MISSING', 'the Azure SEV-SNP evidence carries no VCEK and no endorsements were given (the VCEK comes from IMDS /metadata/THIM/amd/certification; the ASK/ARK from AMD KDS)');
  }
  return given;
}

/**
 * Verifies Azure vTPM evidence of `platform` at ctx.at. Steps, in order
 * (each a transcript step; the first failure throws):
 *  1. `azure.parse`: the JSON and the HCL report; the report type must match `platform`.
 *  2. `azure.tpm.quote`: the quote's signature by HCLAkPub, its PCR values against the quoted digest.
 *  3. `azure.hcl.report-data`: SHA-256 of the variable data equals the hardware report_data[0:32].
 *  4. the hardware: SNP report with the VCEK chain (and VMPL 0, the paravisor's), or the TD quote with DCAP.
 * The nonce (quote extraData) becomes `reportData`; appraisal compares it.
 */
export function verifyAzureEvidence(platform: AzurePlatform, bytes: Uint8Array, sources: AzureVerifySources, ctx: VerifyContext): VerifiedEvidence {
  const evidence = recorded(ctx, 'azure.parse', () => parseAzureEvidence(bytes));
  const hcl: HclReport = recorded(ctx, 'azure.parse', () => parseHclReport(evidence.hclReport));
  const expected = platform === 'azure-sev-snp' ? 'sev-snp' : 'tdx';
  if (hcl.platform !== expected) {
    fail(ctx, 'azure.parse', 'EG_VERIFY_USAGE', `the HCL report holds a ${hcl.platform.toUpperCase()} report, not ${expected.toUpperCase()}: use --platform azure-${hcl.platform}`);
  }
  if (expected === 'tdx' && evidence.tdQuote === undefined) fail(ctx, 'azure.parse', 'EG_VERIFY_PARSE', 'Azure TDX evidence needs "td_quote": the HCL report holds only a TDREPORT, which cannot be verified off the machine');
  ctx.transcript.pass('azure.parse', `trustee v${evidence.version} evidence: ${hcl.platform.toUpperCase()} HCL report, ${hcl.variableData.length}-byte variable data, TPM quote over ${evidence.tpmQuote.pcrs.length} PCRs`);

  const quote = recorded(ctx, 'azure.tpm.quote', () => checkTpmQuote(evidence.tpmQuote, hcl.akPub));
  ctx.transcript.pass('azure.tpm.quote', `signed by HCLAkPub (RSASSA SHA-256); PCRs ${quote.info.pcrIndexes.join(',')} hash to the quoted digest`);

  let hardware: VerifiedEvidence;
  if (expected === 'sev-snp') {
    const snpReportData = hcl.hardwareReport.subarray(0x50, 0x50 + 32);
    if (!sameBytes(snpReportData, hcl.variableDataSha256)) {
      fail(ctx, 'azure.hcl.report-data', 'EG_VERIFY_BINDING', 'SHA-256 of the HCL variable data (which holds HCLAkPub) is not the SNP report_data: the AK is not the one the hardware report vouches for');
    }
    ctx.transcript.pass('azure.hcl.report-data', 'SNP report_data[0:32] = SHA-256(HCL variable data holding HCLAkPub)');
    const endorsements = snpEndorsements(evidence, sources.endorsements, ctx);
    hardware = verifySnpReport(
      hcl.hardwareReport,
      endorsements,
      { ...(sources.product === undefined ? {} : { product: sources.product }), ...(sources.chainCache === undefined ? {} : { chainCache: sources.chainCache }) },
      ctx,
    );
    const vmpl = hardware.claims['vmpl'];
    // A report from a less privileged VMPL could be the guest's own, with any report_data it likes.
    if (vmpl !== SNP_VMPL_OF_PARAVISOR) fail(ctx, 'azure.snp.vmpl', 'EG_VERIFY_BINDING', `the SNP report was requested at VMPL ${String(vmpl)}, not by the paravisor at VMPL 0`);
    ctx.transcript.pass('azure.snp.vmpl', 'the SNP report was requested at VMPL 0 (the paravisor)');
  } else {
    hardware = verifyIntelQuote(evidence.tdQuote!, sources.collateral, ctx);
    if (hardware.platform !== 'tdx') fail(ctx, 'azure.tdx.quote', 'EG_VERIFY_USAGE', `"td_quote" is an ${hardware.platform.toUpperCase()} quote, not TDX`);
    const reportData = Buffer.from(hardware.reportData, 'hex').subarray(0, 32);
    if (!sameBytes(reportData, hcl.variableDataSha256)) {
      fail(ctx, 'azure.hcl.report-data', 'EG_VERIFY_BINDING', 'SHA-256 of the HCL variable data (which holds HCLAkPub) is not the TD quote report_data: the AK is not the one the hardware report vouches for');
    }
    ctx.transcript.pass('azure.hcl.report-data', 'TD quote report_data[0:32] = SHA-256(HCL variable data holding HCLAkPub)');
  }

  const claims: AzureClaims = {
    hardware: hardware.claims,
    hcl: {
      variableDataSha256: toHex(hcl.variableDataSha256),
      akPub: Object.freeze({ ...hcl.akJwk }),
      ...(hcl.userData === undefined ? {} : { userData: hcl.userData }),
      ...(hcl.vmConfiguration === undefined ? {} : { vmConfiguration: hcl.vmConfiguration }),
    },
    tpm: {
      nonce: toHex(quote.info.extraData),
      pcrs: quote.pcrs,
      pcrDigest: toHex(quote.info.pcrDigest),
      clock: quote.info.clock.toString(),
      resetCount: quote.info.resetCount,
      restartCount: quote.info.restartCount,
      firmwareVersion: quote.info.firmwareVersion.toString(16),
    },
  };
  return Object.freeze({
    platform,
    // The paravisor's measurement: the guest OS is only in the PCRs.
    measurement: hardware.measurement,
    reportData: claims.tpm.nonce,
    debug: hardware.debug,
    tcb: hardware.tcb,
    claims: Object.freeze(claims) as unknown as Readonly<Record<string, unknown>>,
  });
}

/** The hardware part of verified Azure evidence, shaped as its own platform's evidence (for that platform's appraisal). */
export function azureHardwareEvidence(evidence: VerifiedEvidence): VerifiedEvidence {
  const claims = evidence.claims as unknown as AzureClaims;
  return {
    platform: evidence.platform === 'azure-sev-snp' ? 'sev-snp' : 'tdx',
    measurement: evidence.measurement,
    // The hardware report_data is the variable-data hash, checked during verification; appraisal never reads it.
    reportData: '',
    debug: evidence.debug,
    tcb: evidence.tcb,
    claims: claims.hardware,
  };
}
