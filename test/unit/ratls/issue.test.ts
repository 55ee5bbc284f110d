import { X509Certificate, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createSimulatedProvider } from '../../../src/evidence/simulated.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { decodeClaims, reportDataFor } from '../../../src/wire/claims.js';
import { EVIDENCE_TAG, OID_CMW, OID_TCG_DICE_TAGGED_EVIDENCE, decodeCmwExtension, decodeTaggedEvidence } from '../../../src/wire/extension.js';
import { hashEntry, sameHashEntry } from '../../../src/wire/hash-entry.js';
import { decodeSimulatedEvidence } from '../../../src/wire/simulated-evidence.js';
import { findExtension } from '../../helpers/x509-extensions.js';

const policyHash = hashEntry('sha-384', new TextEncoder().encode('policy bundle'));

async function issue() {
  return issueCertificate({
    provider: createSimulatedProvider(),
    policyHash,
    keyAlgorithm: 'P-384',
    validitySeconds: 3600,
    subjectAltNames: ['localhost', '127.0.0.1'],
    commonName: 'enclave-gate test',
  });
}

describe('RA-TLS certificate issuance', () => {
  it('binds the certificate key and the policy through the evidence report data', async () => {
    const issued = await issue();
    const cert = new X509Certificate(issued.certPem);
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });

    const ext = findExtension(issued.certDer, OID_TCG_DICE_TAGGED_EVIDENCE);
    expect(ext.critical).toBe(false);
    const tagged = decodeTaggedEvidence(ext.value);
    expect(tagged.tag).toBe(EVIDENCE_TAG.simulated);

    const claims = decodeClaims(tagged.claims);
    // Independent computation: SHA-384 over the SPKI DER that node parsed out of the certificate.
    expect(Buffer.from(claims.pubkeyHash.digest).toString('hex')).toBe(createHash('sha384').update(spki).digest('hex'));
    expect(claims.policyHash && sameHashEntry(claims.policyHash, policyHash)).toBe(true);

    const body = decodeSimulatedEvidence(tagged.evidence);
    const expected = Buffer.concat([createHash('sha256').update(tagged.claims).digest(), Buffer.alloc(32)]);
    expect(Buffer.from(body.reportData).equals(expected)).toBe(true);
    expect(Buffer.from(reportDataFor(tagged.claims)).equals(expected)).toBe(true);
  });

  it('repeats the same evidence in the IETF CMW extension', async () => {
    const issued = await issue();
    const dice = findExtension(issued.certDer, OID_TCG_DICE_TAGGED_EVIDENCE);
    const cmw = findExtension(issued.certDer, OID_CMW);
    expect(cmw.critical).toBe(false);
    expect(Buffer.from(decodeCmwExtension(cmw.value)).equals(Buffer.from(dice.value))).toBe(true);
  });

  it('uses a fresh key per issuance and keeps it out of JSON', async () => {
    const [a, b] = await Promise.all([issue(), issue()]);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
    const json = JSON.stringify(a);
    expect(json).not.toMatch(/PRIVATE KEY/);
    expect(Object.keys(a).join(',')).not.toMatch(/key/i);
    expect(a.secureContextOptions().key).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('produces a certificate that openssl prints without error', async () => {
    const issued = await issue();
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: issued.certPem }).toString();
    expect(text).toMatch(/2\.23\.133\.5\.4\.9/);
    expect(text).toMatch(/1\.3\.6\.1\.5\.5\.7\.1\.35/);
    expect(text).toMatch(/NIST CURVE: P-384|secp384r1/);
    expect(text).toMatch(/DNS:localhost/);
  });
});
