/**
 * Nitro evidence bound to a TLS certificate, in the style Evervault Cages
 * use: the enclave puts the DER SubjectPublicKeyInfo of its TLS key into the
 * attestation document's user_data, and may carry the document itself in a
 * subjectAltName DNS name `<hex(COSE_Sign1)>.<host>`.
 *
 * This module only binds evidence to a certificate. Whether the certificate
 * itself is trustworthy as a TLS certificate (its issuer, its lifetime, its
 * host name) is the TLS layer's job; the binding is what makes that question
 * irrelevant for the enclave's identity.
 */
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { SubjectAlternativeNameExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import { parseCertificate, parsePemBundle } from '../x509.js';
import { MAX_DOCUMENT_BYTES } from './parse.js';
import { verifyNitroDocument, type NitroVerifyOptions } from './verify.js';

/** A certificate as DER bytes, PEM text (the first block is used) or a node:crypto certificate. */
export type CertificateInput = Uint8Array | string | X509Certificate;

/** What {@link extractNitroFromSan} found. */
export interface NitroSanDocument {
  /** The COSE_Sign1 bytes, hex-decoded from the first DNS label. Not yet verified. */
  readonly document: Uint8Array;
  /** The rest of the DNS name after the hex label (may be empty). */
  readonly host: string;
}

/**
 * RFC 1035 caps a DNS label at 63 characters, so a hex label longer than that
 * cannot be an ordinary host name: it is the only thing treated as a document.
 */
const MAX_DNS_LABEL = 63;

const HEX_LABEL = /^[0-9a-fA-F]+$/;

function toDer(cert: CertificateInput, what: string): Buffer {
  if (cert instanceof X509Certificate) return cert.raw;
  if (typeof cert === 'string') {
    const first = parsePemBundle(cert, what)[0];
    if (first === undefined) throw new VerifyError('EG_VERIFY_PARSE', `${what} holds no PEM certificate`);
    return first.raw;
  }
  // node:crypto gives the typed parse error for bytes that are not a certificate.
  return parseCertificate(cert, what).raw;
}

function parsePeculiar(der: Buffer, what: string): PeculiarCertificate {
  try {
    return new PeculiarCertificate(der);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what} is not a valid X.509 certificate`, { cause });
  }
}

/**
 * DER SubjectPublicKeyInfo of a certificate, hex. Taken from the certificate's
 * own encoding rather than re-exported from a key object, so it is byte for
 * byte what the enclave hashed or copied.
 */
export function certificateSpkiHex(cert: CertificateInput): string {
  const parsed = parsePeculiar(toDer(cert, 'certificate'), 'certificate');
  return Buffer.from(parsed.publicKey.rawData).toString('hex');
}

/**
 * Finds the Nitro attestation document that an Evervault-style certificate
 * carries in a subjectAltName DNS name `<hex(COSE_Sign1)>.<host>` and returns
 * its bytes, undecoded and unverified.
 *
 * @throws VerifyError EG_VERIFY_PARSE when the certificate does not parse, has
 *   no subjectAltName, has no or more than one such name, or the hex is
 *   malformed or larger than a Nitro document can be.
 */
export function extractNitroFromSan(cert: CertificateInput): NitroSanDocument {
  const parsed = parsePeculiar(toDer(cert, 'certificate'), 'certificate');
  let names: readonly string[];
  try {
    const san = parsed.getExtension(SubjectAlternativeNameExtension);
    if (san === null) throw new VerifyError('EG_VERIFY_PARSE', 'certificate has no subjectAltName extension');
    names = san.names.items.filter((n) => n.type === 'dns').map((n) => n.value);
  } catch (cause) {
    if (cause instanceof VerifyError) throw cause;
    throw new VerifyError('EG_VERIFY_PARSE', 'certificate subjectAltName does not parse', { cause });
  }
  const candidates = names.filter((name) => {
    const label = name.split('.', 1)[0] ?? '';
    return label.length > MAX_DNS_LABEL && HEX_LABEL.test(label);
  });
  if (candidates.length === 0) {
    throw new VerifyError('EG_VERIFY_PARSE', 'no subjectAltName DNS name carries a Nitro document (<hex>.<host>)');
  }
  // Two embedded documents leave it open which one the enclave meant; refuse rather than guess.
  if (candidates.length > 1) {
    throw new VerifyError('EG_VERIFY_PARSE', `${candidates.length} subjectAltName DNS names carry a document, expected one`);
  }
  const name = candidates[0]!;
  const dot = name.indexOf('.');
  const label = dot === -1 ? name : name.slice(0, dot);
  if (label.length % 2 !== 0) throw new VerifyError('EG_VERIFY_PARSE', 'subjectAltName document hex has an odd length');
  if (label.length / 2 > MAX_DOCUMENT_BYTES) {
    throw new VerifyError('EG_VERIFY_PARSE', `subjectAltName document is ${label.length / 2} bytes, limit ${MAX_DOCUMENT_BYTES}`);
  }
  return { document: new Uint8Array(Buffer.from(label, 'hex')), host: dot === -1 ? '' : name.slice(dot + 1) };
}

/**
 * Checks that verified Nitro evidence names this certificate's key: user_data
 * must equal the certificate's DER SubjectPublicKeyInfo. Without this a
 * genuine document copied into an attacker's certificate would pass.
 *
 * @throws VerifyError EG_VERIFY_BINDING when user_data is absent or differs;
 *   EG_VERIFY_USAGE for non-Nitro evidence; EG_VERIFY_PARSE for a bad certificate.
 */
export function checkNitroCertificateBinding(evidence: VerifiedEvidence, cert: CertificateInput, ctx: VerifyContext): void {
  if (evidence.platform !== 'nitro') throw new VerifyError('EG_VERIFY_USAGE', `expected Nitro evidence, got ${evidence.platform}`);
  let spki: string;
  try {
    spki = certificateSpkiHex(cert);
  } catch (error) {
    if (error instanceof VerifyError) ctx.transcript.fail('nitro.binding.spki', error.code, error.message);
    throw error;
  }
  const userData = evidence.claims['userData'];
  if (typeof userData !== 'string') {
    const detail = 'document carries no user_data, so it is not bound to the certificate key';
    ctx.transcript.fail('nitro.binding.spki', 'EG_VERIFY_BINDING', detail);
    throw new VerifyError('EG_VERIFY_BINDING', detail);
  }
  if (userData.toLowerCase() !== spki) {
    const detail = `user_data (${userData.length / 2} B) is not the certificate's SubjectPublicKeyInfo (${spki.length / 2} B)`;
    ctx.transcript.fail('nitro.binding.spki', 'EG_VERIFY_BINDING', detail);
    throw new VerifyError('EG_VERIFY_BINDING', detail);
  }
  ctx.transcript.pass('nitro.binding.spki', "user_data equals the certificate's DER SubjectPublicKeyInfo");
}

/**
 * Verifies an Evervault-style certificate end to end: extracts the document
 * from the subjectAltName, verifies it at `ctx.at` (chain to the pinned AWS
 * root, COSE signature) and checks that user_data is the certificate's
 * SubjectPublicKeyInfo. The certificate's own signature and lifetime are left
 * to the TLS layer. Reference values are checked separately (`appraiseNitro`).
 */
export function verifyNitroSanCertificate(cert: CertificateInput, ctx: VerifyContext, options: NitroVerifyOptions = {}): VerifiedEvidence {
  let extracted: NitroSanDocument;
  try {
    extracted = extractNitroFromSan(cert);
  } catch (error) {
    if (error instanceof VerifyError) ctx.transcript.fail('nitro.san.extract', error.code, error.message);
    throw error;
  }
  ctx.transcript.pass('nitro.san.extract', `${extracted.document.length}-byte document in a subjectAltName for ${extracted.host || '(no host)'}`);
  const evidence = verifyNitroDocument(extracted.document, ctx, options);
  checkNitroCertificateBinding(evidence, cert, ctx);
  return evidence;
}
