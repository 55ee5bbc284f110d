/**
 * RA-TLS certificate verification: find the evidence a certificate carries,
 * prove it is bound to the certificate's key (and to the server's policy),
 * verify it, appraise it, and return a Verdict.
 *
 * Three formats are read:
 *  - enclave-gate's own (docs/verify.md): tagged evidence in 2.23.133.5.4.9,
 *    the same bytes as an IETF CMW in 1.3.6.1.5.5.7.1.35, stapled
 *    endorsements in 2.23.133.5.4.2, report data = reportDataFor(claims);
 *  - Open Enclave / echeck SGX certificates (foreign/open-enclave.ts);
 *  - Evervault Nitro certificates, the document in a subjectAltName (nitro/evervault.ts).
 *
 * Cheap local checks (certificate signature, validity, pubkey-hash) run
 * before the expensive evidence chain, so a broken certificate costs little.
 */
import 'reflect-metadata';
import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import { SubjectAlternativeNameExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { Tag, cdeEncodeOptions, decode, encode } from 'cbor2';
import { VerifyError } from '../errors.js';
import { applyAppraisalPolicy } from './appraisal-policy.js';
import { decodeClaims, reportDataFor, type RatlsClaims } from '../wire/claims.js';
import {
  EVIDENCE_TAG,
  OID_CMW,
  OID_TCG_DICE_ENDORSEMENT_MANIFEST,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  decodeCmwContents,
  decodeTaggedEvidence,
  type TaggedEvidence,
} from '../wire/extension.js';
import { formatHashEntry, hashEntry, sameHashEntry } from '../wire/hash-entry.js';
import { decodeFreshnessAnswer } from '../wire/freshness.js';
import {
  appraiseEvidence,
  checkAt,
  evidenceExpiry,
  verifyPlatformEvidence,
  type AppraisalFlags,
  type EvidenceSources,
  type NonceSource,
} from './evidence.js';
import { OID_OPEN_ENCLAVE_SGX_EVIDENCE, checkOpenEnclaveBinding, decodeOpenEnclaveEvidence } from './foreign/index.js';
import { verifyIntelQuote, type IntelCollateral, type IntelPcsCollateral } from './intel/index.js';
import { verifyNitroSanCertificate } from './nitro/index.js';
import { azurePlatformOf } from './azure/index.js';
import { appraiseGpu, verifyGpuEvidence } from './nvidia/index.js';
import { parseReferenceValues, type ReferenceValues } from './reference-values.js';
import type { SnpEndorsements } from './sev-snp/index.js';
import { Transcript, recorded, type Platform, type VerifiedEvidence, type VerifyContext } from './types.js';
import { failureVerdict, successVerdict, type RatlsBinding, type Verdict } from './verdict.js';
import { checkValidity, fingerprint256, parseCertificate } from './x509.js';
import { toHex as hex } from './bytes.js';

/** A certificate as DER bytes, or PEM as text or bytes. */
export type CertificateSource = Uint8Array | string;

/** Options of {@link verifyCertificate}. */
export interface VerifyCertificateOptions extends EvidenceSources, AppraisalFlags {
  /** Validation instant for the certificate and everything behind the evidence; the library never reads the clock. */
  readonly at: Date;
  /** What to accept (JSON document or parsed); absent means the safe defaults. */
  readonly referenceValues?: ReferenceValues;
}

/** Stapled endorsements and evidence stay well under this; larger values are refused before decoding. */
const MAX_ENDORSEMENT_BYTES = 256 * 1024;
/** RFC 1035 caps a DNS label at 63 characters; only longer hex labels can hold a Nitro document. */
const MAX_DNS_LABEL = 63;

// ───────────────────────── stapled endorsements ─────────────────────────

/**
 * Encodes the 2.23.133.5.4.2 extension value: `tag(EVIDENCE_TAG.x) map` with
 * the same tag as the evidence it endorses.
 *  - SEV-SNP: `{ "vek": bstr (DER VCEK/VLEK), "chain": [+ bstr] (DER ASK/ASVK, ARK) }`
 *  - Intel (tag 60000): `{ "tcb-info": tstr, "tcb-info-issuer-chain": tstr (PEM),
 *    ? "qe-identity": tstr, ? "qe-identity-issuer-chain": tstr (PEM),
 *    ? "pck-crl": bstr (DER), ? "root-ca-crl": bstr (DER) }` (the Intel PCS bodies, byte for byte)
 * Provided here so tests and the issuing side agree on one definition; the
 * issuer should move it to src/wire when a hardware provider staples.
 */
export function encodeStapledEndorsements(tag: number, value: StapledEndorsements): Uint8Array {
  let map: Map<string, unknown>;
  if ('vek' in value) {
    map = new Map<string, unknown>([
      ['vek', value.vek],
      ['chain', [...value.chain]],
    ]);
  } else {
    map = new Map<string, unknown>([
      ['tcb-info', value.tcbInfo],
      ['tcb-info-issuer-chain', value.tcbInfoIssuerChain],
    ]);
    if (value.qeIdentity !== undefined) map.set('qe-identity', value.qeIdentity);
    if (value.qeIdentityIssuerChain !== undefined) map.set('qe-identity-issuer-chain', value.qeIdentityIssuerChain);
    if (value.pckCrl !== undefined) map.set('pck-crl', value.pckCrl);
    if (value.rootCaCrl !== undefined) map.set('root-ca-crl', value.rootCaCrl);
  }
  return encode(new Tag(tag, map), cdeEncodeOptions);
}

/** Stapled SEV-SNP endorsements: the VEK and its chain, DER. */
export interface StapledSnpEndorsements {
  readonly vek: Uint8Array;
  readonly chain: readonly Uint8Array[];
}

/** Stapled Intel collateral, in the Intel PCS shape. */
export interface StapledIntelCollateral {
  readonly tcbInfo: string;
  readonly tcbInfoIssuerChain: string;
  readonly qeIdentity?: string;
  readonly qeIdentityIssuerChain?: string;
  readonly pckCrl?: Uint8Array;
  readonly rootCaCrl?: Uint8Array;
}

/** Either kind of stapled endorsement. */
export type StapledEndorsements = StapledSnpEndorsements | StapledIntelCollateral;

function parseFail(detail: string): never {
  throw new VerifyError('EG_VERIFY_PARSE', `stapled endorsements (2.23.133.5.4.2): ${detail}`);
}

function decodeStapledMap(bytes: Uint8Array, tag: number): Record<string, unknown> {
  if (bytes.length > MAX_ENDORSEMENT_BYTES) parseFail(`${bytes.length} bytes, limit ${MAX_ENDORSEMENT_BYTES}`);
  let value: unknown;
  try {
    value = decode(bytes, { rejectStreaming: true, rejectDuplicateKeys: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'stapled endorsements (2.23.133.5.4.2) are not CBOR', { cause });
  }
  if (!(value instanceof Tag)) parseFail('not tagged CBOR');
  if (Number(value.tag) !== tag) parseFail(`tag ${String(value.tag)} does not match the evidence tag ${tag}`);
  const contents: unknown = value.contents;
  if (typeof contents !== 'object' || contents === null || Array.isArray(contents) || contents instanceof Uint8Array || contents instanceof Map) {
    parseFail('not a map with text keys');
  }
  return contents as Record<string, unknown>;
}

function onlyKeys(map: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(map)) if (!allowed.includes(key)) parseFail(`unknown key "${key.slice(0, 40)}"`);
}

/** Decodes stapled SEV-SNP endorsements into the verifier's input shape (`tag`: the evidence's, sevSnp or azureVtpm). */
export function decodeStapledSnpEndorsements(bytes: Uint8Array, tag: number = EVIDENCE_TAG.sevSnp): SnpEndorsements {
  const map = decodeStapledMap(bytes, tag);
  onlyKeys(map, ['vek', 'chain']);
  const vek = map['vek'];
  const chain = map['chain'];
  if (!(vek instanceof Uint8Array)) parseFail('"vek" must be a byte string (DER certificate)');
  if (!Array.isArray(chain) || chain.length === 0 || !chain.every((c) => c instanceof Uint8Array)) {
    parseFail('"chain" must be a non-empty array of byte strings (DER certificates)');
  }
  return { vek, chain: chain as Uint8Array[] };
}

/** Decodes stapled Intel collateral into the verifier's PCS input shape. */
export function decodeStapledIntelCollateral(bytes: Uint8Array): IntelPcsCollateral {
  const map = decodeStapledMap(bytes, EVIDENCE_TAG.intelQuote);
  onlyKeys(map, ['tcb-info', 'tcb-info-issuer-chain', 'qe-identity', 'qe-identity-issuer-chain', 'pck-crl', 'root-ca-crl']);
  const text = (key: string, required: boolean): string | undefined => {
    const v = map[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string') parseFail(`"${key}" must be a text string`);
    return v;
  };
  const bytesOf = (key: string): Uint8Array | undefined => {
    const v = map[key];
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) parseFail(`"${key}" must be a byte string (DER CRL)`);
    return v;
  };
  const qeIdentity = text('qe-identity', false);
  const qeIdentityIssuerChain = text('qe-identity-issuer-chain', false);
  const pckCrl = bytesOf('pck-crl');
  const rootCaCrl = bytesOf('root-ca-crl');
  return {
    tcbInfo: text('tcb-info', true)!,
    tcbInfoIssuerChain: text('tcb-info-issuer-chain', true)!,
    ...(qeIdentity === undefined ? {} : { qeIdentity }),
    ...(qeIdentityIssuerChain === undefined ? {} : { qeIdentityIssuerChain }),
    ...(pckCrl === undefined ? {} : { pckCrl }),
    ...(rootCaCrl === undefined ? {} : { rootCaCrl }),
  };
}

// ───────────────────────── certificate reading ─────────────────────────

interface ReadCertificate {
  readonly node: X509Certificate;
  readonly der: Uint8Array;
  /** DER SubjectPublicKeyInfo exactly as encoded in the certificate. */
  readonly spki: Uint8Array;
  readonly extensions: ReadonlyMap<string, Uint8Array>;
  readonly peculiar: PeculiarCertificate;
}


function fail(ctx: VerifyContext, step: string, code: ConstructorParameters<typeof VerifyError>[0], detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

/** The DER of a certificate given as DER bytes, PEM bytes or PEM text (the first PEM block). */
function certificateDer(input: CertificateSource): Uint8Array {
  let text: string;
  if (input instanceof Uint8Array) {
    // DER starts with a SEQUENCE; anything else is treated as PEM text.
    if (input.length > 0 && input[0] === 0x30) return input;
    text = Buffer.from(input).toString('latin1');
  } else if (typeof input === 'string') {
    text = input;
  } else {
    throw new VerifyError('EG_VERIFY_USAGE', 'the certificate must be DER bytes or PEM text');
  }
  const block = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/.exec(text);
  if (block === null) throw new VerifyError('EG_VERIFY_PARSE', 'the certificate is neither DER nor PEM');
  return new Uint8Array(Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64'));
}

function readCertificate(input: CertificateSource, ctx: VerifyContext): ReadCertificate {
  return recorded(ctx, 'cert.parse', () => {
    const der = certificateDer(input);
    // Parses exactly these DER bytes (never a PEM block embedded in them, as
    // Intel quotes carry) and requires the encoding to match: see x509.ts.
    const node = parseCertificate(der, 'certificate');
    let peculiar: PeculiarCertificate;
    try {
      peculiar = new PeculiarCertificate(der);
    } catch (cause) {
      throw new VerifyError('EG_VERIFY_PARSE', 'the certificate extensions do not parse', { cause });
    }
    const extensions = new Map<string, Uint8Array>();
    for (const ext of peculiar.extensions) {
      // RFC 5280 allows each extension once; two copies leave it open which one a verifier reads.
      if (extensions.has(ext.type)) throw new VerifyError('EG_VERIFY_PARSE', `the certificate has extension ${ext.type} twice`);
      extensions.set(ext.type, new Uint8Array(ext.value));
    }
    const spki = new Uint8Array(peculiar.publicKey.rawData);
    const subject = node.subject.replace(/\n/g, ', ');
    ctx.transcript.pass('cert.parse', `"${subject}", sha256 ${fingerprint256(node)}`);
    return { node, der, spki, extensions, peculiar };
  });
}

/** True when a subjectAltName DNS name starts with a label long enough, and hex enough, to be a Nitro document. */
function hasSanDocument(cert: PeculiarCertificate): boolean {
  try {
    const san = cert.getExtension(SubjectAlternativeNameExtension);
    if (san === null) return false;
    return san.names.items.some((n) => {
      if (n.type !== 'dns') return false;
      const label = n.value.split('.', 1)[0] ?? '';
      return label.length > MAX_DNS_LABEL && /^[0-9a-fA-F]+$/.test(label);
    });
  } catch {
    return false;
  }
}

function checkSelfSignature(cert: ReadCertificate, ctx: VerifyContext): void {
  let ok = false;
  try {
    // Not checkIssued: OpenSSL's issuer check wants keyCertSign, which an
    // end-entity RA-TLS certificate rightly lacks. Same name, own signature.
    ok = cert.node.subject === cert.node.issuer && cert.node.verify(cert.node.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) fail(ctx, 'cert.signature', 'EG_VERIFY_SIGNATURE', 'the certificate is not validly self-signed by its own key');
  ctx.transcript.pass('cert.signature', 'self-signed by the key it certifies');
}

function checkCertificateValidity(cert: ReadCertificate, ctx: VerifyContext): void {
  checkValidity(cert.node, 'cert', ctx);
  ctx.transcript.pass(
    'cert.validity',
    `valid ${new Date(cert.node.validFrom).toISOString()} → ${new Date(cert.node.validTo).toISOString()}, checked at ${ctx.at.toISOString()}`,
  );
}


function minDate(a: Date, b: Date | undefined): Date {
  return b !== undefined && b < a ? b : a;
}

// ───────────────────────── enclave-gate format ─────────────────────────

const TAG_NAMES: ReadonlyMap<number, string> = new Map([
  [EVIDENCE_TAG.intelQuote, 'Intel TDX/SGX quote'],
  [EVIDENCE_TAG.sevSnp, 'SEV-SNP report'],
  [EVIDENCE_TAG.nitro, 'Nitro attestation document'],
  [EVIDENCE_TAG.azureVtpm, 'Azure vTPM evidence (HCL report and TPM quote)'],
  [EVIDENCE_TAG.simulated, 'simulated evidence'],
]);

/** enclave-gate's own tags read best in hex ("EG" = 0x4547). */
function tagName(tag: number): string {
  return tag > 0xffff ? `0x${tag.toString(16)}` : String(tag);
}

/** The tagged evidence, from 2.23.133.5.4.9 and, when both are present, cross-checked with the CMW copy. */
function taggedEvidence(cert: ReadCertificate, ctx: VerifyContext): { readonly tagged: TaggedEvidence; readonly gpus: readonly Uint8Array[] } {
  const dice = cert.extensions.get(OID_TCG_DICE_TAGGED_EVIDENCE);
  const cmwValue = cert.extensions.get(OID_CMW);
  let bytes: Uint8Array;
  let gpus: readonly Uint8Array[] = [];
  if (cmwValue !== undefined) {
    const contents = recorded(ctx, 'cert.cmw', () => decodeCmwContents(cmwValue));
    const fromCmw = contents.taggedEvidence;
    gpus = contents.gpus;
    if (gpus.length > 0) ctx.transcript.pass('cert.cmw.collection', `the CMW is a collection: cpu and ${gpus.length} GPU${gpus.length === 1 ? '' : 's'}`);
    if (dice !== undefined) {
      // Two copies that differ would let different verifiers see different evidence.
      if (!Buffer.from(fromCmw).equals(Buffer.from(dice))) {
        fail(ctx, 'cert.cmw', 'EG_VERIFY_BINDING', `the CMW extension (${OID_CMW}) does not hold the same evidence as ${OID_TCG_DICE_TAGGED_EVIDENCE}`);
      }
      ctx.transcript.pass('cert.cmw', `the CMW extension repeats the ${OID_TCG_DICE_TAGGED_EVIDENCE} evidence byte for byte`);
    } else {
      ctx.transcript.pass('cert.cmw', `evidence read from the CMW extension (${OID_TCG_DICE_TAGGED_EVIDENCE} absent)`);
    }
    bytes = dice ?? fromCmw;
  } else {
    bytes = dice!;
  }
  const tagged = recorded(ctx, 'ratls.evidence', () => decodeTaggedEvidence(bytes));
  const name = TAG_NAMES.get(tagged.tag);
  if (name === undefined) fail(ctx, 'ratls.evidence', 'EG_VERIFY_UNSUPPORTED', `evidence tag ${tagName(tagged.tag)} is not one the verifier knows`);
  ctx.transcript.pass('ratls.evidence', `${name} (tag ${tagName(tagged.tag)}), ${tagged.evidence.length} bytes; claims ${tagged.claims.length} bytes`);
  return { tagged, gpus };
}

/** Endorsements from the options, else the stapled extension. */
function endorsementSources(tag: number, stapled: Uint8Array | undefined, options: VerifyCertificateOptions, ctx: VerifyContext): EvidenceSources {
  const base: EvidenceSources = {
    ...(options.nitroRoots === undefined ? {} : { nitroRoots: options.nitroRoots }),
    ...(options.product === undefined ? {} : { product: options.product }),
    ...(options.chainCache === undefined ? {} : { chainCache: options.chainCache }),
  };
  if (tag === EVIDENCE_TAG.sevSnp) {
    if (options.endorsements !== undefined) {
      ctx.transcript.pass('ratls.endorsements', 'SEV-SNP endorsements given by the caller');
      return { ...base, endorsements: options.endorsements };
    }
    if (stapled === undefined) return base;
    const endorsements = recorded(ctx, 'ratls.endorsements', () => decodeStapledSnpEndorsements(stapled));
    ctx.transcript.pass('ratls.endorsements', `stapled VEK and ${endorsements.chain === undefined ? 0 : (endorsements.chain as readonly unknown[]).length} chain certificates`);
    return { ...base, endorsements };
  }
  if (tag === EVIDENCE_TAG.azureVtpm) {
    // SNP: the VCEK and ASK/ARK, stapled by the provider from IMDS; TDX: collateral only from the caller.
    const withCollateral: EvidenceSources = options.collateral === undefined ? base : { ...base, collateral: options.collateral };
    if (options.endorsements !== undefined) {
      ctx.transcript.pass('ratls.endorsements', 'SEV-SNP endorsements given by the caller');
      return { ...withCollateral, endorsements: options.endorsements };
    }
    if (stapled === undefined) return withCollateral;
    const endorsements = recorded(ctx, 'ratls.endorsements', () => decodeStapledSnpEndorsements(stapled, EVIDENCE_TAG.azureVtpm));
    ctx.transcript.pass('ratls.endorsements', 'stapled VCEK and its chain (from Azure IMDS)');
    return { ...withCollateral, endorsements };
  }
  if (tag === EVIDENCE_TAG.intelQuote) {
    if (options.collateral !== undefined) {
      ctx.transcript.pass('ratls.endorsements', 'Intel collateral given by the caller');
      return { ...base, collateral: options.collateral };
    }
    if (stapled === undefined) return base;
    const collateral: IntelCollateral = recorded(ctx, 'ratls.endorsements', () => decodeStapledIntelCollateral(stapled));
    ctx.transcript.pass('ratls.endorsements', 'stapled Intel collateral');
    return { ...base, collateral };
  }
  if (stapled !== undefined) ctx.transcript.pass('ratls.endorsements', `stapled endorsements ignored: ${TAG_NAMES.get(tag) ?? 'this evidence'} needs none`);
  return base;
}

function verifyTagged(tag: number, evidence: Uint8Array, sources: EvidenceSources & AppraisalFlags, ctx: VerifyContext): VerifiedEvidence {
  switch (tag) {
    // The quote itself says whether it is TDX or SGX.
    case EVIDENCE_TAG.intelQuote:
      return verifyIntelQuote(evidence, sources.collateral, ctx);
    case EVIDENCE_TAG.sevSnp:
      return verifyPlatformEvidence('sev-snp', evidence, sources, ctx);
    case EVIDENCE_TAG.nitro:
      return verifyPlatformEvidence('nitro', evidence, sources, ctx);
    case EVIDENCE_TAG.azureVtpm:
      // The HCL report inside says SNP or TDX.
      return verifyPlatformEvidence(recorded(ctx, 'azure.parse', () => azurePlatformOf(evidence)), evidence, sources, ctx);
    default:
      return verifyPlatformEvidence('simulated', evidence, sources, ctx);
  }
}

function platformOfTag(tag: number, evidence?: Uint8Array): Platform | undefined {
  if (tag === EVIDENCE_TAG.azureVtpm && evidence !== undefined) {
    try {
      return azurePlatformOf(evidence);
    } catch {
      return undefined; // reported, with its reason, when the evidence is verified
    }
  }
  if (tag === EVIDENCE_TAG.sevSnp) return 'sev-snp';
  if (tag === EVIDENCE_TAG.nitro) return 'nitro';
  if (tag === EVIDENCE_TAG.simulated) return 'simulated';
  return undefined;
}

function checkPolicyHash(claims: RatlsClaims | undefined, rv: ReferenceValues, format: string, ctx: VerifyContext): void {
  if (rv.policyHashes === undefined) {
    ctx.transcript.pass('ratls.policy-hash', claims?.policyHash === undefined ? 'no policy hash claimed, none required' : `${formatHashEntry(claims.policyHash)} (no policyHashes allowlist given)`);
    return;
  }
  if (claims?.policyHash === undefined) {
    fail(ctx, 'ratls.policy-hash', 'EG_VERIFY_REFERENCE_VALUES', `policyHashes are required but the ${format} certificate claims no policy hash`);
  }
  const actual = formatHashEntry(claims.policyHash);
  if (!rv.policyHashes.includes(actual)) {
    fail(ctx, 'ratls.policy-hash', 'EG_VERIFY_REFERENCE_VALUES', `policy hash ${actual} is not among the ${rv.policyHashes.length} accepted`);
  }
  ctx.transcript.pass('ratls.policy-hash', `${actual} is accepted`);
}

/**
 * GPU evidence from the CMW collection: each must verify on its own and be
 * bound to the CPU evidence, its nonce being the report data's first 32
 * bytes (SHA-256 of the claims), then pass the `nvidia` reference values.
 */
function verifyBoundGpus(gpus: readonly Uint8Array[], reportData: string, rv: ReferenceValues, options: VerifyCertificateOptions, ctx: VerifyContext): VerifiedEvidence[] {
  const nonce = reportData.slice(0, 64);
  return gpus.map((bytes, i) => {
    const gpu = verifyGpuEvidence(bytes, ctx, { firstIndex: i, ...(options.nvidiaRoots === undefined ? {} : { roots: options.nvidiaRoots }) });
    if (gpu.reportData !== nonce) fail(ctx, `gpu${i}.binding`, 'EG_VERIFY_BINDING', `gpu${i}'s nonce ${gpu.reportData} is not the CPU report data's first 32 bytes ${nonce}: the GPU report was made for other evidence`);
    ctx.transcript.pass(`gpu${i}.binding`, "the GPU report's nonce is the CPU report data's first 32 bytes");
    appraiseGpu(gpu, rv.nvidia ?? {}, ctx);
    return gpu;
  });
}

/** `requireGpus`: a client that asked for GPU evidence and got less fails, whatever else verified. */
function checkGpus(verifiedGpus: number, rv: ReferenceValues, format: string, ctx: VerifyContext): void {
  if (rv.requireGpus === undefined) return;
  if (verifiedGpus < rv.requireGpus) {
    fail(ctx, 'ratls.gpus', 'EG_VERIFY_REFERENCE_VALUES', `${rv.requireGpus} GPUs' evidence is required but the ${format} certificate carries ${verifiedGpus === 0 ? 'none' : `only ${verifiedGpus}`}`);
  }
  ctx.transcript.pass('ratls.gpus', `${verifiedGpus} GPUs verified, ${rv.requireGpus} required`);
}

/** Per-run state shared by the three formats. */
interface Run {
  readonly ctx: VerifyContext;
  readonly rv: ReferenceValues;
  readonly flags: AppraisalFlags;
  readonly options: VerifyCertificateOptions;
  platform?: Platform;
  /** The evidence once its platform checks passed, reported if a later step refuses it. */
  evidence?: VerifiedEvidence;
}

/** What the evidence must carry beyond the key binding (the freshness answer adds both). */
interface BindingExpectations {
  readonly nonce?: Uint8Array;
  readonly tlsExporter?: Uint8Array;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The core of enclave-gate's format, shared by the certificate extension and
 * the freshness answer: claims → key binding → platform evidence → report
 * data → nonce and session binding → policy hash → appraisal.
 */
function verifyBoundEvidence(
  tagged: TaggedEvidence,
  cert: ReadCertificate,
  stapled: Uint8Array | undefined,
  run: Run,
  expect: BindingExpectations,
  gpus: readonly Uint8Array[] = [],
): Verdict {
  const { ctx, rv, flags, options } = run;
  const claims = recorded(ctx, 'ratls.claims', () => decodeClaims(tagged.claims));
  ctx.transcript.pass(
    'ratls.claims',
    `pubkey-hash ${claims.pubkeyHash.alg}${claims.policyHash === undefined ? '' : ', policy-hash'}${claims.nonce === undefined ? '' : ', nonce'}${claims.tlsExporter === undefined ? '' : ', tls-exporter'}`,
  );
  const keyHash = hashEntry(claims.pubkeyHash.alg, cert.spki);
  if (!sameHashEntry(keyHash, claims.pubkeyHash)) {
    fail(ctx, 'ratls.pubkey-hash', 'EG_VERIFY_BINDING', `the claims bind key ${formatHashEntry(claims.pubkeyHash)}, the certificate's key is ${formatHashEntry(keyHash)}`);
  }
  ctx.transcript.pass('ratls.pubkey-hash', `the claims bind this certificate's key (${claims.pubkeyHash.alg} of its SubjectPublicKeyInfo)`);

  const sources = endorsementSources(tagged.tag, stapled, options, ctx);
  const evidence = verifyTagged(tagged.tag, tagged.evidence, { ...sources, ...flags }, ctx);
  run.platform = evidence.platform;
  run.evidence = evidence;

  const expected = hex(reportDataFor(tagged.claims));
  if (evidence.reportData.toLowerCase() !== expected) {
    fail(ctx, 'ratls.report-data', 'EG_VERIFY_BINDING', `report data ${evidence.reportData || '(none)'} is not SHA-256(claims) ‖ 32 zero bytes (${expected})`);
  }
  ctx.transcript.pass('ratls.report-data', 'report data is SHA-256(claims buffer) followed by 32 zero bytes');

  if (evidence.platform === 'nitro') checkNitroFields(evidence, cert.spki, claims, ctx);
  if (evidence.platform === 'azure-sev-snp' || evidence.platform === 'azure-tdx') checkAzureUserData(evidence, expected, ctx);

  if (expect.nonce !== undefined) {
    if (!sameBytes(claims.nonce, expect.nonce)) fail(ctx, 'fresh.nonce', 'EG_VERIFY_BINDING', 'the answer does not carry the nonce this client sent (replayed or for another client)');
    ctx.transcript.pass('fresh.nonce', `claims carry this client's ${expect.nonce.length}-byte nonce`);
  }
  if (expect.tlsExporter !== undefined) {
    if (!sameBytes(claims.tlsExporter, expect.tlsExporter)) {
      fail(ctx, 'fresh.tls-exporter', 'EG_VERIFY_BINDING', "the answer is not bound to this TLS session (its exporter value differs from this connection's: relayed from another connection)");
    }
    ctx.transcript.pass('fresh.tls-exporter', 'claims carry the TLS exporter value of this very connection');
  }

  checkPolicyHash(claims, rv, 'enclave-gate', ctx);
  const gpuEvidence = verifyBoundGpus(gpus, expected, rv, options, ctx);
  checkGpus(gpuEvidence.length, rv, 'enclave-gate', ctx);
  const nonce: NonceSource = claims.nonce === undefined ? { kind: 'claims' } : { kind: 'claims', nonce: claims.nonce };
  appraiseEvidence(evidence, rv, flags, nonce, ctx);
  const ratls: RatlsBinding = {
    format: 'enclave-gate',
    pubkeyHash: formatHashEntry(claims.pubkeyHash),
    ...(claims.policyHash === undefined ? {} : { policyHash: formatHashEntry(claims.policyHash) }),
    ...(claims.nonce === undefined ? {} : { nonce: hex(claims.nonce) }),
    ...(claims.tlsExporter === undefined ? {} : { tlsExporter: hex(claims.tlsExporter) }),
    ...(claims.auditKeyHash === undefined ? {} : { auditKeyHash: formatHashEntry(claims.auditKeyHash) }),
  };
  // The GPUs' verified claims join the CPU's, so policies and callers see both.
  const withGpus: VerifiedEvidence =
    gpuEvidence.length === 0 ? evidence : { ...evidence, claims: { ...evidence.claims, gpus: gpuEvidence.flatMap((g) => (g.claims as { devices: readonly unknown[] }).devices) } };
  return successVerdict(withGpus, ctx.transcript, { ratls, validUntil: minDate(new Date(cert.node.validTo), evidenceExpiry(evidence)) });
}

/**
 * Nitro documents have fields of their own for the key and the nonce. The
 * report data (user_data) already binds both through the claims; when the
 * document also fills `public_key` or `nonce` they must say the same thing,
 * or two verifiers reading different fields would disagree.
 */
function checkNitroFields(evidence: VerifiedEvidence, spki: Uint8Array, claims: RatlsClaims, ctx: VerifyContext): void {
  const publicKey = evidence.claims['publicKey'];
  const nonce = evidence.claims['nonce'];
  if (typeof publicKey === 'string') {
    if (publicKey.toLowerCase() !== hex(spki)) fail(ctx, 'nitro.public-key', 'EG_VERIFY_BINDING', "the document's public_key is not this certificate's SubjectPublicKeyInfo");
    ctx.transcript.pass('nitro.public-key', "the document's public_key is this certificate's SubjectPublicKeyInfo");
  }
  if (typeof nonce === 'string') {
    if (claims.nonce === undefined || nonce.toLowerCase() !== hex(claims.nonce)) fail(ctx, 'nitro.nonce', 'EG_VERIFY_BINDING', "the document's nonce is not the claims' nonce");
    ctx.transcript.pass('nitro.nonce', "the document's nonce is the claims' nonce");
  }
}

/**
 * enclave-gate's azure-vtpm provider writes the report data to NV 0x01400002
 * before reading the HCL report, so the hardware report itself (through its
 * variable data's user-data) is for this certificate, not only the TPM quote.
 */
function checkAzureUserData(evidence: VerifiedEvidence, reportData: string, ctx: VerifyContext): void {
  const hcl = (evidence.claims as { hcl?: { userData?: unknown } }).hcl;
  if (hcl?.userData !== reportData) {
    fail(ctx, 'azure.user-data', 'EG_VERIFY_BINDING', `the HCL report's user-data ${typeof hcl?.userData === 'string' ? hcl.userData : '(none)'} is not the report data: the hardware report was not made for this certificate`);
  }
  ctx.transcript.pass('azure.user-data', "the HCL report's user-data is the report data: the hardware report was made for this certificate");
}

function verifyEnclaveGate(cert: ReadCertificate, run: Run): Verdict {
  const { ctx } = run;
  const { tagged, gpus } = taggedEvidence(cert, ctx);
  run.platform = platformOfTag(tagged.tag, tagged.evidence);
  checkSelfSignature(cert, ctx);
  checkCertificateValidity(cert, ctx);
  return verifyBoundEvidence(tagged, cert, cert.extensions.get(OID_TCG_DICE_ENDORSEMENT_MANIFEST), run, {}, gpus);
}

// ───────────────────────── foreign formats ─────────────────────────

function verifyOpenEnclave(cert: ReadCertificate, run: Run): Verdict {
  const { ctx, rv, flags, options } = run;
  const value = cert.extensions.get(OID_OPEN_ENCLAVE_SGX_EVIDENCE)!;
  const quote = recorded(ctx, 'oe.evidence', () => decodeOpenEnclaveEvidence(value));
  ctx.transcript.pass('oe.evidence', `Open Enclave SGX evidence (${OID_OPEN_ENCLAVE_SGX_EVIDENCE}), ${quote.length}-byte quote`);
  run.platform = 'sgx';
  checkSelfSignature(cert, ctx);
  checkCertificateValidity(cert, ctx);
  const evidence = verifyIntelQuote(quote, options.collateral, ctx);
  run.evidence = evidence;
  if (evidence.platform !== 'sgx') fail(ctx, 'oe.evidence', 'EG_VERIFY_UNSUPPORTED', `Open Enclave type 2 evidence must be an SGX quote, got ${evidence.platform}`);
  checkOpenEnclaveBinding(evidence, cert.spki, ctx);
  checkPolicyHash(undefined, rv, 'Open Enclave', ctx);
  checkGpus(0, rv, 'Open Enclave', ctx);
  appraiseEvidence(evidence, rv, flags, { kind: 'none', why: 'an Open Enclave certificate' }, ctx);
  const ratls: RatlsBinding = { format: 'open-enclave', pubkeyHash: formatHashEntry(hashEntry('sha-256', cert.spki)) };
  return successVerdict(evidence, ctx.transcript, { ratls, validUntil: minDate(new Date(cert.node.validTo), evidenceExpiry(evidence)) });
}

function verifyEvervault(cert: ReadCertificate, run: Run): Verdict {
  const { ctx, rv, flags } = run;
  run.platform = 'nitro';
  // Issued by the operator's private CA, not self-signed: the issuer is the
  // TLS layer's question; the document binding the key is what proves identity.
  ctx.transcript.pass('cert.signature', `not checked: issued by "${cert.node.issuer.replace(/\n/g, ', ')}"; the Nitro document binds the key`);
  checkCertificateValidity(cert, ctx);
  const evidence = verifyNitroSanCertificate(cert.node, ctx);
  run.evidence = evidence;
  checkPolicyHash(undefined, rv, 'Evervault', ctx);
  checkGpus(0, rv, 'Evervault', ctx);
  appraiseEvidence(evidence, rv, flags, { kind: 'native' }, ctx);
  const ratls: RatlsBinding = { format: 'evervault', pubkeyHash: formatHashEntry(hashEntry('sha-256', cert.spki)) };
  return successVerdict(evidence, ctx.transcript, { ratls, validUntil: minDate(new Date(cert.node.validTo), evidenceExpiry(evidence)) });
}

/**
 * Verifies an RA-TLS certificate (DER bytes or PEM) at `options.at`: finds its
 * evidence, checks the certificate's signature and validity, the binding of
 * the evidence to the certificate's key (and policy), verifies the evidence
 * with its endorsements (stapled or from `options`) and appraises it against
 * the reference values. Never throws: every failure is a Verdict with a code.
 *
 * @example
 * const verdict = verifyCertificate(socket.getPeerCertificate(true).raw, { at: new Date(), referenceValues });
 * if (!verdict.ok) socket.destroy();
 */
type MutableRun = { -readonly [K in keyof Run]: Run[K] };

/** Validates the options shared by verifyCertificate and verifyFreshAttestation into `run`. */
function prepareRun(run: MutableRun, options: VerifyCertificateOptions, fn: string): void {
  if (typeof options !== 'object' || options === null) throw new VerifyError('EG_VERIFY_USAGE', `${fn} needs an options object with \`at\``);
  run.ctx = { at: checkAt(options.at, run.ctx), transcript: run.ctx.transcript };
  run.rv = parseReferenceValues(options.referenceValues ?? {});
  run.flags = {
    allowSimulated: options.allowSimulated === true || run.rv.allowSimulated === true,
    allowDebug: options.allowDebug === true,
  };
}

export function verifyCertificate(cert: CertificateSource, options: VerifyCertificateOptions): Verdict {
  const transcript = new Transcript();
  const run: MutableRun = { ctx: { at: new Date(0), transcript }, rv: {}, flags: {}, options };
  try {
    prepareRun(run, options, 'verifyCertificate');
    const read = readCertificate(cert, run.ctx);
    const appraised = (verdict: Verdict): Verdict => applyAppraisalPolicy(verdict, options.appraisalPolicy, transcript);
    if (read.extensions.has(OID_TCG_DICE_TAGGED_EVIDENCE) || read.extensions.has(OID_CMW)) return appraised(verifyEnclaveGate(read, run));
    if (read.extensions.has(OID_OPEN_ENCLAVE_SGX_EVIDENCE)) return appraised(verifyOpenEnclave(read, run));
    if (hasSanDocument(read.peculiar)) return appraised(verifyEvervault(read, run));
    return fail(
      run.ctx,
      'cert.evidence',
      'EG_VERIFY_PARSE',
      `the certificate carries no attestation evidence: no ${OID_TCG_DICE_TAGGED_EVIDENCE} or ${OID_CMW} extension, no Open Enclave ${OID_OPEN_ENCLAVE_SGX_EVIDENCE} extension, no Nitro document in a subjectAltName`,
    );
  } catch (error) {
    return failureVerdict(error, transcript, run.platform, run.evidence);
  }
}

/** Options of {@link verifyFreshAttestation}. */
export interface VerifyFreshOptions extends VerifyCertificateOptions {
  /** The certificate the server presented on the connection the answer came over. */
  readonly certificate: CertificateSource;
  /** The nonce this client sent in `?nonce=`. */
  readonly nonce: Uint8Array;
  /** `exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL)` of the client's side of that connection. */
  readonly tlsExporter: Uint8Array;
}

/**
 * Verifies an answer of `GET /.well-known/attestation?nonce=HEX` (parsed JSON)
 * received over the connection whose certificate and exporter value are
 * given: the evidence must verify like the certificate's, bind the same key,
 * and carry this client's nonce and this connection's exporter value, so a
 * relayed or replayed answer fails with EG_VERIFY_BINDING. Never throws.
 */
export function verifyFreshAttestation(answer: unknown, options: VerifyFreshOptions): Verdict {
  const transcript = new Transcript();
  const run: MutableRun = { ctx: { at: new Date(0), transcript }, rv: {}, flags: {}, options };
  try {
    prepareRun(run, options, 'verifyFreshAttestation');
    if (!(options.nonce instanceof Uint8Array) || !(options.tlsExporter instanceof Uint8Array)) {
      throw new VerifyError('EG_VERIFY_USAGE', 'verifyFreshAttestation needs the nonce and the TLS exporter value as bytes');
    }
    const decoded = recorded(run.ctx, 'fresh.answer', () => decodeFreshnessAnswer(answer));
    const tagged = recorded(run.ctx, 'fresh.evidence', () => decodeTaggedEvidence(decoded.taggedEvidence));
    run.platform = platformOfTag(tagged.tag, tagged.evidence);
    run.ctx.transcript.pass('fresh.answer', `${decoded.platform} evidence issued at ${decoded.issuedAt} (tag ${tagName(tagged.tag)})`);
    const read = readCertificate(options.certificate, run.ctx);
    const verdict = verifyBoundEvidence(tagged, read, decoded.endorsements, run, { nonce: options.nonce, tlsExporter: options.tlsExporter }, decoded.gpus);
    return applyAppraisalPolicy(verdict, options.appraisalPolicy, transcript);
  } catch (error) {
    return failureVerdict(error, transcript, run.platform, run.evidence);
  }
}

/** SHA-256 of a certificate's DER, hex: the key the dispatcher caches verdicts under. */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
