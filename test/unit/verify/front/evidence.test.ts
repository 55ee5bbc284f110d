/**
 * verifyEvidence on at least one real vector per platform (at the README's
 * validation instants) and on simulated evidence: dispatch, common
 * appraisal (debug, measurements, nonce), platform sections, and the
 * verdict shape for successes and failures.
 */
import { describe, expect, it } from 'vitest';
import { verifyEvidence, type Verdict, type VerifyEvidenceInput } from '../../../../src/verify/index.js';
import { encodeSimulatedEvidence } from '../../../../src/wire/simulated-evidence.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

function expectFailure(verdict: Verdict, code: string, step?: string): void {
  expect(verdict.ok).toBe(false);
  expect(verdict.code, verdict.message).toBe(code);
  const last = verdict.steps.at(-1)!;
  expect(last).toMatchObject({ ok: false, code });
  if (step !== undefined) expect(last.step).toBe(step);
  expect(verdict.measurement).toBeUndefined();
}

function expectOk(verdict: Verdict): void {
  expect(verdict.ok, `${verdict.code}: ${verdict.message}`).toBe(true);
  expect(verdict.steps.every((s) => s.ok)).toBe(true);
}

const bytes = (file: string): Uint8Array => new Uint8Array(vector(file));

describe('SEV-SNP', () => {
  const gosev = (extra: Partial<VerifyEvidenceInput> = {}): Verdict =>
    verifyEvidence({
      platform: 'sev-snp',
      evidence: bytes('sev-snp/gosev-milan-report.bin'),
      endorsements: { vek: bytes('sev-snp/gosev-milan-vcek.der'), chain: vectorText('sev-snp/amd-milan-ask-ark.pem') },
      product: 'milan',
      at: new Date('2022-09-24T01:00:00Z'),
      ...extra,
    });
  const GOSEV_MEASUREMENT = 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01';

  it('the go-sev-guest report is a debug guest: refused by default', () => {
    expectFailure(gosev(), 'EG_VERIFY_DEBUG', 'appraise.debug');
  });

  it('verifies with allowDebug (flag, common key or SNP section)', () => {
    for (const extra of [{ allowDebug: true }, { referenceValues: { allowDebug: true } }, { referenceValues: { 'sev-snp': { allowDebug: true } } }]) {
      const verdict = gosev(extra);
      expectOk(verdict);
      expect(verdict).toMatchObject({ platform: 'sev-snp', measurement: GOSEV_MEASUREMENT, debug: true, reportData: `0102030405${'00'.repeat(59)}` });
      expect(verdict.tcb).toMatchObject({ product: 'milan', reported: { bootloader: 2, tee: 0, snp: 5, microcode: 68 } });
      expect(verdict.validUntil).toBe('2029-09-24T00:55:28.000Z');
    }
  });

  it('a section saying allowDebug: false wins over the common key', () => {
    expectFailure(gosev({ referenceValues: { allowDebug: true, 'sev-snp': { allowDebug: false } } }), 'EG_VERIFY_DEBUG');
  });

  it('expectedNonce is the report data, zero-padded', () => {
    expectOk(gosev({ allowDebug: true, referenceValues: { expectedNonce: '0102030405' } }));
    expectFailure(gosev({ allowDebug: true, referenceValues: { expectedNonce: '0102030406' } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
  });

  it('measurement allowlists (common and SNP section) and a minimum TCB', () => {
    expectOk(gosev({ allowDebug: true, referenceValues: { measurements: [GOSEV_MEASUREMENT.toUpperCase()] } }));
    expectFailure(gosev({ allowDebug: true, referenceValues: { measurements: ['00'.repeat(48)] } }), 'EG_VERIFY_REFERENCE_VALUES', 'appraise.measurement');
    expectFailure(gosev({ allowDebug: true, referenceValues: { 'sev-snp': { measurements: ['00'.repeat(48)] } } }), 'EG_VERIFY_REFERENCE_VALUES');
    expectFailure(gosev({ allowDebug: true, referenceValues: { 'sev-snp': { minimumTcb: { bootloader: 3, tee: 0, snp: 5, microcode: 68 } } } }), 'EG_VERIFY_TCB');
  });

  it('a non-debug report verifies with the safe defaults', () => {
    const verdict = verifyEvidence({
      platform: 'sev-snp',
      evidence: bytes('sev-snp/trustee-milan-report.bin'),
      endorsements: { vek: bytes('sev-snp/trustee-milan-vcek.der'), chain: vectorText('sev-snp/amd-milan-ask-ark.pem') },
      at: new Date('2025-01-01T00:00:00Z'),
    });
    expectOk(verdict);
    expect(verdict.measurement).toBe('a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c');
    expect(verdict.debug).toBe(false);
  });

  it('without endorsements: EG_VERIFY_ENDORSEMENTS_MISSING; a flipped signed byte: EG_VERIFY_SIGNATURE', () => {
    expectFailure(gosev({ endorsements: undefined }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    const report = bytes('sev-snp/gosev-milan-report.bin');
    report[0x50]! ^= 0x01;
    expectFailure(gosev({ evidence: report, allowDebug: true }), 'EG_VERIFY_SIGNATURE', 'snp.report.signature');
  });
});

describe('TDX', () => {
  const phalaV4 = (extra: Partial<VerifyEvidenceInput> = {}): Verdict =>
    verifyEvidence({
      platform: 'tdx',
      evidence: bytes('tdx/phala-v4-quote.dat'),
      collateral: JSON.parse(vectorText('tdx/phala-v4-collateral.json')) as never,
      at: new Date('2025-07-19T10:00:34Z'),
      ...extra,
    });

  it('Intel evidence needs a measurement allowlist: without one it is refused', () => {
    expectFailure(phalaV4(), 'EG_VERIFY_REFERENCE_VALUES', 'intel.appraise.measurement');
  });

  it('the phala v4 quote is UpToDate and its MRTD can be pinned by the common allowlist', () => {
    const probe = phalaV4({ referenceValues: { tdx: { allowAnyMeasurement: true } } });
    expectOk(probe);
    expect(probe.measurement!.startsWith('91eb2b44')).toBe(true);
    expect(probe.measurement!.endsWith('873118b7')).toBe(true);
    expect(probe.tcb).toMatchObject({ status: 'UpToDate', advisoryIds: [], collateral: 'verified' });
    expect(probe.validUntil).toBe(new Date(String(probe.tcb!['tcbInfoNextUpdate'])).toISOString());
    expectOk(phalaV4({ referenceValues: { measurements: [probe.measurement!] } }));
    expectOk(phalaV4({ referenceValues: { tdx: { mrTd: [probe.measurement!] } } }));
    expectFailure(phalaV4({ referenceValues: { measurements: ['11'.repeat(48)] } }), 'EG_VERIFY_REFERENCE_VALUES', 'appraise.measurement');
  });

  it('a TDX quote given as SGX is a usage error', () => {
    expectFailure(phalaV4({ platform: 'sgx' }), 'EG_VERIFY_USAGE');
  });

  it('without collateral the TCB status is unknown: refused unless requireCollateral is false', () => {
    expectFailure(phalaV4({ collateral: undefined, referenceValues: { tdx: { allowAnyMeasurement: true } } }), 'EG_VERIFY_TCB');
    expectOk(phalaV4({ collateral: undefined, referenceValues: { tdx: { allowAnyMeasurement: true, requireCollateral: false } } }));
  });
});

describe('SGX', () => {
  const phalaV3 = (extra: Partial<VerifyEvidenceInput> = {}): Verdict =>
    verifyEvidence({
      platform: 'sgx',
      evidence: bytes('sgx/phala-v3-quote.dat'),
      collateral: JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as never,
      at: new Date('2025-07-01T00:00:00Z'),
      ...extra,
    });
  const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';

  it('ConfigurationAndSWHardeningNeeded is refused by default', () => {
    expectFailure(phalaV3({ referenceValues: { measurements: [MRENCLAVE] } }), 'EG_VERIFY_TCB', 'intel.appraise.tcb');
  });

  it('verifies when the status and its advisories are accepted', () => {
    const verdict = phalaV3({
      referenceValues: {
        measurements: [MRENCLAVE],
        sgx: { acceptedTcbStatuses: ['UpToDate', 'ConfigurationAndSWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] },
      },
    });
    expectOk(verdict);
    expect(verdict).toMatchObject({ platform: 'sgx', measurement: MRENCLAVE, debug: false });
    expect(verdict.reportData!.startsWith(Buffer.from('Hello, world!').toString('hex'))).toBe(true);
  });

  it('the occlum quote is a debug enclave', () => {
    const occlum = (extra: Partial<VerifyEvidenceInput>): Verdict =>
      verifyEvidence({
        platform: 'sgx',
        evidence: bytes('sgx/trustee-occlum-v3-quote.dat'),
        at: new Date('2025-01-01T00:00:00Z'),
        referenceValues: { sgx: { requireCollateral: false, allowAnyMeasurement: true } },
        ...extra,
      });
    expectFailure(occlum({}), 'EG_VERIFY_DEBUG', 'appraise.debug');
    const verdict = occlum({ allowDebug: true });
    expectOk(verdict);
    expect(verdict.debug).toBe(true);
  });
});

describe('Nitro', () => {
  const nitro = (file: string, at: string, extra: Partial<VerifyEvidenceInput> = {}): Verdict =>
    verifyEvidence({ platform: 'nitro', evidence: bytes(`nitro/${file}`), at: new Date(at), ...extra });
  const PCR0 = 'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b';

  it('the evervault 2022-10-13 document verifies inside its window', () => {
    const verdict = nitro('evervault-2022-10-13.cbor', '2022-10-13T09:00:00Z', { referenceValues: { nitro: { pcrs: { 0: [PCR0] } } } });
    expectOk(verdict);
    expect(verdict).toMatchObject({ platform: 'nitro', measurement: PCR0, debug: false, tcb: {} });
    expect(verdict.validUntil).toBe('2022-10-13T11:58:02.000Z');
  });

  it('outside its window it is expired; other PCRs do not match', () => {
    expectFailure(nitro('evervault-2022-10-13.cbor', '2022-10-13T12:00:00Z'), 'EG_VERIFY_EXPIRED');
    expectFailure(nitro('evervault-2022-10-13.cbor', '2022-10-13T09:00:00Z', { referenceValues: { measurements: ['00'.repeat(48)] } }), 'EG_VERIFY_REFERENCE_VALUES');
  });

  it('a debug-mode document is refused by default', () => {
    expectFailure(nitro('evervault-debug-2022-10-12.cbor', '2022-10-12T14:00:00Z'), 'EG_VERIFY_DEBUG', 'appraise.debug');
    expectOk(nitro('evervault-debug-2022-10-12.cbor', '2022-10-12T14:00:00Z', { allowDebug: true }));
  });

  it('expectedNonce is compared with the document nonce field', () => {
    const at = '2022-11-09T23:00:00Z';
    const probe = nitro('veracruz-2022-11-09.cbor', at);
    expectOk(probe);
    const nonce = String(probe.claims!['nonce']);
    expect(nonce.startsWith('c678c861') && nonce.endsWith('f8d96245')).toBe(true);
    expectOk(nitro('veracruz-2022-11-09.cbor', at, { referenceValues: { expectedNonce: nonce } }));
    expectFailure(nitro('veracruz-2022-11-09.cbor', at, { referenceValues: { expectedNonce: '00'.repeat(32) } }), 'EG_VERIFY_BINDING', 'nitro.appraise.nonce');
  });

  it('base64 text is not a document (the CLI decodes it, the library takes bytes)', () => {
    expectFailure(nitro('evervault-2023-09-18.b64', '2023-09-18T15:10:00Z'), 'EG_VERIFY_PARSE');
  });
});

describe('simulated', () => {
  const evidence = encodeSimulatedEvidence({ measurement: new Uint8Array(48).fill(7), reportData: new Uint8Array(64).fill(1), issuedAt: 1_700_000_000 });

  it('is refused unless allowed, after its signature is checked', () => {
    const verdict = verifyEvidence({ platform: 'simulated', evidence, at: new Date() });
    expectFailure(verdict, 'EG_VERIFY_SIMULATED', 'simulated.allowed');
    expect(verdict.platform).toBe('simulated');
    expect(verdict.steps.find((s) => s.step === 'simulated.signature')?.ok).toBe(true);
  });

  it('verifies when allowed', () => {
    const verdict = verifyEvidence({ platform: 'simulated', evidence, at: new Date(), referenceValues: { allowSimulated: true, measurements: ['07'.repeat(48)] } });
    expectOk(verdict);
    expect(verdict).toMatchObject({ platform: 'simulated', measurement: '07'.repeat(48), reportData: '01'.repeat(64), debug: false, tcb: {} });
    expect(verdict.claims).toEqual({ issuedAt: '2023-11-14T22:13:20.000Z' });
  });

  it('a changed byte breaks the signature', () => {
    const tampered = new Uint8Array(evidence);
    tampered[20]! ^= 0x01;
    expectFailure(verifyEvidence({ platform: 'simulated', evidence: tampered, at: new Date(), allowSimulated: true }), 'EG_VERIFY_SIGNATURE', 'simulated.signature');
  });
});

describe('arguments', () => {
  it('unknown platform, missing `at`, non-bytes evidence and bad reference values are EG_VERIFY_USAGE verdicts', () => {
    const ev = new Uint8Array(4);
    expect(verifyEvidence({ platform: 'sev' as never, evidence: ev, at: new Date() }).code).toBe('EG_VERIFY_USAGE');
    expect(verifyEvidence({ platform: 'nitro', evidence: ev } as never).code).toBe('EG_VERIFY_USAGE');
    expect(verifyEvidence({ platform: 'nitro', evidence: 'abc' as never, at: new Date() }).code).toBe('EG_VERIFY_USAGE');
    expect(verifyEvidence({ platform: 'nitro', evidence: ev, at: new Date(), referenceValues: { nitro: { pcr: {} } } as never }).code).toBe('EG_VERIFY_USAGE');
    expect(verifyEvidence(null as never).code).toBe('EG_VERIFY_USAGE');
  });
});
