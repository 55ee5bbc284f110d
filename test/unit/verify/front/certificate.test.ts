/**
 * verifyCertificate on enclave-gate's own certificates (issued by
 * src/ratls/issue.ts, and hand-built ones that break one thing each), on the
 * foreign certificates in the vectors (Open Enclave/echeck, Evervault) at
 * their README instants, and on the stapled-endorsement encoding.
 */
import 'reflect-metadata';
import { X509Certificate, createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIMULATED_MEASUREMENT, createSimulatedProvider } from '../../../../src/evidence/simulated.js';
import { issueCertificate } from '../../../../src/ratls/issue.js';
import {
  decodeStapledIntelCollateral,
  decodeStapledSnpEndorsements,
  encodeStapledEndorsements,
  verifyCertificate,
  type Verdict,
} from '../../../../src/verify/index.js';
import { encodeClaims } from '../../../../src/wire/claims.js';
import { EVIDENCE_TAG, OID_TCG_DICE_TAGGED_EVIDENCE } from '../../../../src/wire/extension.js';
import { formatHashEntry, hashEntry } from '../../../../src/wire/hash-entry.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { TEST_MEASUREMENT, TEST_POLICY_HASH, buildCertificate, defaultClaims, otherSpki, simulatedEvidenceFor } from './cert-builder.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function expectFailure(verdict: Verdict, code: string, step?: string): void {
  expect(verdict.ok, JSON.stringify(verdict.steps.at(-1))).toBe(false);
  expect(verdict.code, verdict.message).toBe(code);
  const last = verdict.steps.at(-1)!;
  expect(last.ok).toBe(false);
  expect(last.code).toBe(code);
  if (step !== undefined) expect(last.step).toBe(step);
  // Failure verdicts never carry evidence fields.
  expect(verdict.measurement).toBeUndefined();
  expect(verdict.ratls).toBeUndefined();
}

async function issueSimulated(validitySeconds = 3600) {
  return issueCertificate({
    provider: createSimulatedProvider(),
    policyHash: TEST_POLICY_HASH,
    keyAlgorithm: 'P-384',
    validitySeconds,
    subjectAltNames: ['localhost', '127.0.0.1'],
    commonName: 'enclave-gate verify test',
  });
}

describe('enclave-gate certificates issued by src/ratls', () => {
  it('verify with allowSimulated: key, policy and report data bound, simulated measurement', async () => {
    const issued = await issueSimulated();
    const at = new Date(issued.notBefore.getTime() + 120_000);
    for (const input of [issued.certDer, issued.certPem, new TextEncoder().encode(issued.certPem)]) {
      const verdict = verifyCertificate(input, { at, allowSimulated: true });
      expect(verdict.ok, verdict.message).toBe(true);
      expect(verdict.platform).toBe('simulated');
      expect(verdict.measurement).toBe(hex(DEFAULT_SIMULATED_MEASUREMENT));
      expect(verdict.debug).toBe(false);
      expect(verdict.code).toBeUndefined();
      const spki = new X509Certificate(issued.certPem).publicKey.export({ type: 'spki', format: 'der' });
      expect(verdict.ratls).toEqual({
        format: 'enclave-gate',
        pubkeyHash: `sha-384:${createHash('sha384').update(spki).digest('hex')}`,
        policyHash: formatHashEntry(TEST_POLICY_HASH),
      });
      expect(verdict.validUntil).toBe(issued.notAfter.toISOString().replace(/\.\d{3}Z$/, '.000Z'));
      expect(verdict.steps.every((s) => s.ok)).toBe(true);
      expect(verdict.steps.map((s) => s.step)).toEqual(
        expect.arrayContaining(['cert.parse', 'cert.cmw', 'cert.signature', 'cert.validity', 'ratls.pubkey-hash', 'ratls.report-data', 'simulated.signature']),
      );
    }
  });

  it('refuse simulated evidence by default, after its signature was checked', async () => {
    const issued = await issueSimulated();
    const verdict = verifyCertificate(issued.certDer, { at: new Date(issued.notBefore.getTime() + 120_000) });
    expectFailure(verdict, 'EG_VERIFY_SIMULATED', 'simulated.allowed');
    expect(verdict.platform).toBe('simulated');
    const signature = verdict.steps.find((s) => s.step === 'simulated.signature');
    expect(signature?.ok).toBe(true);
    expect(signature?.detail).toContain(hex(DEFAULT_SIMULATED_MEASUREMENT));
  });

  it('allowSimulated may come from the reference values', async () => {
    const issued = await issueSimulated();
    const at = new Date(issued.notBefore.getTime() + 120_000);
    expect(verifyCertificate(issued.certDer, { at, referenceValues: { allowSimulated: true } }).ok).toBe(true);
  });

  it('check the policy hash against policyHashes', async () => {
    const issued = await issueSimulated();
    const at = new Date(issued.notBefore.getTime() + 120_000);
    const mine = formatHashEntry(TEST_POLICY_HASH);
    const other = formatHashEntry(hashEntry('sha-384', new Uint8Array([9])));
    expect(verifyCertificate(issued.certDer, { at, allowSimulated: true, referenceValues: { policyHashes: [other, mine.toUpperCase().replace('SHA-384', 'sha-384')] } }).ok).toBe(true);
    expectFailure(verifyCertificate(issued.certDer, { at, allowSimulated: true, referenceValues: { policyHashes: [other] } }), 'EG_VERIFY_REFERENCE_VALUES', 'ratls.policy-hash');
  });

  it('check the measurement allowlist', async () => {
    const issued = await issueSimulated();
    const at = new Date(issued.notBefore.getTime() + 120_000);
    expect(verifyCertificate(issued.certDer, { at, allowSimulated: true, referenceValues: { measurements: [hex(DEFAULT_SIMULATED_MEASUREMENT)] } }).ok).toBe(true);
    expectFailure(
      verifyCertificate(issued.certDer, { at, allowSimulated: true, referenceValues: { measurements: ['ab'.repeat(48)] } }),
      'EG_VERIFY_REFERENCE_VALUES',
      'appraise.measurement',
    );
  });

  it('are expired before notBefore and after notAfter', async () => {
    const issued = await issueSimulated(600);
    expectFailure(verifyCertificate(issued.certDer, { at: new Date(issued.notAfter.getTime() + 1000), allowSimulated: true }), 'EG_VERIFY_EXPIRED', 'cert.validity');
    expectFailure(verifyCertificate(issued.certDer, { at: new Date(issued.notBefore.getTime() - 1000), allowSimulated: true }), 'EG_VERIFY_EXPIRED', 'cert.validity');
  });
});

describe('hand-built certificates, one defect each', () => {
  const at = (): Date => new Date();

  it('the baseline verifies', async () => {
    const built = await buildCertificate();
    const verdict = verifyCertificate(built.der, { at: at(), allowSimulated: true });
    expect(verdict.ok, verdict.message).toBe(true);
    expect(verdict.measurement).toBe(hex(TEST_MEASUREMENT));
  });

  it('claims that bind another key: EG_VERIFY_BINDING at ratls.pubkey-hash', async () => {
    const other = await otherSpki();
    const built = await buildCertificate({ claims: () => defaultClaims(other) });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_BINDING', 'ratls.pubkey-hash');
  });

  it('claims that bind the key with SHA-256 or SHA-512 verify too', async () => {
    for (const alg of ['sha-256', 'sha-512'] as const) {
      const built = await buildCertificate({ claims: (spki) => ({ pubkeyHash: hashEntry(alg, spki), policyHash: TEST_POLICY_HASH }) });
      const verdict = verifyCertificate(built.der, { at: at(), allowSimulated: true });
      expect(verdict.ok, verdict.message).toBe(true);
      expect(verdict.ratls?.pubkeyHash.startsWith(`${alg}:`)).toBe(true);
    }
  });

  it('tampered claims (evidence made for other claims): EG_VERIFY_BINDING at ratls.report-data', async () => {
    const built = await buildCertificate({
      evidence: () => simulatedEvidenceFor(encodeClaims({ pubkeyHash: hashEntry('sha-384', new Uint8Array([1])), policyHash: TEST_POLICY_HASH })),
    });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_BINDING', 'ratls.report-data');
  });

  it('a CMW copy that differs: EG_VERIFY_BINDING at cert.cmw', async () => {
    const built = await buildCertificate({ cmw: 'different' });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_BINDING', 'cert.cmw');
  });

  it('evidence only in the CMW extension, or only in 2.23.133.5.4.9, verifies', async () => {
    for (const cmw of ['only', 'absent'] as const) {
      const built = await buildCertificate({ cmw });
      expect(verifyCertificate(built.der, { at: at(), allowSimulated: true }).ok).toBe(true);
    }
  });

  it('no evidence extension at all: EG_VERIFY_PARSE at cert.evidence', async () => {
    const built = await buildCertificate({ noEvidence: true });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_PARSE', 'cert.evidence');
  });

  it('a certificate not signed by its own key: EG_VERIFY_SIGNATURE at cert.signature', async () => {
    const built = await buildCertificate({ signWithOtherKey: true });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_SIGNATURE', 'cert.signature');
  });

  it('expired at `at`: EG_VERIFY_EXPIRED', async () => {
    const built = await buildCertificate({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2024-01-02T00:00:00Z') });
    expectFailure(verifyCertificate(built.der, { at: new Date('2024-01-03T00:00:00Z'), allowSimulated: true }), 'EG_VERIFY_EXPIRED', 'cert.validity');
    expect(verifyCertificate(built.der, { at: new Date('2024-01-01T12:00:00Z'), allowSimulated: true }).ok).toBe(true);
  });

  it('malformed claims: EG_VERIFY_PARSE at ratls.claims', async () => {
    const built = await buildCertificate({ claimsBuffer: new Uint8Array([0xa1, 0x63, 0x66, 0x6f, 0x6f, 0x01]) });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_PARSE', 'ratls.claims');
  });

  it('an unknown evidence tag: EG_VERIFY_UNSUPPORTED', async () => {
    const built = await buildCertificate({ tag: 0x45470099 });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_UNSUPPORTED', 'ratls.evidence');
  });

  it('simulated evidence with a broken signature: EG_VERIFY_SIGNATURE even when simulation is allowed', async () => {
    const built = await buildCertificate({
      evidence: (claims) => {
        const bytes = simulatedEvidenceFor(claims);
        bytes[bytes.length - 1]! ^= 0x01;
        return bytes;
      },
    });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_SIGNATURE', 'simulated.signature');
  });

  it('a DER certificate embedding another certificate as PEM is read as itself, not as the embedded one', async () => {
    // node:crypto parses a buffer as PEM first, wherever a BEGIN line starts.
    const genuine = Buffer.concat([Buffer.from('\n'), vector('ratls-certs/evervault-nitro-san-2023-01-18.pem')]);
    const built = await buildCertificate({ noEvidence: true, extraExtensions: [new x509.Extension('1.3.6.1.4.1.99999.1', false, genuine)] });
    const verdict = verifyCertificate(built.der, { at: new Date(1674054914000) });
    expectFailure(verdict, 'EG_VERIFY_PARSE', 'cert.evidence');
    expect(verdict.steps[0]!.detail).toMatch(/^"CN=verify test"/);
  });

  it('a duplicated evidence extension: EG_VERIFY_PARSE', async () => {
    const built = await buildCertificate({ cmw: 'absent', extraExtensions: [new x509.Extension(OID_TCG_DICE_TAGGED_EVIDENCE, false, new Uint8Array([0xf6]))] });
    expectFailure(verifyCertificate(built.der, { at: at(), allowSimulated: true }), 'EG_VERIFY_PARSE', 'cert.parse');
  });

  it('expectedNonce is compared with the claims nonce', async () => {
    const nonce = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const withNonce = await buildCertificate({ claims: (spki) => ({ ...defaultClaims(spki), nonce }) });
    const ok = verifyCertificate(withNonce.der, { at: at(), allowSimulated: true, referenceValues: { expectedNonce: '0102030405060708' } });
    expect(ok.ok, ok.message).toBe(true);
    expect(ok.ratls?.nonce).toBe('0102030405060708');
    expectFailure(verifyCertificate(withNonce.der, { at: at(), allowSimulated: true, referenceValues: { expectedNonce: '0102030405060709' } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
    const without = await buildCertificate();
    expectFailure(verifyCertificate(without.der, { at: at(), allowSimulated: true, referenceValues: { expectedNonce: '01' } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
  });

  it('claims without a policy hash fail only when policyHashes are required', async () => {
    const built = await buildCertificate({ claims: (spki) => ({ pubkeyHash: hashEntry('sha-384', spki) }) });
    const verdict = verifyCertificate(built.der, { at: at(), allowSimulated: true });
    expect(verdict.ok).toBe(true);
    expect(verdict.ratls?.policyHash).toBeUndefined();
    expectFailure(
      verifyCertificate(built.der, { at: at(), allowSimulated: true, referenceValues: { policyHashes: [formatHashEntry(TEST_POLICY_HASH)] } }),
      'EG_VERIFY_REFERENCE_VALUES',
      'ratls.policy-hash',
    );
  });
});

describe('invalid input is a verdict, never an exception', () => {
  it('garbage, empty input, text without PEM', () => {
    for (const input of [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), new Uint8Array(), 'hello', 'not a cert at all']) {
      expectFailure(verifyCertificate(input, { at: new Date() }), 'EG_VERIFY_PARSE', 'cert.parse');
    }
  });

  it('a missing or invalid `at` and invalid reference values are EG_VERIFY_USAGE', async () => {
    const built = await buildCertificate();
    expect(verifyCertificate(built.der, {} as never).code).toBe('EG_VERIFY_USAGE');
    expect(verifyCertificate(built.der, { at: new Date('nope') }).code).toBe('EG_VERIFY_USAGE');
    expect(verifyCertificate(built.der, { at: new Date(), referenceValues: { measurment: [] } as never }).code).toBe('EG_VERIFY_USAGE');
    expect(verifyCertificate(built.der, undefined as never).code).toBe('EG_VERIFY_USAGE');
  });
});

describe('stapled endorsements (2.23.133.5.4.2)', () => {
  const snpEndorsements = () => ({ vek: new Uint8Array(vector('sev-snp/trustee-milan-vcek.der')), chain: pemToDers(vectorText('sev-snp/amd-milan-ask-ark.pem')) });

  function pemToDers(pem: string): Uint8Array[] {
    return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new Uint8Array(new X509Certificate(b).raw));
  }

  const windowed = { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') };

  it('round-trip for SEV-SNP and Intel', () => {
    const snp = snpEndorsements();
    const decoded = decodeStapledSnpEndorsements(encodeStapledEndorsements(EVIDENCE_TAG.sevSnp, snp));
    expect(Buffer.from(decoded.vek as Uint8Array).equals(Buffer.from(snp.vek))).toBe(true);
    expect((decoded.chain as Uint8Array[]).length).toBe(2);
    const intel = { tcbInfo: '{"tcbInfo":{}}', tcbInfoIssuerChain: 'pem', pckCrl: new Uint8Array([1, 2]) };
    expect(decodeStapledIntelCollateral(encodeStapledEndorsements(EVIDENCE_TAG.intelQuote, intel))).toEqual(intel);
  });

  it('refuse the wrong tag, unknown keys and wrong types', () => {
    const snp = snpEndorsements();
    expect(() => decodeStapledSnpEndorsements(encodeStapledEndorsements(EVIDENCE_TAG.nitro, snp))).toThrow(/tag/);
    expect(() => decodeStapledSnpEndorsements(new Uint8Array([0x01]))).toThrow(/tagged/);
    expect(() => decodeStapledIntelCollateral(encodeStapledEndorsements(EVIDENCE_TAG.intelQuote, { tcbInfo: 'x' } as never))).toThrow(/tcb-info-issuer-chain/);
  });

  it('a real SNP report in our format: stapled VCEK chain verifies, then the report data does not bind the claims', async () => {
    const built = await buildCertificate({
      ...windowed,
      tag: EVIDENCE_TAG.sevSnp,
      evidence: () => new Uint8Array(vector('sev-snp/trustee-milan-report.bin')),
      endorsements: encodeStapledEndorsements(EVIDENCE_TAG.sevSnp, snpEndorsements()),
    });
    const verdict = verifyCertificate(built.der, { at: new Date('2025-01-01T00:00:00Z') });
    expectFailure(verdict, 'EG_VERIFY_BINDING', 'ratls.report-data');
    expect(verdict.platform).toBe('sev-snp');
    const passed = verdict.steps.filter((s) => s.ok).map((s) => s.step);
    expect(passed).toEqual(expect.arrayContaining(['ratls.endorsements', 'snp.chain', 'snp.report.signature']));
  });

  it('a real SNP report without stapled endorsements: EG_VERIFY_ENDORSEMENTS_MISSING unless the caller gives them', async () => {
    const built = await buildCertificate({ ...windowed, tag: EVIDENCE_TAG.sevSnp, evidence: () => new Uint8Array(vector('sev-snp/trustee-milan-report.bin')) });
    const at = new Date('2025-01-01T00:00:00Z');
    expectFailure(verifyCertificate(built.der, { at }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expectFailure(verifyCertificate(built.der, { at, endorsements: snpEndorsements() }), 'EG_VERIFY_BINDING', 'ratls.report-data');
  });

  it('a real TDX quote with stapled Intel collateral verifies, then the report data does not bind the claims', async () => {
    const root = vectorText('tdx/intel-sgx-root-ca.pem');
    const built = await buildCertificate({
      ...windowed,
      tag: EVIDENCE_TAG.intelQuote,
      evidence: () => new Uint8Array(vector('tdx/gotdx-v5-quote.dat')),
      endorsements: encodeStapledEndorsements(EVIDENCE_TAG.intelQuote, {
        tcbInfo: vectorText('tdx/gotdx-tcbinfo-90c06f000000.json'),
        tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2025.pem') + root,
      }),
    });
    const verdict = verifyCertificate(built.der, { at: new Date('2026-02-03T01:00:00Z') });
    expectFailure(verdict, 'EG_VERIFY_BINDING', 'ratls.report-data');
    expect(verdict.platform).toBe('tdx');
    expect(verdict.steps.find((s) => s.step === 'intel.tcb.status')?.detail).toMatch(/^UpToDate/);
    // The quote embeds the PCK chain as PEM; node:crypto given these DER bytes
    // would parse the embedded Intel certificate instead of this one.
    expect(verdict.steps.find((s) => s.step === 'cert.parse')?.detail).toMatch(/^"CN=verify test"/);
  });

  it('a real Nitro document in our format: verifies, then user_data does not bind the claims', async () => {
    const built = await buildCertificate({ ...windowed, tag: EVIDENCE_TAG.nitro, evidence: () => new Uint8Array(vector('nitro/evervault-2022-10-13.cbor')) });
    const verdict = verifyCertificate(built.der, { at: new Date('2022-10-13T09:00:00Z') });
    expectFailure(verdict, 'EG_VERIFY_BINDING', 'ratls.report-data');
    expect(verdict.steps.find((s) => s.step === 'nitro.cose.signature')?.ok).toBe(true);
  });
});

describe('Open Enclave / echeck SGX certificates', () => {
  const phala = () => JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as never;
  const MRENCLAVE = 'df2493c11fc01708af6913323b64e20ae84b12779dbe44ba428da66dfc4488f5';
  const MRSIGNER = '976aa9f931b8a16e01e01895d627e3ee96dce5478ebbbc77e120a25c79fe6016';

  it.each([
    ['echeck-sgx-oe-sample.pem', '4f1ea682', '48b13a'],
    ['echeck-sgx-oe-sample2.pem', '6e212d9f', 'a853d69a'],
  ])('%s verifies at 2025-07-01 with the phala collateral and its advisories accepted', (file, head, tail) => {
    const verdict = verifyCertificate(vectorText(`ratls-certs/${file}`), {
      at: new Date('2025-07-01T00:00:00Z'),
      collateral: phala(),
      referenceValues: {
        sgx: {
          mrEnclave: [MRENCLAVE],
          mrSigner: [MRSIGNER],
          acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'],
          acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
        },
      },
    });
    expect(verdict.ok, verdict.message).toBe(true);
    expect(verdict.platform).toBe('sgx');
    expect(verdict.measurement).toBe(MRENCLAVE);
    expect(verdict.tcb).toMatchObject({ status: 'ConfigurationAndSWHardeningNeeded', advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'], qeStatus: 'UpToDate' });
    expect(verdict.ratls?.format).toBe('open-enclave');
    expect(verdict.ratls?.pubkeyHash.startsWith(`sha-256:${head}`)).toBe(true);
    expect(verdict.ratls?.pubkeyHash.endsWith(tail)).toBe(true);
    expect((verdict.claims?.['pck'] as Record<string, unknown>)['issuer']).toBe('Intel SGX PCK Processor CA');
  });

  it('default appraisal refuses its TCB status (EG_VERIFY_TCB)', () => {
    const verdict = verifyCertificate(vectorText('ratls-certs/echeck-sgx-oe-sample.pem'), {
      at: new Date('2025-07-01T00:00:00Z'),
      collateral: phala(),
      referenceValues: { measurements: [MRENCLAVE] },
    });
    expectFailure(verdict, 'EG_VERIFY_TCB', 'intel.appraise.tcb');
  });

  it('is expired after 2026-05-06', () => {
    const verdict = verifyCertificate(vectorText('ratls-certs/echeck-sgx-oe-sample.pem'), { at: new Date('2026-06-01T00:00:00Z') });
    expectFailure(verdict, 'EG_VERIFY_EXPIRED', 'cert.validity');
  });

  it('a policy hash or nonce cannot be required of it', () => {
    const base = { at: new Date('2025-07-01T00:00:00Z'), collateral: phala() };
    const sgx = { requireCollateral: false, allowAnyMeasurement: true };
    const pem = vectorText('ratls-certs/echeck-sgx-oe-sample.pem');
    expectFailure(verifyCertificate(pem, { ...base, referenceValues: { sgx, policyHashes: [formatHashEntry(TEST_POLICY_HASH)] } }), 'EG_VERIFY_REFERENCE_VALUES', 'ratls.policy-hash');
    expectFailure(verifyCertificate(pem, { ...base, referenceValues: { sgx, expectedNonce: '00' } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
  });
});

describe('Evervault Nitro subjectAltName certificates', () => {
  const at = new Date(1674054914 * 1000); // the instant evervault's time-sensitive tests use
  const PCR0 = 'd265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af';

  it('the non-debug certificate verifies (PEM and DER) and its PCR0 matches', () => {
    for (const input of [vectorText('ratls-certs/evervault-nitro-san-2023-01-18.pem'), new Uint8Array(vector('ratls-certs/evervault-nitro-san-2023-01-18.der'))]) {
      const verdict = verifyCertificate(input, { at, referenceValues: { measurements: [PCR0] } });
      expect(verdict.ok, verdict.message).toBe(true);
      expect(verdict.platform).toBe('nitro');
      expect(verdict.debug).toBe(false);
      expect(verdict.ratls?.format).toBe('evervault');
      expect(verdict.steps.find((s) => s.step === 'nitro.binding.spki')?.ok).toBe(true);
    }
  });

  it('all-zero expected PCRs do not match (EG_VERIFY_REFERENCE_VALUES)', () => {
    const zero = '00'.repeat(48);
    const verdict = verifyCertificate(vectorText('ratls-certs/evervault-nitro-san-2023-01-18.pem'), { at, referenceValues: { nitro: { pcrs: { 0: [zero], 1: [zero], 2: [zero] } } } });
    expectFailure(verdict, 'EG_VERIFY_REFERENCE_VALUES', 'nitro.appraise.pcr0');
  });

  it('the debug certificate is refused by default and accepted with allowDebug', () => {
    const pem = vectorText('ratls-certs/evervault-nitro-san-debug-2023-01-18.pem');
    expectFailure(verifyCertificate(pem, { at }), 'EG_VERIFY_DEBUG', 'appraise.debug');
    const verdict = verifyCertificate(pem, { at, allowDebug: true });
    expect(verdict.ok, verdict.message).toBe(true);
    expect(verdict.debug).toBe(true);
  });

  it('outside the document signing certificate lifetime it is expired', () => {
    expectFailure(verifyCertificate(vectorText('ratls-certs/evervault-nitro-san-2023-01-18.pem'), { at: new Date('2023-01-18T17:00:00Z') }), 'EG_VERIFY_EXPIRED');
  });
});
