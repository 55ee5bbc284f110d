/**
 * RA-TLS certificate issuance: a key born in this process, evidence binding
 * it (and the active policy) from the TEE, and a self-signed certificate that
 * carries that evidence.
 *
 * The private key is generated in memory and only ever handed to node:tls.
 * It is held in a private class field so it cannot be serialised, logged or
 * spread into an error by accident.
 */
import 'reflect-metadata';
import { KeyObject, X509Certificate as NodeX509, createHash, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { EnclaveGateError } from '../errors.js';
import type { EvidenceProvider } from '../evidence/provider.js';
import { encodeClaims, reportDataFor, type RatlsClaims } from '../wire/claims.js';
import {
  OID_CMW,
  OID_TCG_DICE_ENDORSEMENT_MANIFEST,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  encodeCmwExtension,
  encodeTaggedEvidence,
} from '../wire/extension.js';
import { hashEntry, type HashEntry } from '../wire/hash-entry.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** What the certificate should look like. */
export interface IssueOptions {
  readonly provider: EvidenceProvider;
  /** Digest of the active policy bundle; bound into the claims. */
  readonly policyHash: HashEntry;
  /** ECDSA curve of the TLS key. */
  readonly keyAlgorithm: 'P-384' | 'P-256';
  readonly validitySeconds: number;
  /** DNS names and IP addresses for the subjectAltName. */
  readonly subjectAltNames: readonly string[];
  readonly commonName: string;
  /** Hash of the decision-log signing key's SPKI, bound as the `audit-key-hash` claim (docs/audit.md). */
  readonly auditKeyHash?: HashEntry;
  /** Clock, injectable for tests. */
  readonly now?: () => Date;
}

/** A certificate with its in-memory key. */
export class IssuedCertificate {
  readonly #keyPem: string;
  /** PEM of the certificate (public). */
  readonly certPem: string;
  /** DER of the certificate (public). */
  readonly certDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the certificate DER, hex. */
  readonly fingerprint256: string;
  readonly claims: RatlsClaims;
  readonly platform: string;
  readonly insecure: boolean;
  /** When the evidence was obtained. */
  readonly evidenceIssuedAt: Date;
  /** Provider warnings about the evidence (e.g. endorsements that could not be stapled). */
  readonly warnings: readonly string[];

  constructor(fields: Omit<IssuedCertificate, 'secureContextOptions' | 'toJSON'> & { keyPem: string }) {
    const { keyPem, ...rest } = fields;
    this.#keyPem = keyPem;
    this.certPem = rest.certPem;
    this.certDer = rest.certDer;
    this.notBefore = rest.notBefore;
    this.notAfter = rest.notAfter;
    this.fingerprint256 = rest.fingerprint256;
    this.claims = rest.claims;
    this.platform = rest.platform;
    this.insecure = rest.insecure;
    this.evidenceIssuedAt = rest.evidenceIssuedAt;
    this.warnings = rest.warnings;
  }

  /** The key and certificate in the form tls.createSecureContext takes. */
  secureContextOptions(): { key: string; cert: string } {
    return { key: this.#keyPem, cert: this.certPem };
  }

  /** Public description only; the key never appears. */
  toJSON(): Record<string, unknown> {
    return {
      fingerprint256: this.fingerprint256,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      platform: this.platform,
      insecure: this.insecure,
    };
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function altNames(names: readonly string[]): x509.JsonGeneralNames {
  return names.map((name) => (IPV4.test(name) || name.includes(':') ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name }));
}

/** Generates a key, obtains evidence for it and issues the RA-TLS certificate. */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const now = (options.now ?? (() => new Date()))();
  try {
    const hash = options.keyAlgorithm === 'P-384' ? 'SHA-384' : 'SHA-256';
    const algorithm = { name: 'ECDSA', namedCurve: options.keyAlgorithm };
    // Extractable only so node:tls can receive the key; it never leaves this object.
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    const claims: RatlsClaims = {
      pubkeyHash: hashEntry('sha-384', spki),
      policyHash: options.policyHash,
      ...(options.auditKeyHash === undefined ? {} : { auditKeyHash: options.auditKeyHash }),
    };
    const claimsBuffer = encodeClaims(claims);
    const evidence = await options.provider.getEvidence(reportDataFor(claimsBuffer), { publicKey: spki });
    const tagged = encodeTaggedEvidence({ tag: evidence.tag, evidence: evidence.evidence, claims: claimsBuffer });

    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(altNames(options.subjectAltNames)),
      new x509.Extension(OID_TCG_DICE_TAGGED_EVIDENCE, false, tagged),
      new x509.Extension(OID_CMW, false, encodeCmwExtension(tagged, evidence.gpus ?? [])),
    ];
    if (evidence.endorsements) {
      extensions.push(new x509.Extension(OID_TCG_DICE_ENDORSEMENT_MANIFEST, false, evidence.endorsements));
    }
    // Backdate a minute so a client whose clock lags slightly still accepts it.
    const notBefore = new Date(now.getTime() - 60_000);
    const notAfter = new Date(now.getTime() + options.validitySeconds * 1000);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=${options.commonName}`,
      notBefore,
      notAfter,
      signingAlgorithm: { name: 'ECDSA', hash },
      keys,
      extensions,
    });
    const certDer = new Uint8Array(cert.rawData);
    const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    const certPem = new NodeX509(certDer).toString();
    return new IssuedCertificate({
      keyPem,
      certPem,
      certDer,
      notBefore,
      notAfter,
      fingerprint256: createHash('sha256').update(certDer).digest('hex'),
      claims,
      platform: options.provider.platform,
      insecure: options.provider.insecure,
      evidenceIssuedAt: now,
      warnings: evidence.warnings ?? [],
    });
  } catch (cause) {
    if (cause instanceof EnclaveGateError) throw cause;
    throw new EnclaveGateError('EG_CERT_ISSUE_FAILED', 'could not issue the RA-TLS certificate', { cause });
  }
}
