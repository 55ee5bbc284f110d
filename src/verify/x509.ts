/**
 * X.509 helpers every platform verifier shares: parsing with typed errors,
 * validity at an injected instant, and chain checks that end at a pinned root
 * (by SHA-256 fingerprint of the DER). Uses node:crypto's X509Certificate,
 * which accepts AMD VCEKs with serial 0 and verifies RSA-PSS signatures.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { VerifyError } from '../errors.js';
import type { VerifyContext } from './types.js';

/** True when `bytes` is PEM text (leading white space allowed) rather than DER. */
function looksLikePem(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return Buffer.from(bytes.subarray(i, i + 10)).toString('latin1') === '-----BEGIN';
}

/**
 * Parses one certificate: PEM text (string, or bytes that start with a PEM
 * header) or DER bytes; `what` names it in errors.
 *
 * DER is wrapped into PEM here and the parsed certificate's encoding must equal
 * the input byte for byte. Why: node:crypto tries PEM first on any buffer and
 * takes the first "-----BEGIN CERTIFICATE-----" block it finds anywhere in it,
 * so DER that carries a PEM block (say inside an extension an attacker
 * controls) would otherwise parse as that other certificate.
 */
export function parseCertificate(input: Uint8Array | string, what: string): X509Certificate {
  let cert: X509Certificate;
  try {
    if (typeof input === 'string') return new X509Certificate(input);
    if (looksLikePem(input)) return new X509Certificate(Buffer.from(input).toString('latin1'));
    const der = Buffer.from(input);
    // 64-character lines with no empty line before the footer (an empty line
    // when the base64 length is a multiple of 64 makes the PEM unreadable).
    const body = (der.toString('base64').match(/.{1,64}/g) ?? []).join('\n');
    const pem = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what} is not a valid X.509 certificate`, { cause });
  }
  if (!cert.raw.equals(Buffer.from(input))) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what} has bytes beyond its DER certificate encoding`);
  }
  return cert;
}

/** Splits a PEM bundle into certificates, in file order. */
export function parsePemBundle(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new VerifyError('EG_VERIFY_PARSE', `${what} holds no PEM certificate`);
  return blocks.map((block, i) => parseCertificate(block, `${what} [${i}]`));
}

/** Lower-case hex SHA-256 of the certificate's DER encoding. */
export function fingerprint256(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

/** Throws EG_VERIFY_EXPIRED unless `at` lies inside the certificate's validity. */
export function checkValidity(cert: X509Certificate, what: string, ctx: VerifyContext): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (ctx.at < notBefore || ctx.at > notAfter) {
    const detail = `${what} valid ${notBefore.toISOString()} → ${notAfter.toISOString()}, checked at ${ctx.at.toISOString()}`;
    ctx.transcript.fail(`${what}.validity`, 'EG_VERIFY_EXPIRED', detail);
    throw new VerifyError('EG_VERIFY_EXPIRED', detail);
  }
}

/** Throws EG_VERIFY_CHAIN unless `issuer` signed `subject`. */
export function checkSignedBy(subject: X509Certificate, issuer: X509Certificate, label: string, ctx: VerifyContext): void {
  let ok = false;
  try {
    ok = subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) {
    const detail = `${label}: "${subject.subject.replace(/\n/g, ', ')}" is not signed by "${issuer.subject.replace(/\n/g, ', ')}"`;
    ctx.transcript.fail(`${label}.signature`, 'EG_VERIFY_CHAIN', detail);
    throw new VerifyError('EG_VERIFY_CHAIN', detail);
  }
}

/**
 * Verifies `chain` (leaf first, root last): each link signed by the next,
 * every certificate valid at ctx.at, and the root self-signed with a pinned
 * fingerprint. A root that is not pinned is a chain failure, never a warning.
 */
export function verifyChain(
  chain: readonly X509Certificate[],
  pinnedRoots: ReadonlyMap<string, string>,
  label: string,
  ctx: VerifyContext,
): void {
  const root = chain.at(-1);
  if (root === undefined) throw new VerifyError('EG_VERIFY_CHAIN', `${label}: empty certificate chain`);
  const rootName = pinnedRoots.get(fingerprint256(root));
  if (rootName === undefined) {
    const detail = `${label}: root "${root.subject.replace(/\n/g, ', ')}" (sha256 ${fingerprint256(root)}) is not a pinned vendor root`;
    ctx.transcript.fail(`${label}.root`, 'EG_VERIFY_CHAIN', detail);
    throw new VerifyError('EG_VERIFY_CHAIN', detail);
  }
  checkSignedBy(root, root, `${label}.root`, ctx);
  for (let i = 0; i < chain.length - 1; i++) {
    checkSignedBy(chain[i]!, chain[i + 1]!, `${label}[${i}]`, ctx);
  }
  chain.forEach((cert, i) => checkValidity(cert, `${label}[${i}]`, ctx));
  ctx.transcript.pass(`${label}.chain`, `${chain.length} certificates to pinned root ${rootName}`);
}
