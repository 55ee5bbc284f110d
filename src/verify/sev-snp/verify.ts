/**
 * SEV-SNP verification: the report's ECDSA P-384 signature, the VEK → ASK/ASVK
 * → ARK chain to a pinned root, and the binding between the report and its
 * endorsement (signing-key kind, product, reported TCB, chip ID).
 *
 * Order matters and is fixed: parse → product candidates → chain (signatures,
 * then validity at ctx.at) → VEK extensions and roles → report signature →
 * TCB and chip binding. Everything after the report signature reads
 * authenticated bytes, so a tampered report fails as a signature failure
 * instead of as whatever field it happened to touch.
 */
import { X509Certificate, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { VerifyError, type ErrorCode } from '../../errors.js';
import { recorded, type VerifiedEvidence, type VerifyContext } from '../types.js';
import { checkValidity, fingerprint256, parseCertificate, parsePemBundle } from '../x509.js';
import { checkAmdSignatureAlgorithm, parseVekExtensions, type SnpVekExtensions, type SnpVekKind } from './certs.js';
import {
  SNP_PRODUCTS,
  SNP_SIGNED_LENGTH,
  decodeSnpTcb,
  parseSnpReport,
  snpProductFromCpuid,
  type SnpCpuid,
  type SnpPolicy,
  type SnpProduct,
  type SnpReport,
  type SnpTcb,
} from './parse.js';
import { pinnedArkByFingerprint, productDisplayName, type PinnedArk } from './roots.js';
import { toHex as hex } from '../bytes.js';

/** A certificate as callers hold it: DER bytes, or PEM as text or bytes. */
export type CertificateInput = Uint8Array | string;

/** The endorsements that vouch for a report's signing key. */
export interface SnpEndorsements {
  /**
   * The VCEK or VLEK (DER or PEM). A PEM bundle whose first certificate is
   * the VEK (Azure's and KDS-proxy `vcek.pem` layouts) is accepted; the rest
   * of the bundle joins `chain`.
   */
  readonly vek: CertificateInput;
  /**
   * ASK (for a VCEK) or ASVK (for a VLEK) and the ARK, in any order: a PEM
   * bundle as served by KDS `cert_chain`, or a list of single certificates.
   */
  readonly chain?: CertificateInput | readonly CertificateInput[];
}

/** Options of {@link verifySnpReport} and {@link verifySnpVek}. */
export interface SnpVerifyOptions {
  /**
   * The product the caller expects. Needed for v2 reports to skip trying
   * every pinned root; for v3+ reports it must agree with the CPUID fields.
   */
  readonly product?: SnpProduct;
  /** Remembers verified certificate signatures across calls; omit to verify every time. */
  readonly chainCache?: SnpChainCache;
}

/**
 * Remembers which (certificate, issuer) links already verified (AMD signature
 * algorithm and RSA-PSS signature), keyed by the SHA-256 of both DER
 * encodings, so a client verifying many reports from the same chips skips the
 * three RSA-4096 checks. Only successes are stored, and validity at ctx.at,
 * the VEK extensions and the report signature are still checked on every call. The caller owns the
 * instance (there is no module-level cache); `clear()` or dropping it disables it.
 */
export class SnpChainCache {
  readonly #links = new Map<string, true>();
  readonly #maxEntries: number;

  /** @param maxEntries oldest links are evicted beyond this many (default 256). */
  constructor(maxEntries = 256) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new VerifyError('EG_VERIFY_USAGE', `SnpChainCache maxEntries must be a positive integer, got ${String(maxEntries)}`);
    }
    this.#maxEntries = maxEntries;
  }

  /** Number of cached links. */
  get size(): number {
    return this.#links.size;
  }

  /** True when this signature link was verified before. */
  has(subjectSha256: string, issuerSha256: string): boolean {
    const key = `${subjectSha256}<${issuerSha256}`;
    if (!this.#links.has(key)) return false;
    // Refresh recency so hot chains survive eviction.
    this.#links.delete(key);
    this.#links.set(key, true);
    return true;
  }

  /** Records a verified link. */
  add(subjectSha256: string, issuerSha256: string): void {
    const key = `${subjectSha256}<${issuerSha256}`;
    this.#links.delete(key);
    this.#links.set(key, true);
    while (this.#links.size > this.#maxEntries) {
      const oldest = this.#links.keys().next().value;
      if (oldest === undefined) break;
      this.#links.delete(oldest);
    }
  }

  /** Forgets every link. */
  clear(): void {
    this.#links.clear();
  }
}

/** What a verified VEK chain establishes. */
export interface SnpVekInfo {
  readonly product: SnpProduct;
  readonly kind: SnpVekKind;
  readonly extensions: SnpVekExtensions;
  /** The VEK's public key, for the report signature. */
  readonly publicKey: KeyObject;
  /** SHA-256 of the VEK, intermediate and ARK DER. */
  readonly vekSha256: string;
  readonly intermediateSha256: string;
  readonly arkSha256: string;
  /** Subject CN of the intermediate: SEV-<Product> (ASK) or SEV-VLEK-<Product> (ASVK). */
  readonly intermediateName: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

/** TCB part of the SNP VerifiedEvidence. */
export type SnpTcbClaims = {
  readonly product: SnpProduct;
  readonly vekKind: SnpVekKind;
  readonly reported: SnpTcb;
  readonly current: SnpTcb;
  readonly committed: SnpTcb;
  readonly launch: SnpTcb;
};

/** Claims part of the SNP VerifiedEvidence: every other report field, JSON-safe. */
export type SnpClaims = {
  readonly reportVersion: number;
  readonly guestSvn: number;
  /** The decoded guest policy, its raw value as hex so the claims stay JSON-safe. */
  readonly policy: Omit<SnpPolicy, 'raw'> & { readonly raw: string };
  readonly vmpl: number;
  readonly familyId: string;
  readonly imageId: string;
  readonly hostData: string;
  readonly idKeyDigest: string;
  readonly authorKeyDigest: string;
  readonly reportId: string;
  readonly reportIdMa: string;
  readonly chipId: string;
  readonly platformInfo: {
    readonly raw: string;
    readonly smtEnabled: boolean;
    readonly tsmeEnabled: boolean;
    readonly eccEnabled: boolean;
    readonly raplDisabled: boolean;
    readonly ciphertextHidingEnabled: boolean;
    readonly aliasCheckComplete: boolean;
    readonly tioEnabled: boolean;
  };
  readonly signerInfo: { readonly authorKeyEn: boolean; readonly maskChipKey: boolean; readonly signingKey: SnpVekKind };
  /** "major.minor.build" of the running firmware. */
  readonly currentFirmware: string;
  readonly committedFirmware: string;
  readonly cpuid: SnpCpuid | null;
  readonly launchMitVector: string | null;
  readonly currentMitVector: string | null;
  readonly vek: {
    readonly productName: string;
    readonly hwId: string | null;
    readonly cspId: string | null;
    readonly sha256: string;
    readonly notAfter: string;
  };
};

/** The SEV-SNP shape of VerifiedEvidence. */
export interface SnpVerifiedEvidence extends VerifiedEvidence {
  readonly platform: 'sev-snp';
  readonly tcb: SnpTcbClaims;
  readonly claims: SnpClaims;
}

/**
 * Enough for every AMD bundle at once (6 ASK/ASVK + 3 ARK), so a v2 report
 * without a product hint can be checked against all of them; more than that
 * would only make the candidate search a lever for wasting CPU.
 */
const MAX_CHAIN_CERTIFICATES = 12;


function fail(ctx: VerifyContext, step: string, code: ErrorCode & `EG_VERIFY_${string}`, detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}


/** The CN of a distinguished name as node prints it (one RDN per line). */
function cnOf(dn: string): string {
  const line = dn.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? dn.replace(/\n/g, ', ') : line.slice(3);
}

function commonName(cert: X509Certificate): string {
  return cnOf(cert.subject);
}

/** DER certificates start with a SEQUENCE tag; anything else is read as PEM text. */
function isPemBytes(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] !== 0x30;
}

function toCertificates(input: CertificateInput, what: string): X509Certificate[] {
  if (typeof input === 'string') return parsePemBundle(input, what);
  if (!(input instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', `${what} must be DER bytes or PEM text`);
  if (isPemBytes(input)) return parsePemBundle(Buffer.from(input).toString('latin1'), what);
  return [parseCertificate(input, what)];
}

interface Pool {
  readonly vek: X509Certificate;
  readonly arks: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
}

function endorsementPool(endorsements: SnpEndorsements, ctx: VerifyContext): Pool {
  return recorded(ctx, 'snp.endorsements', () => {
    if (typeof endorsements !== 'object' || endorsements === null || endorsements.vek === undefined) {
      throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', 'SNP endorsements must include the VCEK or VLEK certificate (vek)');
    }
    const [vek, ...rest] = toCertificates(endorsements.vek, 'SNP VEK');
    const chainInputs: readonly CertificateInput[] =
      endorsements.chain === undefined ? [] : Array.isArray(endorsements.chain) ? endorsements.chain : [endorsements.chain as CertificateInput];
    const others = [...rest, ...chainInputs.flatMap((input, i) => toCertificates(input, `SNP chain[${i}]`))];
    const seen = new Set([fingerprint256(vek!)]);
    const unique: X509Certificate[] = [];
    for (const cert of others) {
      const fp = fingerprint256(cert);
      if (!seen.has(fp)) {
        seen.add(fp);
        unique.push(cert);
      }
    }
    if (unique.length > MAX_CHAIN_CERTIFICATES) {
      throw new VerifyError('EG_VERIFY_USAGE', `SNP chain holds ${unique.length} certificates; at most ${MAX_CHAIN_CERTIFICATES} are accepted`);
    }
    const selfIssued = (c: X509Certificate): boolean => c.subject === c.issuer;
    const arks = unique.filter(selfIssued);
    const intermediates = unique.filter((c) => !selfIssued(c));
    if (intermediates.length === 0) {
      throw new VerifyError(
        'EG_VERIFY_ENDORSEMENTS_MISSING',
        'SNP chain lacks the ASK (for a VCEK) or ASVK (for a VLEK); pass the KDS cert_chain bundle',
      );
    }
    if (arks.length === 0) {
      throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', 'SNP chain lacks the ARK; pass the KDS cert_chain bundle');
    }
    return { vek: vek!, arks, intermediates };
  });
}

/** True when `issuer` signed `subject` (names, then RSA-PSS signature); successes are cached. */
function linkVerifies(subject: X509Certificate, issuer: X509Certificate, cache: SnpChainCache | undefined): boolean {
  const s = fingerprint256(subject);
  const i = fingerprint256(issuer);
  let ok = false;
  try {
    ok = subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    ok = false;
  }
  if (ok) cache?.add(s, i);
  return ok;
}

/** Checks one candidate chain; returns why it fails, or undefined when every link verifies. */
function chainFailure(
  vek: X509Certificate,
  intermediate: X509Certificate,
  ark: X509Certificate,
  cache: SnpChainCache | undefined,
): string | undefined {
  const links: [X509Certificate, X509Certificate][] = [
    [ark, ark],
    [intermediate, ark],
    [vek, intermediate],
  ];
  for (const [subject, issuer] of links) {
    const name = commonName(subject);
    // A cached link passed this same check on the same DER bytes.
    if (cache?.has(fingerprint256(subject), fingerprint256(issuer))) continue;
    try {
      checkAmdSignatureAlgorithm(subject.raw, name);
    } catch (error) {
      return error instanceof VerifyError ? error.message : `${name}: unreadable signature algorithm`;
    }
    if (!linkVerifies(subject, issuer, cache)) {
      return subject === issuer
        ? `${name} self-signature (RSASSA-PSS SHA-384) does not verify`
        : `${name} is not signed by ${commonName(issuer)}: RSASSA-PSS SHA-384 signature does not verify`;
    }
  }
  return undefined;
}

interface Candidates {
  readonly allowed: readonly SnpProduct[];
  /** Why only these products are acceptable, for error messages. */
  readonly reason: string;
}

function checkProductOption(product: unknown): SnpProduct | undefined {
  if (product === undefined) return undefined;
  if (typeof product !== 'string' || !(SNP_PRODUCTS as readonly string[]).includes(product)) {
    throw new VerifyError('EG_VERIFY_USAGE', `options.product must be one of ${SNP_PRODUCTS.join(', ')}, got ${String(product)}`);
  }
  return product as SnpProduct;
}

/**
 * Verifies a VEK chain and returns what it establishes. `allowed` restricts
 * the acceptable ARKs; `reason` explains the restriction in errors.
 */
function verifyVekChain(
  endorsements: SnpEndorsements,
  candidates: Candidates,
  cache: SnpChainCache | undefined,
  ctx: VerifyContext,
): SnpVekInfo {
  const pool = endorsementPool(endorsements, ctx);
  const { vek } = pool;
  const vekName = commonName(vek);

  const pinned: { cert: X509Certificate; pin: PinnedArk }[] = [];
  for (const cert of pool.arks) {
    const pin = pinnedArkByFingerprint(fingerprint256(cert));
    if (pin !== undefined) pinned.push({ cert, pin });
  }
  if (pinned.length === 0) {
    const given = pool.arks.map((c) => `"${commonName(c)}" (sha256 ${fingerprint256(c)})`).join(', ');
    fail(ctx, 'snp.chain.root', 'EG_VERIFY_CHAIN', `SNP chain: root ${given} is not a pinned AMD ARK`);
  }

  // A VEK names its issuer; only intermediates with that name can have signed it.
  const issuers = pool.intermediates.filter((c) => {
    try {
      return vek.checkIssued(c);
    } catch {
      return false;
    }
  });
  if (issuers.length === 0) {
    const given = pool.intermediates.map(commonName).join(', ');
    fail(
      ctx,
      'snp.chain.intermediate',
      'EG_VERIFY_CHAIN',
      `SNP chain: ${vekName} is issued by "${cnOf(vek.issuer)}", which is not among the given intermediates (${given})`,
    );
  }

  const failures: string[] = [];
  for (const intermediate of issuers) {
    const roots = pinned.filter(({ cert }) => intermediate.checkIssued(cert));
    if (roots.length === 0) failures.push(`${commonName(intermediate)} is not issued by a given pinned ARK`);
    for (const { cert: ark, pin } of roots) {
      if (!candidates.allowed.includes(pin.product)) {
        failures.push(`${candidates.reason}, but ${vekName} chains to ${pin.commonName} (${pin.product})`);
        continue;
      }
      const why = chainFailure(vek, intermediate, ark, cache);
      if (why !== undefined) {
        failures.push(why);
        continue;
      }
      return finishChain(vek, intermediate, ark, pin, ctx);
    }
  }
  return fail(ctx, 'snp.chain', 'EG_VERIFY_CHAIN', `SNP chain does not verify: ${failures.join('; ')}`);
}

/** After the signatures: validity at ctx.at, then the AMD roles the certificates must play. */
function finishChain(vek: X509Certificate, intermediate: X509Certificate, ark: X509Certificate, pin: PinnedArk, ctx: VerifyContext): SnpVekInfo {
  const interName = commonName(intermediate);
  ctx.transcript.pass(
    'snp.chain',
    `${commonName(vek)} → ${interName} → ${pin.commonName} (pinned sha256 ${pin.sha256}); RSASSA-PSS SHA-384 signatures verify`,
  );
  checkValidity(ark, 'snp.ark', ctx);
  checkValidity(intermediate, 'snp.intermediate', ctx);
  checkValidity(vek, 'snp.vek', ctx);
  ctx.transcript.pass('snp.chain.validity', `VEK valid ${new Date(vek.validFrom).toISOString()} → ${new Date(vek.validTo).toISOString()}, checked at ${ctx.at.toISOString()}`);

  const extensions = recorded(ctx, 'snp.vek.extensions', () => parseVekExtensions(vek.raw, commonName(vek)));
  const product = pin.product;
  const display = productDisplayName(product);
  // AMD issues VCEKs from the ASK (SEV-<Product>) and VLEKs from the ASVK
  // (SEV-VLEK-<Product>). Names are signed, so this holds for genuine chains;
  // the check makes a mixed-up bundle fail with a message that says so.
  const expectedIssuer = extensions.kind === 'vcek' ? `SEV-${display}` : `SEV-VLEK-${display}`;
  const expectedSubject = extensions.kind === 'vcek' ? 'SEV-VCEK' : 'SEV-VLEK';
  if (interName !== expectedIssuer || commonName(vek) !== expectedSubject) {
    fail(
      ctx,
      'snp.vek.role',
      'EG_VERIFY_CHAIN',
      `SNP chain: a ${extensions.kind.toUpperCase()} ("${expectedSubject}") must be issued by ${expectedIssuer}; got "${commonName(vek)}" issued by ${interName}`,
    );
  }
  // productName is "Milan-B0", "Milan", "Genoa", "Turin": the family must match the root.
  const namedProduct = extensions.productName.split('-')[0]?.toLowerCase();
  if (namedProduct !== product) {
    fail(ctx, 'snp.vek.product', 'EG_VERIFY_CHAIN', `SNP VEK productName "${extensions.productName}" does not match its root ${pin.commonName}`);
  }
  const key = vek.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    fail(ctx, 'snp.vek.key', 'EG_VERIFY_CHAIN', `SNP VEK key is ${key.asymmetricKeyType ?? 'unknown'}, not ECDSA P-384`);
  }
  const hwOrCsp = extensions.hwId !== undefined ? `hwID ${hex(extensions.hwId)}` : `cspID "${extensions.cspId ?? ''}"`;
  ctx.transcript.pass(
    'snp.vek.extensions',
    `${extensions.kind.toUpperCase()} "${extensions.productName}", ${hwOrCsp}, TCB bl${extensions.tcb.bootloader} tee${extensions.tcb.tee} snp${extensions.tcb.snp} ucode${extensions.tcb.microcode}${extensions.tcb.fmc === undefined ? '' : ` fmc${extensions.tcb.fmc}`}`,
  );
  return {
    product,
    kind: extensions.kind,
    extensions,
    publicKey: key,
    vekSha256: fingerprint256(vek),
    intermediateSha256: fingerprint256(intermediate),
    arkSha256: fingerprint256(ark),
    intermediateName: interName,
    notBefore: new Date(vek.validFrom).toISOString(),
    notAfter: new Date(vek.validTo).toISOString(),
  };
}

/**
 * Verifies a VCEK or VLEK on its own: chain to a pinned ARK, validity at
 * ctx.at, AMD extensions and roles. Useful to vet stapled endorsements before
 * any report arrives (and for Turin, whose only vector is a VCEK).
 */
export function verifySnpVek(endorsements: SnpEndorsements, options: SnpVerifyOptions, ctx: VerifyContext): SnpVekInfo {
  const product = recorded(ctx, 'snp.product', () => checkProductOption(options?.product));
  const candidates: Candidates =
    product === undefined
      ? { allowed: SNP_PRODUCTS, reason: 'any pinned product' }
      : { allowed: [product], reason: `options.product is ${product}` };
  ctx.transcript.pass('snp.product', product === undefined ? 'no product given; the pinned ARK decides' : `caller says ${product}`);
  return verifyVekChain(endorsements, candidates, options?.chainCache, ctx);
}

/** Which products the report may come from, from its CPUID (v3+) and the caller's hint. */
function reportCandidates(report: SnpReport, requested: SnpProduct | undefined, ctx: VerifyContext): Candidates {
  if (report.cpuid !== undefined) {
    const { family, model, stepping } = report.cpuid;
    const fms = `family 0x${family.toString(16)}, model 0x${model.toString(16).padStart(2, '0')}, stepping ${stepping}`;
    const fromCpuid = snpProductFromCpuid(report.cpuid);
    if (fromCpuid === undefined) {
      fail(ctx, 'snp.product', 'EG_VERIFY_UNSUPPORTED', `SNP report CPUID (${fms}) is not a product with a pinned AMD root (Milan, Genoa, Turin)`);
    }
    if (requested !== undefined && requested !== fromCpuid) {
      fail(ctx, 'snp.product', 'EG_VERIFY_CHAIN', `options.product is ${requested} but the report's CPUID (${fms}) identifies ${fromCpuid}`);
    }
    ctx.transcript.pass('snp.product', `CPUID ${fms} → ${fromCpuid}`);
    return { allowed: [fromCpuid], reason: `the report's CPUID (${fms}) identifies ${fromCpuid}` };
  }
  if (requested !== undefined) {
    ctx.transcript.pass('snp.product', `v${report.version} report has no CPUID; caller says ${requested}`);
    return { allowed: [requested], reason: `options.product is ${requested}` };
  }
  ctx.transcript.pass('snp.product', `v${report.version} report has no CPUID and no product was given; the chain's pinned ARK decides`);
  return { allowed: SNP_PRODUCTS, reason: 'any pinned product' };
}

/** r‖s in IEEE P1363 form (big-endian, 48 bytes each) from the report's 72-byte little-endian fields. */
function p1363Signature(report: SnpReport): Buffer | undefined {
  const out = Buffer.alloc(96);
  for (const [le, at] of [
    [report.signatureR, 0],
    [report.signatureS, 48],
  ] as const) {
    // A P-384 scalar has 48 bytes; the 24 high-order bytes of the field must be zero.
    for (let i = 48; i < le.length; i++) if (le[i] !== 0) return undefined;
    for (let i = 0; i < 48; i++) out[at + i] = le[47 - i]!;
  }
  return out;
}

/** True when the report's signature over bytes 0x000–0x29F verifies under `key` (ECDSA P-384, SHA-384). */
export function snpReportSignatureVerifies(report: SnpReport, key: KeyObject): boolean {
  const signature = p1363Signature(report);
  if (signature === undefined) return false;
  try {
    return cryptoVerify('sha384', report.bytes.subarray(0, SNP_SIGNED_LENGTH), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Checks that the report is the one the VEK vouches for: its reported TCB
 * equals the TCB the VEK was derived for (EG_VERIFY_TCB), and for a VCEK its
 * CHIP_ID equals the hwID (EG_VERIFY_BINDING) unless the guest masked it.
 * Exported so tests can drive it with authentic but mismatched pairs.
 */
export function checkSnpReportBinding(report: SnpReport, vek: SnpVekExtensions, product: SnpProduct, ctx: VerifyContext): void {
  const reported = decodeSnpTcb(report.reportedTcb, product);
  const want = vek.tcb;
  const parts: [string, number | undefined, number | undefined][] = [
    ['bootloader', reported.bootloader, want.bootloader],
    ['tee', reported.tee, want.tee],
    ['snp', reported.snp, want.snp],
    ['microcode', reported.microcode, want.microcode],
  ];
  if (product === 'turin') parts.push(['fmc', reported.fmc, want.fmc]);
  const mismatched = parts.filter(([, a, b]) => a !== b).map(([name, a, b]) => `${name} report ${a ?? 'absent'} ≠ VEK ${b ?? 'absent'}`);
  // The reserved SPL bytes are zero in every TCB AMD has defined; a non-zero
  // one means a layout this verifier does not know, so it cannot compare.
  if (/[^0]/.test(reported.reserved)) mismatched.push(`reported_tcb reserved bytes ${reported.reserved} are non-zero`);
  for (const [name, value] of Object.entries(want.reserved)) if (value !== 0) mismatched.push(`VEK ${name} is ${value}, expected 0`);
  if (mismatched.length > 0) {
    fail(ctx, 'snp.tcb.reported', 'EG_VERIFY_TCB', `SNP reported_tcb (0x180) ${reported.raw} does not match the VEK: ${mismatched.join(', ')}`);
  }
  ctx.transcript.pass('snp.tcb.reported', `reported_tcb ${reported.raw} equals the VEK's TCB`);

  if (vek.kind === 'vlek') {
    ctx.transcript.pass('snp.chip-id', 'VLEK: not bound to a chip, CHIP_ID not compared');
    return;
  }
  if (report.signerInfo.maskChipKey) {
    ctx.transcript.pass('snp.chip-id', 'MASK_CHIP_KEY set: CHIP_ID is masked, not compared with the VCEK hwID');
    return;
  }
  const hwId = vek.hwId;
  // Turin hwIDs are the first 8 bytes of CHIP_ID (KDS URLs use the same 8 bytes).
  const chip = hwId !== undefined && hwId.length === 8 ? report.chipId.subarray(0, 8) : report.chipId;
  if (hwId === undefined || Buffer.compare(Buffer.from(chip), Buffer.from(hwId)) !== 0) {
    fail(
      ctx,
      'snp.chip-id',
      'EG_VERIFY_BINDING',
      `SNP CHIP_ID (0x1a0) ${hex(chip)} does not equal the VCEK hwID ${hwId === undefined ? 'absent' : hex(hwId)}`,
    );
  }
  ctx.transcript.pass('snp.chip-id', `CHIP_ID equals the VCEK hwID (${hwId.length} bytes)`);
}

function firmware(v: { major: number; minor: number; build: number }): string {
  return `${v.major}.${v.minor}.${v.build}`;
}

function toEvidence(report: SnpReport, vek: SnpVekInfo): SnpVerifiedEvidence {
  const { product } = vek;
  const p = report.policy;
  const pi = report.platformInfo;
  return {
    platform: 'sev-snp',
    measurement: hex(report.measurement),
    reportData: hex(report.reportData),
    debug: p.debug,
    tcb: {
      product,
      vekKind: vek.kind,
      reported: decodeSnpTcb(report.reportedTcb, product),
      current: decodeSnpTcb(report.currentTcb, product),
      committed: decodeSnpTcb(report.committedTcb, product),
      launch: decodeSnpTcb(report.launchTcb, product),
    },
    claims: {
      reportVersion: report.version,
      guestSvn: report.guestSvn,
      policy: {
        raw: `0x${p.raw.toString(16)}`,
        abiMajor: p.abiMajor,
        abiMinor: p.abiMinor,
        smt: p.smt,
        migrateMa: p.migrateMa,
        debug: p.debug,
        singleSocket: p.singleSocket,
        cxlAllowed: p.cxlAllowed,
        memAes256Xts: p.memAes256Xts,
        raplDis: p.raplDis,
        ciphertextHiding: p.ciphertextHiding,
        pageSwapDisable: p.pageSwapDisable,
      },
      vmpl: report.vmpl,
      familyId: hex(report.familyId),
      imageId: hex(report.imageId),
      hostData: hex(report.hostData),
      idKeyDigest: hex(report.idKeyDigest),
      authorKeyDigest: hex(report.authorKeyDigest),
      reportId: hex(report.reportId),
      reportIdMa: hex(report.reportIdMa),
      chipId: hex(report.chipId),
      platformInfo: {
        raw: `0x${pi.raw.toString(16)}`,
        smtEnabled: pi.smtEnabled,
        tsmeEnabled: pi.tsmeEnabled,
        eccEnabled: pi.eccEnabled,
        raplDisabled: pi.raplDisabled,
        ciphertextHidingEnabled: pi.ciphertextHidingEnabled,
        aliasCheckComplete: pi.aliasCheckComplete,
        tioEnabled: pi.tioEnabled,
      },
      signerInfo: { authorKeyEn: report.signerInfo.authorKeyEn, maskChipKey: report.signerInfo.maskChipKey, signingKey: vek.kind },
      currentFirmware: firmware(report.currentVersion),
      committedFirmware: firmware(report.committedVersion),
      cpuid: report.cpuid ?? null,
      launchMitVector: report.launchMitVector === undefined ? null : `0x${report.launchMitVector.toString(16)}`,
      currentMitVector: report.currentMitVector === undefined ? null : `0x${report.currentMitVector.toString(16)}`,
      vek: {
        productName: vek.extensions.productName,
        hwId: vek.extensions.hwId === undefined ? null : hex(vek.extensions.hwId),
        cspId: vek.extensions.cspId ?? null,
        sha256: vek.vekSha256,
        notAfter: vek.notAfter,
      },
    },
  };
}

/**
 * Verifies an SEV-SNP ATTESTATION_REPORT against its endorsements at ctx.at:
 * report structure, VEK chain to a pinned AMD ARK (RSASSA-PSS SHA-384),
 * validity, VEK kind against SIGNER_INFO, product against CPUID, the report's
 * ECDSA P-384 signature, reported TCB and chip ID against the VEK. Appends
 * every step to ctx.transcript and throws a VerifyError on the first failure.
 * Reference values (measurement, debug, minimum TCB) are `appraiseSnp`'s job.
 */
export function verifySnpReport(
  report: Uint8Array,
  endorsements: SnpEndorsements,
  options: SnpVerifyOptions,
  ctx: VerifyContext,
): SnpVerifiedEvidence {
  const parsed = recorded(ctx, 'snp.report.parse', () => parseSnpReport(report));
  const signer = parsed.signerInfo.signingKey;
  ctx.transcript.pass('snp.report.parse', `version ${parsed.version}, signed by ${signer.toUpperCase()}, vmpl ${parsed.vmpl}`);
  if (signer === 'none') {
    fail(ctx, 'snp.signer', 'EG_VERIFY_UNSUPPORTED', 'SNP report is unsigned (SIGNER_INFO SIGNING_KEY = 7, none)');
  }
  const requested = recorded(ctx, 'snp.product', () => checkProductOption(options?.product));
  const candidates = reportCandidates(parsed, requested, ctx);
  const vek = verifyVekChain(endorsements, candidates, options?.chainCache, ctx);

  // The signer kind is checked before the signature so a VCEK given for a
  // VLEK-signed report says what is missing instead of "bad signature".
  if (vek.kind !== signer) {
    fail(
      ctx,
      'snp.signer',
      'EG_VERIFY_ENDORSEMENTS_MISSING',
      `SNP report is signed by its ${signer.toUpperCase()} (SIGNER_INFO SIGNING_KEY = ${signer === 'vcek' ? 0 : 1}) but the endorsement is a ${vek.kind.toUpperCase()}`,
    );
  }
  ctx.transcript.pass('snp.signer', `report signer ${signer.toUpperCase()} matches the endorsement`);

  if (!snpReportSignatureVerifies(parsed, vek.publicKey)) {
    fail(ctx, 'snp.report.signature', 'EG_VERIFY_SIGNATURE', `SNP report signature (ECDSA P-384 SHA-384 over 0x000..0x29f) does not verify under the ${vek.kind.toUpperCase()}`);
  }
  ctx.transcript.pass('snp.report.signature', `ECDSA P-384 SHA-384 over 0x000..0x29f verifies under the ${vek.kind.toUpperCase()} (sha256 ${vek.vekSha256})`);

  checkSnpReportBinding(parsed, vek.extensions, vek.product, ctx);
  return toEvidence(parsed, vek);
}
