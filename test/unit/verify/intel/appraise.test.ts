/**
 * Reference values for Intel evidence: strict parsing, strict defaults
 * (UpToDate only, collateral required, debug refused, a measurement
 * allowlist required) and each explicit relaxation.
 */
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { Transcript, type VerifiedEvidence, type VerifyContext } from '../../../../src/verify/types.js';
import {
  appraiseIntel,
  parseIntelReferenceValues,
  verifyIntelQuote,
  type IntelCollateral,
  type IntelReferenceValues,
} from '../../../../src/verify/intel/index.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

function evidence(file: string, at: string, collateral?: IntelCollateral): VerifiedEvidence {
  return verifyIntelQuote(vector(file), collateral, ctxAt(at));
}

function appraisal(ev: VerifiedEvidence, rv: unknown): string | undefined {
  try {
    appraiseIntel(ev, parseIntelReferenceValues(rv), ctxAt('2000-01-01T00:00:00Z'));
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(VerifyError);
    return (e as VerifyError).code;
  }
}

const dcapQvl = (file: string): IntelCollateral => JSON.parse(vectorText(file)) as IntelCollateral;
const ROOT_PEM = vectorText('tdx/intel-sgx-root-ca.pem');

const phalaV4 = evidence('tdx/phala-v4-quote.dat', '2025-07-19T10:00:34Z', dcapQvl('tdx/phala-v4-collateral.json'));
const phalaV4NoCollateral = evidence('tdx/phala-v4-quote.dat', '2025-07-19T10:00:34Z');
const trusteeDebug = evidence('tdx/trustee-v4-quote.dat', '2024-01-01T00:00:00Z');
const phalaV5Outdated = evidence('tdx/phala-v5-outdated-quote.dat', '2026-03-01T00:00:00Z', dcapQvl('tdx/phala-v5-outdated-collateral.json'));
const trusteeOutOfDate = evidence('tdx/trustee-v4-00a06d080000-quote.dat', '2025-11-01T00:00:00Z', {
  tcbInfo: vector('tdx/trustee-tcbinfo-00a06d080000.json'),
  tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2025.pem') + ROOT_PEM,
  qeIdentity: vector('tdx/trustee-qeidentity-td.json'),
});
const phalaV3 = evidence('sgx/phala-v3-quote.dat', '2025-07-01T00:00:00Z', dcapQvl('sgx/phala-v3-collateral.json'));
const mobilecoin = evidence('sgx/mobilecoin-hw_quote.dat', '2023-07-12T20:48:25Z', {
  tcbInfo: vector('sgx/mobilecoin-fmspc_00906ED50000_2023_07_12.json'),
  tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2018.pem') + ROOT_PEM,
  qeIdentity: vector('sgx/mobilecoin-qe_identity.json'),
  rootCaCrl: vector('sgx/mobilecoin-root_crl.der'),
});
const occlumDebug = evidence('sgx/trustee-occlum-v3-quote.dat', '2024-01-01T00:00:00Z');

const PHALA_MRTD = phalaV4.measurement;
const PHALA_V3_MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';

describe('parseIntelReferenceValues', () => {
  it('accepts a full TDX document, lower-cases hex and freezes it', () => {
    const rv = parseIntelReferenceValues({
      acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'],
      acceptedAdvisories: ['INTEL-SA-00615'],
      requireCollateral: true,
      allowPartialCollateral: false,
      allowDebug: false,
      minTcbEvaluationDataNumber: 17,
      mrTd: [PHALA_MRTD.toUpperCase()],
      rtmr0: ['00'.repeat(48)],
      mrSeam: ['ab'.repeat(48)],
    });
    expect(rv.mrTd).toEqual([PHALA_MRTD]);
    expect(Object.isFrozen(rv)).toBe(true);
    expect(Object.isFrozen(rv.mrTd)).toBe(true);
  });

  it.each([
    ['not an object', []],
    ['null', null],
    ['an unknown key', { mrtd: [PHALA_MRTD] }],
    ['a boolean as string', { allowDebug: 'false' }],
    ['a negative integer', { minIsvSvn: -1 }],
    ['a fractional integer', { minTcbEvaluationDataNumber: 1.5 }],
    ['an oversized ISVPRODID', { isvProdId: 70000 }],
    ['an empty allowlist', { mrTd: [] }],
    ['a non-array allowlist', { mrTd: PHALA_MRTD }],
    ['short hex', { mrTd: ['abcd'] }],
    ['non-hex', { mrEnclave: ['zz'.repeat(32)] }],
    ['an SGX-length value for MRTD', { mrTd: [PHALA_V3_MRENCLAVE] }],
    ['an unknown TCB status', { acceptedTcbStatuses: ['Fine'] }],
    ['Revoked as acceptable', { acceptedTcbStatuses: ['Revoked'] }],
    ['NoMatchingTcbLevel as acceptable', { acceptedTcbStatuses: ['NoMatchingTcbLevel'] }],
    ['TDX and SGX keys mixed', { mrTd: [PHALA_MRTD], mrEnclave: [PHALA_V3_MRENCLAVE] }],
  ])('refuses %s with EG_VERIFY_USAGE', (_name, input) => {
    let code: string | undefined;
    try {
      parseIntelReferenceValues(input);
    } catch (e) {
      code = (e as VerifyError).code;
    }
    expect(code).toBe('EG_VERIFY_USAGE');
  });
});

describe('appraiseIntel: TDX', () => {
  it('phala-v4 (UpToDate, complete collateral) passes with its MRTD', () => {
    const ctx = ctxAt('2025-07-19T10:00:34Z');
    appraiseIntel(phalaV4, parseIntelReferenceValues({ mrTd: [PHALA_MRTD] }), ctx);
    expect(ctx.transcript.steps.map((s) => s.step)).toEqual(['intel.appraise.debug', 'intel.appraise.tcb', 'intel.appraise.measurement']);
  });

  it('another MRTD or RTMR → EG_VERIFY_REFERENCE_VALUES', () => {
    expect(appraisal(phalaV4, { mrTd: ['11'.repeat(48)] })).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV4, { mrTd: [PHALA_MRTD], rtmr3: ['11'.repeat(48)] })).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV4, { rtmr0: [String(phalaV4.claims['rtmr0'])], mrSeam: [String(phalaV4.claims['mrSeam'])] })).toBeUndefined();
  });

  it('no measurement allowlist → EG_VERIFY_REFERENCE_VALUES unless allowAnyMeasurement', () => {
    expect(appraisal(phalaV4, {})).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV4, { mrSeam: [String(phalaV4.claims['mrSeam'])] })).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV4, { allowAnyMeasurement: true })).toBeUndefined();
  });

  it('SGX keys on TDX evidence → EG_VERIFY_REFERENCE_VALUES', () => {
    expect(appraisal(phalaV4, { mrEnclave: [PHALA_V3_MRENCLAVE] })).toBe('EG_VERIFY_REFERENCE_VALUES');
  });

  it('without collateral → EG_VERIFY_TCB unless requireCollateral is false', () => {
    expect(appraisal(phalaV4NoCollateral, { mrTd: [PHALA_MRTD] })).toBe('EG_VERIFY_TCB');
    expect(appraisal(phalaV4NoCollateral, { mrTd: [PHALA_MRTD], requireCollateral: false })).toBeUndefined();
    expect(appraisal(phalaV4NoCollateral, { mrTd: [PHALA_MRTD], requireCollateral: false, minTcbEvaluationDataNumber: 1 })).toBe('EG_VERIFY_TCB');
  });

  it('minTcbEvaluationDataNumber compares with the TCB info (17 here)', () => {
    expect(appraisal(phalaV4, { mrTd: [PHALA_MRTD], minTcbEvaluationDataNumber: 17 })).toBeUndefined();
    expect(appraisal(phalaV4, { mrTd: [PHALA_MRTD], minTcbEvaluationDataNumber: 18 })).toBe('EG_VERIFY_TCB');
  });

  it('trustee-v4 debug TD: debug is true and the default appraisal refuses it with EG_VERIFY_DEBUG', () => {
    expect(trusteeDebug.debug).toBe(true);
    expect(appraisal(trusteeDebug, { mrTd: [trusteeDebug.measurement] })).toBe('EG_VERIFY_DEBUG');
    expect(appraisal(trusteeDebug, {})).toBe('EG_VERIFY_DEBUG');
    expect(appraisal(trusteeDebug, { mrTd: [trusteeDebug.measurement], allowDebug: true, requireCollateral: false })).toBeUndefined();
  });

  it('trustee-v5 binds a service TD (MRSERVICETD ≠ 0): refused unless an mrServiceTd allowlist accepts it', () => {
    const ev = evidence('tdx/trustee-v5-quote.dat', '2025-01-01T00:00:00Z');
    const serviceTd = String(ev.claims['mrServiceTd']);
    expect(serviceTd).not.toBe('00'.repeat(48));
    const rv = { mrTd: [ev.measurement], requireCollateral: false };
    expect(appraisal(ev, rv)).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(ev, { ...rv, mrServiceTd: [serviceTd] })).toBeUndefined();
    expect(appraisal(ev, { ...rv, mrServiceTd: ['00'.repeat(48)] })).toBe('EG_VERIFY_REFERENCE_VALUES');
    // A TD 1.0 report has no service TD: an all-zero allowlist entry matches it.
    expect(appraisal(phalaV4, { mrTd: [PHALA_MRTD], mrServiceTd: ['00'.repeat(48)] })).toBeUndefined();
  });

  it('phala-v5-outdated (no matching TCB level) is refused whatever statuses are accepted', () => {
    const all = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded'];
    expect(appraisal(phalaV5Outdated, { mrTd: [phalaV5Outdated.measurement], acceptedTcbStatuses: all })).toBe('EG_VERIFY_TCB');
  });

  it('trustee 00a06d (OutOfDate, partial collateral) needs both relaxations', () => {
    const mrTd = [trusteeOutOfDate.measurement];
    expect(appraisal(trusteeOutOfDate, { mrTd })).toBe('EG_VERIFY_TCB');
    expect(appraisal(trusteeOutOfDate, { mrTd, allowPartialCollateral: true })).toBe('EG_VERIFY_TCB');
    expect(appraisal(trusteeOutOfDate, { mrTd, acceptedTcbStatuses: ['OutOfDate'] })).toBe('EG_VERIFY_TCB');
    expect(appraisal(trusteeOutOfDate, { mrTd, allowPartialCollateral: true, acceptedTcbStatuses: ['UpToDate', 'OutOfDate'] })).toBeUndefined();
  });
});

describe('appraiseIntel: SGX', () => {
  it('phala-v3: the status needs accepting, then each advisory', () => {
    const mrEnclave = [PHALA_V3_MRENCLAVE];
    const statuses = ['UpToDate', 'ConfigurationAndSWHardeningNeeded'];
    expect(appraisal(phalaV3, { mrEnclave })).toBe('EG_VERIFY_TCB');
    expect(appraisal(phalaV3, { mrEnclave, acceptedTcbStatuses: statuses })).toBe('EG_VERIFY_TCB');
    expect(appraisal(phalaV3, { mrEnclave, acceptedTcbStatuses: statuses, acceptedAdvisories: ['INTEL-SA-00289'] })).toBe('EG_VERIFY_TCB');
    expect(appraisal(phalaV3, { mrEnclave, acceptedTcbStatuses: statuses, acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] })).toBeUndefined();
  });

  it('phala-v3: MRSIGNER, ISVPRODID and minimum ISVSVN', () => {
    const base = { acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] };
    const mrSigner = [String(phalaV3.claims['mrSigner'])];
    expect(appraisal(phalaV3, { ...base, mrSigner, isvProdId: 0, minIsvSvn: 0 })).toBeUndefined();
    expect(appraisal(phalaV3, { ...base, mrSigner, isvProdId: 1 })).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV3, { ...base, mrSigner, minIsvSvn: 1 })).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(appraisal(phalaV3, { ...base, mrSigner: ['00'.repeat(32)] })).toBe('EG_VERIFY_REFERENCE_VALUES');
  });

  it('TDX keys on SGX evidence → EG_VERIFY_REFERENCE_VALUES', () => {
    expect(appraisal(phalaV3, { mrTd: [PHALA_MRTD] })).toBe('EG_VERIFY_REFERENCE_VALUES');
  });

  it("mobilecoin's own acceptance: SWHardeningNeeded with INTEL-SA-00334/00615 allowed", () => {
    const rv = {
      mrEnclave: [mobilecoin.measurement],
      acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'],
      acceptedAdvisories: ['INTEL-SA-00334', 'INTEL-SA-00615'],
      allowPartialCollateral: true, // the processor CRL shipped with it is stale, so it is left out
    };
    expect(appraisal(mobilecoin, rv)).toBeUndefined();
    expect(appraisal(mobilecoin, { ...rv, acceptedAdvisories: ['INTEL-SA-00334'] })).toBe('EG_VERIFY_TCB');
  });

  it('the occlum debug enclave is refused with EG_VERIFY_DEBUG', () => {
    expect(occlumDebug.debug).toBe(true);
    expect(appraisal(occlumDebug, { mrEnclave: [occlumDebug.measurement], requireCollateral: false })).toBe('EG_VERIFY_DEBUG');
  });
});

it('evidence of another platform → EG_VERIFY_USAGE', () => {
  const nitro: VerifiedEvidence = { platform: 'nitro', measurement: '', reportData: '', debug: false, tcb: {}, claims: {} };
  expect(appraisal(nitro, { allowAnyMeasurement: true })).toBe('EG_VERIFY_USAGE');
});

it('appraiseIntel accepts IntelReferenceValues built in code (upper-case hex too)', () => {
  const rv: IntelReferenceValues = { mrTd: [PHALA_MRTD.toUpperCase()] };
  expect(() => appraiseIntel(phalaV4, rv, ctxAt('2025-07-19T10:00:34Z'))).not.toThrow();
});
