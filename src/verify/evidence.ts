/**
 * Raw evidence verification: dispatch to the platform verifier (parse →
 * verify), then appraisal (common checks, then the platform's own), and a
 * Verdict with the transcript either way.
 *
 * The dispatch and appraisal helpers are shared with certificate.ts, which
 * verifies the same evidence after taking it out of a certificate; only
 * `verifyEvidence` is public API.
 */
import { applyAppraisalPolicy, type AppraisalPolicy } from './appraisal-policy.js';
import { VerifyError } from '../errors.js';
import { appraiseAzure, azureHardwareEvidence, verifyAzureEvidence } from './azure/index.js';
import { appraiseGpu, verifyGpuEvidence } from './nvidia/index.js';
import { appraiseIntel, verifyIntelQuote, type IntelCollateral, type IntelReferenceValues } from './intel/index.js';
import { appraiseNitro, verifyNitroDocument, type NitroReferenceValues } from './nitro/index.js';
import { parseReferenceValues, type ReferenceValues } from './reference-values.js';
import {
  SNP_PRODUCTS,
  appraiseSnp,
  verifySnpReport,
  type SnpChainCache,
  type SnpEndorsements,
  type SnpProduct,
  type SnpReferenceValues,
} from './sev-snp/index.js';
import { verifySimulatedEvidence } from './simulated/index.js';
import { Transcript, type Platform, type VerifiedEvidence, type VerifyContext } from './types.js';
import { failureVerdict, successVerdict, type Verdict } from './verdict.js';

/** Every platform name the verifier accepts. */
export const PLATFORMS: readonly Platform[] = ['sev-snp', 'tdx', 'sgx', 'nitro', 'azure-sev-snp', 'azure-tdx', 'nvidia-gpu', 'simulated'];

/** What the platform verifiers may need besides the evidence bytes. */
export interface EvidenceSources {
  /** SEV-SNP: the VCEK/VLEK and its ASK/ASVK + ARK chain. */
  readonly endorsements?: SnpEndorsements;
  /** TDX/SGX: TCB info, QE identity and CRLs (either shape); without it the TCB status is unknown. */
  readonly collateral?: IntelCollateral;
  /** SEV-SNP: the product, needed for v2 reports only to skip trying every root. */
  readonly product?: SnpProduct;
  /** SEV-SNP: remembers verified chain links across calls (the dispatcher keeps one). */
  readonly chainCache?: SnpChainCache;
  /**
   * TDX/SGX: accept non-zero bytes after the quote. They are covered by no
   * signature, so the default refuses them; some tools append test data.
   */
  readonly allowTrailingData?: boolean;
  /**
   * Nitro: trust anchors (SHA-256 of the root's DER → name) in place of the
   * pinned AWS Nitro Enclaves Root-G1. For tests and private test roots only;
   * documents from real enclaves always chain to Root-G1.
   */
  readonly nitroRoots?: ReadonlyMap<string, string>;
  /** NVIDIA GPUs: trust anchors in place of the pinned NVIDIA Device Identity CA; tests only. */
  readonly nvidiaRoots?: ReadonlyMap<string, string>;
}

/** Switches that relax the safe defaults; each also exists in the reference values. */
export interface AppraisalFlags {
  /** Accept simulated evidence (development only). */
  readonly allowSimulated?: boolean;
  /** Accept debug TEEs on every platform. */
  readonly allowDebug?: boolean;
  /** A Rego appraisal policy that must also allow the verified result (appraisal-policy.ts). */
  readonly appraisalPolicy?: AppraisalPolicy;
}

/** Input of {@link verifyEvidence}. */
export interface VerifyEvidenceInput extends EvidenceSources, AppraisalFlags {
  readonly platform: Platform;
  /** The raw evidence: SNP report, Intel quote, Nitro COSE_Sign1, simulated evidence. */
  readonly evidence: Uint8Array;
  /** Validation instant; the library never reads the clock. */
  readonly at: Date;
  /** What to accept (JSON document or parsed); absent means the safe defaults. */
  readonly referenceValues?: ReferenceValues;
}

/** Where the expected nonce is compared. */
export type NonceSource =
  /** The evidence's own nonce: Nitro's nonce field, elsewhere the report data (nonce, zero-padded to 64 bytes). */
  | { readonly kind: 'native' }
  /** The RA-TLS claims' `nonce`. */
  | { readonly kind: 'claims'; readonly nonce?: Uint8Array }
  /** The format carries no nonce; `why` says which format. */
  | { readonly kind: 'none'; readonly why: string };

function usage(ctx: VerifyContext, detail: string): never {
  ctx.transcript.fail('input', 'EG_VERIFY_USAGE', detail);
  throw new VerifyError('EG_VERIFY_USAGE', detail);
}

/** Checks the arguments every entry point shares; the caller's mistakes are EG_VERIFY_USAGE. */
export function checkAt(at: unknown, ctx: VerifyContext): Date {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) usage(ctx, 'at must be a valid Date: the validation instant is always explicit');
  return at;
}

/**
 * Runs the platform verifier for `platform` and returns what it proved.
 * `tdx` and `sgx` both go to the Intel verifier; the quote decides which it
 * is, and a quote for the other one is the caller's mistake.
 */
export function verifyPlatformEvidence(
  platform: Platform,
  bytes: Uint8Array,
  sources: EvidenceSources & AppraisalFlags,
  ctx: VerifyContext,
): VerifiedEvidence {
  switch (platform) {
    case 'sev-snp': {
      if (sources.endorsements === undefined) {
        const detail = 'SEV-SNP evidence needs its VCEK/VLEK and the ASK/ARK chain (stapled in the certificate or given as endorsements)';
        ctx.transcript.fail('snp.endorsements', 'EG_VERIFY_ENDORSEMENTS_MISSING', detail);
        throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', detail);
      }
      if (sources.product !== undefined && !(SNP_PRODUCTS as readonly string[]).includes(sources.product)) {
        usage(ctx, `product must be one of ${SNP_PRODUCTS.join(', ')}`);
      }
      return verifySnpReport(
        bytes,
        sources.endorsements,
        { ...(sources.product === undefined ? {} : { product: sources.product }), ...(sources.chainCache === undefined ? {} : { chainCache: sources.chainCache }) },
        ctx,
      );
    }
    case 'tdx':
    case 'sgx': {
      const evidence = verifyIntelQuote(bytes, sources.collateral, ctx, { allowTrailingData: sources.allowTrailingData === true });
      if (evidence.platform !== platform) {
        usage(ctx, `the evidence is a ${evidence.platform.toUpperCase()} quote, not ${platform.toUpperCase()}`);
      }
      return evidence;
    }
    case 'nitro':
      return verifyNitroDocument(bytes, ctx, sources.nitroRoots === undefined ? {} : { roots: sources.nitroRoots });
    case 'azure-sev-snp':
    case 'azure-tdx':
      return verifyAzureEvidence(
        platform,
        bytes,
        {
          ...(sources.endorsements === undefined ? {} : { endorsements: sources.endorsements }),
          ...(sources.product === undefined ? {} : { product: sources.product }),
          ...(sources.chainCache === undefined ? {} : { chainCache: sources.chainCache }),
          ...(sources.collateral === undefined ? {} : { collateral: sources.collateral }),
        },
        ctx,
      );
    case 'nvidia-gpu':
      return verifyGpuEvidence(bytes, ctx, sources.nvidiaRoots === undefined ? {} : { roots: sources.nvidiaRoots });
    case 'simulated':
      return verifySimulatedEvidence(bytes, ctx, { allowSimulated: sources.allowSimulated === true });
    default:
      return usage(ctx, `platform must be one of ${PLATFORMS.join(', ')}, got ${JSON.stringify(platform)}`);
  }
}

function fail(ctx: VerifyContext, step: string, code: 'EG_VERIFY_DEBUG' | 'EG_VERIFY_REFERENCE_VALUES' | 'EG_VERIFY_BINDING', detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

/** allowDebug for one platform: an explicit flag wins, then the section, then the common key. */
function effectiveAllowDebug(flags: AppraisalFlags, rv: ReferenceValues, section: { readonly allowDebug?: boolean } | undefined): boolean {
  if (flags.allowDebug === true) return true;
  return section?.allowDebug ?? rv.allowDebug ?? false;
}

function checkNonce(evidence: VerifiedEvidence, expected: string | undefined, source: NonceSource, ctx: VerifyContext): void {
  if (expected === undefined) return;
  if (source.kind === 'none') fail(ctx, 'appraise.nonce', 'EG_VERIFY_BINDING', `an expected nonce is set but ${source.why} carries no nonce`);
  if (source.kind === 'claims') {
    const actual = source.nonce === undefined ? undefined : Buffer.from(source.nonce).toString('hex');
    if (actual === undefined) fail(ctx, 'appraise.nonce', 'EG_VERIFY_BINDING', `the claims carry no nonce, expected ${expected}`);
    if (actual !== expected) fail(ctx, 'appraise.nonce', 'EG_VERIFY_BINDING', `the claims' nonce ${actual} is not the expected ${expected}`);
    ctx.transcript.pass('appraise.nonce', 'the claims carry the expected nonce');
    return;
  }
  // Nitro documents have a nonce field of their own; appraiseNitro compares it.
  if (evidence.platform === 'nitro') return;
  // On Azure the TPM quote's qualifying data, on GPUs the SPDM request nonce, exactly.
  if (evidence.platform === 'azure-sev-snp' || evidence.platform === 'azure-tdx' || evidence.platform === 'nvidia-gpu') {
    const what = evidence.platform === 'nvidia-gpu' ? 'GPU report' : 'TPM quote';
    if (evidence.reportData.toLowerCase() !== expected) fail(ctx, 'appraise.nonce', 'EG_VERIFY_BINDING', `the ${what}'s nonce ${evidence.reportData} is not the expected ${expected}`);
    ctx.transcript.pass('appraise.nonce', `the ${what}'s nonce is the expected nonce`);
    return;
  }
  // Everywhere else the nonce is the report data, zero-padded to its 64 bytes.
  const padded = expected.padEnd(128, '0');
  if (expected.length > 128 || evidence.reportData.toLowerCase() !== padded) {
    fail(ctx, 'appraise.nonce', 'EG_VERIFY_BINDING', `report data ${evidence.reportData} is not the expected nonce ${expected} followed by zero bytes`);
  }
  ctx.transcript.pass('appraise.nonce', 'report data is the expected nonce');
}

/**
 * Appraises verified evidence: common checks (debug, measurement allowlist,
 * nonce), then the platform's own appraisal with its section of the
 * reference values, into which the common switches are folded. Each check is
 * a transcript step; the first failure throws.
 */
export function appraiseEvidence(evidence: VerifiedEvidence, rv: ReferenceValues, flags: AppraisalFlags, nonce: NonceSource, ctx: VerifyContext): void {
  const platform = evidence.platform;
  const section = platform === 'simulated' || platform === 'nvidia-gpu' ? undefined : platform === 'azure-sev-snp' ? rv['sev-snp'] : platform === 'azure-tdx' ? rv.tdx : rv[platform];
  const allowDebug = effectiveAllowDebug(flags, rv, section);

  if (evidence.debug && !allowDebug) fail(ctx, 'appraise.debug', 'EG_VERIFY_DEBUG', `the ${platform} TEE runs in debug mode and debug is not allowed`);
  ctx.transcript.pass('appraise.debug', evidence.debug ? 'WARNING: debug TEE accepted because allowDebug is set' : 'not a debug TEE');

  if (rv.measurements !== undefined) {
    const actual = evidence.measurement.toLowerCase();
    if (!rv.measurements.includes(actual)) {
      fail(ctx, 'appraise.measurement', 'EG_VERIFY_REFERENCE_VALUES', `measurement ${actual} is not among the ${rv.measurements.length} accepted`);
    }
    ctx.transcript.pass('appraise.measurement', 'measurement is in the allowlist');
  }

  checkNonce(evidence, rv.expectedNonce, nonce, ctx);

  switch (platform) {
    case 'sev-snp': {
      const values: SnpReferenceValues = { ...(rv['sev-snp'] ?? {}), allowDebug };
      appraiseSnp(evidence, values, ctx);
      return;
    }
    case 'azure-sev-snp': {
      appraiseSnp(azureHardwareEvidence(evidence), { ...(rv['sev-snp'] ?? {}), allowDebug }, ctx);
      appraiseAzure(evidence, rv.azure ?? {}, ctx);
      return;
    }
    case 'azure-tdx': {
      const own = rv.tdx ?? {};
      const anyMeasurement = own.allowAnyMeasurement ?? (rv.measurements !== undefined ? true : undefined);
      appraiseIntel(azureHardwareEvidence(evidence), { ...own, allowDebug, ...(anyMeasurement === undefined ? {} : { allowAnyMeasurement: anyMeasurement }) }, ctx);
      appraiseAzure(evidence, rv.azure ?? {}, ctx);
      return;
    }
    case 'tdx':
    case 'sgx': {
      const own = rv[platform] ?? {};
      // A common allowlist already pins the measurement, which is what the
      // Intel verifier's "no allowlist given" guard asks for.
      const anyMeasurement = own.allowAnyMeasurement ?? (rv.measurements !== undefined ? true : undefined);
      const values: IntelReferenceValues = { ...own, allowDebug, ...(anyMeasurement === undefined ? {} : { allowAnyMeasurement: anyMeasurement }) };
      appraiseIntel(evidence, values, ctx);
      return;
    }
    case 'nitro': {
      const own = rv.nitro ?? {};
      const expectedNonce = own.expectedNonce ?? (nonce.kind === 'native' ? rv.expectedNonce : undefined);
      const values: NitroReferenceValues = { ...own, allowDebug, ...(expectedNonce === undefined ? {} : { expectedNonce }) };
      appraiseNitro(evidence, values, ctx);
      return;
    }
    case 'nvidia-gpu':
      appraiseGpu(evidence, rv.nvidia ?? {}, ctx);
      return;
    case 'simulated':
      return;
  }
}

function earliest(dates: readonly (string | undefined)[]): Date | undefined {
  let min: Date | undefined;
  for (const text of dates) {
    if (text === undefined) continue;
    const d = new Date(text);
    if (!Number.isNaN(d.getTime()) && (min === undefined || d < min)) min = d;
  }
  return min;
}

function field(record: Readonly<Record<string, unknown>>, ...path: string[]): string | undefined {
  let value: unknown = record;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === 'string' ? value : undefined;
}

/**
 * The earliest expiry among what the evidence relied on: the SNP VEK, the
 * Intel PCK and TCB info, the Nitro signing certificate. After it the same
 * evidence would no longer verify, so a cached verdict must not outlive it.
 */
export function evidenceExpiry(evidence: VerifiedEvidence): Date | undefined {
  const { claims, tcb } = evidence;
  return earliest([
    field(claims, 'vek', 'notAfter'),
    field(claims, 'pck', 'notAfter'),
    field(tcb, 'tcbInfoNextUpdate'),
    field(claims, 'certificateNotAfter'),
  ]);
}

/**
 * Verifies raw evidence of a known platform at `input.at` and appraises it
 * against the reference values. Never throws: every failure, including
 * invalid arguments (EG_VERIFY_USAGE), is a verdict with a code.
 *
 * @example
 * const verdict = verifyEvidence({ platform: 'nitro', evidence: doc, at: new Date(), referenceValues: { nitro: { pcrs: { 0: [pcr0] } } } });
 * if (!verdict.ok) throw new Error(`${verdict.code}: ${verdict.message}`);
 */
export function verifyEvidence(input: VerifyEvidenceInput): Verdict {
  const transcript = new Transcript();
  let platform: Platform | undefined;
  let verified: VerifiedEvidence | undefined;
  try {
    if (typeof input !== 'object' || input === null) throw new VerifyError('EG_VERIFY_USAGE', 'verifyEvidence needs an options object');
    const at = checkAt(input.at, { at: new Date(0), transcript });
    const ctx: VerifyContext = { at, transcript };
    if (!PLATFORMS.includes(input.platform)) usage(ctx, `platform must be one of ${PLATFORMS.join(', ')}, got ${JSON.stringify(input.platform)}`);
    platform = input.platform;
    if (!(input.evidence instanceof Uint8Array)) usage(ctx, 'evidence must be bytes (Uint8Array)');
    const rv = parseReferenceValues(input.referenceValues ?? {});
    const flags: AppraisalFlags = {
      allowSimulated: input.allowSimulated === true || rv.allowSimulated === true,
      allowDebug: input.allowDebug === true,
    };
    ctx.transcript.pass('input', `${input.platform} evidence, ${input.evidence.length} bytes, checked at ${at.toISOString()}`);
    const evidence = verifyPlatformEvidence(input.platform, input.evidence, { ...input, ...flags }, ctx);
    verified = evidence;
    appraiseEvidence(evidence, rv, flags, { kind: 'native' }, ctx);
    const validUntil = evidenceExpiry(evidence);
    return applyAppraisalPolicy(successVerdict(evidence, transcript, validUntil === undefined ? {} : { validUntil }), input.appraisalPolicy, transcript);
  } catch (error) {
    return failureVerdict(error, transcript, platform, verified);
  }
}
