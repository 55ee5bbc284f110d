/**
 * Builds RA-TLS certificates by hand for verifier tests, independently of
 * src/ratls/issue.ts, so each test can break exactly one thing: the claims,
 * the key they bind, the CMW copy, the validity, the evidence itself.
 */
import 'reflect-metadata';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { encodeClaims, reportDataFor, type RatlsClaims } from '../../../../src/wire/claims.js';
import {
  EVIDENCE_TAG,
  OID_CMW,
  OID_TCG_DICE_ENDORSEMENT_MANIFEST,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  encodeCmwExtension,
  encodeTaggedEvidence,
} from '../../../../src/wire/extension.js';
import { hashEntry, type HashEntry } from '../../../../src/wire/hash-entry.js';
import { encodeSimulatedEvidence } from '../../../../src/wire/simulated-evidence.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The policy hash test certificates claim by default. */
export const TEST_POLICY_HASH: HashEntry = hashEntry('sha-384', new TextEncoder().encode('test policy bundle'));
/** The measurement simulated test evidence reports by default. */
export const TEST_MEASUREMENT = new Uint8Array(48).fill(0x4d);

/** What to put in (or break about) a hand-built certificate. */
export interface BuildOptions {
  /** Evidence tag; default simulated. */
  readonly tag?: number;
  /** Evidence bytes; default simulated evidence whose report data binds the claims. */
  readonly evidence?: (claimsBuffer: Uint8Array) => Uint8Array;
  /** Claims; default binds this certificate's key with SHA-384 and claims TEST_POLICY_HASH. */
  readonly claims?: (spki: Uint8Array) => RatlsClaims;
  /** Raw claims bytes, overriding `claims` (for malformed claims). */
  readonly claimsBuffer?: Uint8Array;
  /** 'same' (default): CMW repeats the evidence; 'different': CMW holds other bytes; 'absent': no CMW; 'only': CMW without 2.23.133.5.4.9. */
  readonly cmw?: 'same' | 'different' | 'absent' | 'only';
  /** Leave out every evidence extension (an ordinary self-signed certificate). */
  readonly noEvidence?: boolean;
  /** 2.23.133.5.4.2 value. */
  readonly endorsements?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Sign the certificate with another key than the one it certifies. */
  readonly signWithOtherKey?: boolean;
  /** Extra extensions (e.g. a duplicate). */
  readonly extraExtensions?: readonly x509.Extension[];
}

/** A hand-built certificate and its key. */
export interface BuiltCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly keyPem: string;
  readonly spki: Uint8Array;
  readonly claimsBuffer: Uint8Array;
  readonly tagged: Uint8Array;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A fresh key's DER SubjectPublicKeyInfo (for claims that bind "another key"). */
export async function otherSpki(): Promise<Uint8Array> {
  const keys = await keyPair();
  return new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
}

/** Default claims: this key (SHA-384) and the test policy. */
export function defaultClaims(spki: Uint8Array): RatlsClaims {
  return { pubkeyHash: hashEntry('sha-384', spki), policyHash: TEST_POLICY_HASH };
}

/** Simulated evidence binding `claimsBuffer`. */
export function simulatedEvidenceFor(claimsBuffer: Uint8Array, measurement: Uint8Array = TEST_MEASUREMENT): Uint8Array {
  return encodeSimulatedEvidence({ measurement, reportData: reportDataFor(claimsBuffer), issuedAt: 1_700_000_000 });
}

/** Builds a self-signed RA-TLS certificate, breaking what `options` says. */
export async function buildCertificate(options: BuildOptions = {}): Promise<BuiltCertificate> {
  const keys = await keyPair();
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const claimsBuffer = options.claimsBuffer ?? encodeClaims((options.claims ?? defaultClaims)(spki));
  const evidence = (options.evidence ?? ((c: Uint8Array) => simulatedEvidenceFor(c)))(claimsBuffer);
  const tagged = encodeTaggedEvidence({ tag: options.tag ?? EVIDENCE_TAG.simulated, evidence, claims: claimsBuffer });
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }]),
  ];
  if (options.noEvidence !== true) {
    const cmw = options.cmw ?? 'same';
    if (cmw !== 'only') extensions.push(new x509.Extension(OID_TCG_DICE_TAGGED_EVIDENCE, false, tagged));
    if (cmw === 'same' || cmw === 'only') extensions.push(new x509.Extension(OID_CMW, false, encodeCmwExtension(tagged)));
    if (cmw === 'different') {
      const other = encodeTaggedEvidence({ tag: options.tag ?? EVIDENCE_TAG.simulated, evidence: simulatedEvidenceFor(new Uint8Array([1])), claims: claimsBuffer });
      extensions.push(new x509.Extension(OID_CMW, false, encodeCmwExtension(other)));
    }
    if (options.endorsements !== undefined) extensions.push(new x509.Extension(OID_TCG_DICE_ENDORSEMENT_MANIFEST, false, options.endorsements));
  }
  extensions.push(...(options.extraExtensions ?? []));
  const now = Date.now();
  const signingKeys = options.signWithOtherKey === true ? await keyPair() : keys;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    subject: 'CN=verify test',
    issuer: 'CN=verify test',
    notBefore: options.notBefore ?? new Date(now - 60_000),
    notAfter: options.notAfter ?? new Date(now + 3_600_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    publicKey: keys.publicKey,
    signingKey: signingKeys.privateKey,
    extensions,
  });
  const der = new Uint8Array(cert.rawData);
  return {
    der,
    pem: cert.toString('pem'),
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    spki,
    claimsBuffer,
    tagged,
  };
}
