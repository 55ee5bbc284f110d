/**
 * Verifies a Nitro attestation document: the certificate chain from the
 * document's signing certificate through its cabundle to the pinned AWS root,
 * then the COSE_Sign1 ES384 signature with that (now trusted) certificate's
 * key, then the document timestamp against the certificate's lifetime.
 *
 * The chain is checked before the signature on purpose: the cabundle is part
 * of the signed payload, so a bundle that does not lead to the root is
 * reported as a chain failure, and a signature failure always means the
 * signed bytes were changed after signing by a key we already trust.
 */
import { X509Certificate, verify as verifySignature } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import { recorded, type VerifiedEvidence, type VerifyContext } from '../types.js';
import { parseCertificate, verifyChain } from '../x509.js';
import { parseNitroDocument, type NitroAttestationDocument, type NitroCoseSign1, type ParsedNitroDocument } from './parse.js';
import { NITRO_PINNED_ROOTS } from './roots.js';
import { toHex as hex } from '../bytes.js';

/** Platform-specific claims of a verified Nitro document; every value is JSON-safe. */
export interface NitroClaims {
  /** Issuing NSM module id (instance and enclave). */
  readonly moduleId: string;
  /** PCR digest algorithm; always "SHA384". */
  readonly digest: 'SHA384';
  /** Document creation time (ISO 8601, millisecond precision) as signed by the NSM. */
  readonly timestamp: string;
  /** PCR index (decimal string) → lower-case hex value, every PCR the document lists. */
  readonly pcrs: Readonly<Record<string, string>>;
  /** public_key field, hex; absent when the document has none (or null). */
  readonly publicKey?: string;
  /** user_data field, hex; absent when the document has none (or null). */
  readonly userData?: string;
  /** nonce field, hex; absent when the document has none (or null). */
  readonly nonce?: string;
  /** End of the signing certificate's lifetime (ISO 8601): the evidence cannot be re-verified after it. */
  readonly certificateNotAfter: string;
}

/** Options for {@link verifyNitroDocument}. */
export interface NitroVerifyOptions {
  /**
   * Pinned roots (SHA-256 of DER → name). Defaults to AWS Nitro Enclaves
   * Root-G1; tests pass their own to exercise documents they can sign.
   */
  readonly roots?: ReadonlyMap<string, string>;
}

const CHAIN_LABEL = 'nitro.cert';


/** CBOR head (major type + length) for lengths below 2^32, which is all a bounded document needs. */
function cborHead(major: number, length: number): Uint8Array {
  const mt = major << 5;
  if (length < 24) return Uint8Array.of(mt | length);
  if (length < 0x100) return Uint8Array.of(mt | 24, length);
  if (length < 0x10000) return Uint8Array.of(mt | 25, length >> 8, length & 0xff);
  return Uint8Array.of(mt | 26, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
}

/**
 * Sig_structure = ["Signature1", body_protected, external_aad, payload]
 * (RFC 9052 §4.4) with an empty external_aad, encoded deterministically.
 * The protected header and payload go in exactly as received.
 */
function sigStructure(cose: NitroCoseSign1): Uint8Array {
  const context = new TextEncoder().encode('Signature1');
  const parts: Uint8Array[] = [
    cborHead(4, 4),
    cborHead(3, context.length),
    context,
    cborHead(2, cose.protectedHeader.length),
    cose.protectedHeader,
    cborHead(2, 0),
    cborHead(2, cose.payload.length),
    cose.payload,
  ];
  return Buffer.concat(parts);
}


function fail(ctx: VerifyContext, step: string, code: ConstructorParameters<typeof VerifyError>[0], detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

function checkChain(document: NitroAttestationDocument, roots: ReadonlyMap<string, string>, ctx: VerifyContext): X509Certificate {
  const leaf = recorded(ctx, 'nitro.cert.parse', () => parseCertificate(document.certificate, 'Nitro signing certificate'));
  const bundle = recorded(ctx, 'nitro.cert.parse', () =>
    document.cabundle.map((der, i) => parseCertificate(der, `Nitro cabundle[${i}]`)),
  );
  bundle.forEach((cert, i) => {
    // Only CA certificates may issue; without this a leaf key could pose as an intermediate.
    if (!cert.ca) fail(ctx, `${CHAIN_LABEL}.ca`, 'EG_VERIFY_CHAIN', `cabundle[${i}] "${cert.subject.replace(/\n/g, ', ')}" is not a CA certificate`);
  });
  // cabundle is root first; the chain helper wants leaf first, root last.
  verifyChain([leaf, ...bundle.toReversed()], roots, CHAIN_LABEL, ctx);
  return leaf;
}

function checkSignature(cose: NitroCoseSign1, leaf: X509Certificate, ctx: VerifyContext): void {
  const key = leaf.publicKey;
  // ES384 is ECDSA on P-384; a certificate with another key type cannot have made this signature.
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'none';
    fail(ctx, 'nitro.cose.signature', 'EG_VERIFY_UNSUPPORTED', `signing certificate key is ${key.asymmetricKeyType ?? 'unknown'} (${curve}), ES384 needs EC P-384`);
  }
  let ok = false;
  try {
    ok = verifySignature('sha384', sigStructure(cose), { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
  } catch {
    ok = false;
  }
  if (!ok) fail(ctx, 'nitro.cose.signature', 'EG_VERIFY_SIGNATURE', 'COSE_Sign1 ES384 signature does not verify with the signing certificate key');
  ctx.transcript.pass('nitro.cose.signature', 'COSE_Sign1 ES384 over ["Signature1", protected, h\'\', payload] verifies with the signing certificate');
}

/**
 * The NSM issues a fresh certificate for every document and signs at once, so
 * the signed timestamp must fall inside that certificate's lifetime. A
 * timestamp outside it means the claimed time is not the signing time; it is
 * reported like any other validity failure. (How old the document may be at
 * ctx.at is a reference-value question: see maxAgeSeconds in appraise.ts.)
 */
function checkTimestamp(document: NitroAttestationDocument, leaf: X509Certificate, ctx: VerifyContext): void {
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  const at = new Date(document.timestamp).toISOString();
  // X.509 times have one-second resolution, the timestamp has milliseconds: compare at the second.
  const second = Math.floor(document.timestamp / 1000) * 1000;
  if (second < notBefore || second > notAfter) {
    fail(ctx, 'nitro.timestamp', 'EG_VERIFY_EXPIRED', `document timestamp ${at} lies outside the signing certificate validity ${new Date(notBefore).toISOString()} → ${new Date(notAfter).toISOString()}`);
  }
  ctx.transcript.pass('nitro.timestamp', `document timestamp ${at} lies inside the signing certificate validity`);
}

function isZero(bytes: Uint8Array | undefined): boolean {
  return bytes !== undefined && bytes.every((b) => b === 0);
}

function toEvidence(parsed: ParsedNitroDocument, leaf: X509Certificate): VerifiedEvidence {
  const { document } = parsed;
  const pcrs: Record<string, string> = {};
  for (const [index, value] of [...document.pcrs].sort((a, b) => a[0] - b[0])) pcrs[String(index)] = hex(value);
  const claims: NitroClaims = {
    moduleId: document.moduleId,
    digest: document.digest,
    timestamp: new Date(document.timestamp).toISOString(),
    pcrs: Object.freeze(pcrs),
    ...(document.publicKey === undefined ? {} : { publicKey: hex(document.publicKey) }),
    ...(document.userData === undefined ? {} : { userData: hex(document.userData) }),
    ...(document.nonce === undefined ? {} : { nonce: hex(document.nonce) }),
    certificateNotAfter: new Date(leaf.validTo).toISOString(),
  };
  return Object.freeze({
    platform: 'nitro',
    measurement: hex(document.pcrs.get(0) ?? new Uint8Array()),
    reportData: document.userData === undefined ? '' : hex(document.userData),
    // A debug-mode enclave reports PCR0, PCR1 and PCR2 as all zero bytes (AWS
    // Nitro Enclaves user guide); a real image, kernel and application always
    // measure to non-zero values.
    debug: isZero(document.pcrs.get(0)) && isZero(document.pcrs.get(1)) && isZero(document.pcrs.get(2)),
    // Nitro has no TCB version or collateral to report; module id and digest
    // are claims like any other field of the document.
    tcb: Object.freeze({}),
    claims: Object.freeze(claims),
  });
}

/**
 * Verifies a Nitro attestation document at `ctx.at` and returns what it proves.
 *
 * Steps (each appended to `ctx.transcript`): parse; signing certificate →
 * cabundle (reversed) → root pinned by SHA-256 (AWS Nitro Enclaves Root-G1
 * unless `options.roots`), every certificate valid at `ctx.at`; COSE_Sign1
 * ES384 signature with the signing certificate's key; document timestamp
 * inside the signing certificate's lifetime.
 *
 * The result has `measurement` = PCR0 (hex), `reportData` = user_data (hex,
 * '' when absent), `debug` = PCR0–2 all zero, `tcb` = {} and
 * {@link NitroClaims} as `claims`. Reference values are not checked here
 * (see `appraiseNitro`).
 *
 * @throws VerifyError EG_VERIFY_PARSE / EG_VERIFY_UNSUPPORTED (format),
 *   EG_VERIFY_CHAIN, EG_VERIFY_EXPIRED (a certificate at ctx.at, or the
 *   timestamp outside the signing certificate's lifetime), EG_VERIFY_SIGNATURE.
 */
export function verifyNitroDocument(bytes: Uint8Array, ctx: VerifyContext, options: NitroVerifyOptions = {}): VerifiedEvidence {
  const parsed = recorded(ctx, 'nitro.parse', () => parseNitroDocument(bytes));
  const { cose, document } = parsed;
  ctx.transcript.pass(
    'nitro.parse',
    `COSE_Sign1${cose.tagged ? ' (tag 18)' : ''} ES384, module ${document.moduleId}, ${document.pcrs.size} PCRs, cabundle of ${document.cabundle.length}`,
  );
  const leaf = checkChain(document, options.roots ?? NITRO_PINNED_ROOTS, ctx);
  checkSignature(cose, leaf, ctx);
  checkTimestamp(document, leaf, ctx);
  return toEvidence(parsed, leaf);
}
