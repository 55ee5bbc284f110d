/**
 * Azure vTPM evidence on real vectors: the Genoa evidence (trustee v0
 * shape), the Milan HCL report with its TPM quote, Milan v2 evidence
 * (user-data = nonce) and the TDX evidence (HCL + TD quote + TPM quote).
 * Expected values come from the vectors README and trustee's own tests, not
 * from our output; every signed region is tampered once.
 */
import { describe, expect, it } from 'vitest';
import { parseHclReport } from '../../../../src/verify/azure/index.js';
import { verifyEvidence, type VerifyEvidenceInput } from '../../../../src/verify/index.js';
import type { Verdict } from '../../../../src/verify/verdict.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

const AT = new Date('2025-06-01T00:00:00Z');
const CHALLENGE = Buffer.from('challenge').toString('hex');

/** Trustee's Genoa evidence: {quote:{signature,message,pcrs} as byte arrays, report, vcek PEM}. */
const genoaJson = (): Record<string, unknown> => JSON.parse(vectorText('sev-snp/azure-genoa-evidence.json')) as Record<string, unknown>;
/** The nonce trustee's test_evaluate_genoa passes for it. */
const GENOA_NONCE = '0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f';
/** vectors README: measurement of the Genoa HCL's SNP report (the paravisor). */
const GENOA_MEASUREMENT = 'f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae';
/** trustee test_evaluate_genoa: claims tpm.pcr00. */
const GENOA_PCR0 = 'afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338';

/** The Milan HCL report with trustee's tpm-quote-v1.json, as v1 evidence (VCEK+ASK+ARK PEM as the vcek). */
function milanJson(): Record<string, unknown> {
  return {
    version: 1,
    tpm_quote: JSON.parse(vectorText('sev-snp/azure-milan-tpm-quote.json')) as unknown,
    hcl_report: vector('sev-snp/azure-milan-hcl-report.bin').toString('base64url'),
    vcek: vectorText('sev-snp/azure-milan-vcek-ask-ark.pem'),
  };
}
const MILAN_MEASUREMENT = '9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315';

const v2Json = (): Record<string, unknown> => JSON.parse(vectorText('sev-snp/azure-milan-evidence-v2.json')) as Record<string, unknown>;
/** trustee az_snp_vtpm tests: EVIDENCE_V2_REPORT_DATA and EVIDENCE_V2_PCR0. */
const V2_NONCE = '982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef';
const V2_PCR0 = '84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7';

const tdxJson = (): Record<string, unknown> => JSON.parse(vectorText('tdx/azure-tdx-evidence-v1.json')) as Record<string, unknown>;

type Quote = { signature: number[]; message: number[]; pcrs: number[][] };
const bytes = (json: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(json));

function snp(json: unknown, chain: string, extra: Partial<VerifyEvidenceInput> = {}): Verdict {
  return verifyEvidence({ platform: 'azure-sev-snp', evidence: bytes(json), at: AT, endorsements: { vek: vectorText(`sev-snp/${chain}`) }, ...extra });
}
function tdx(json: unknown, extra: Partial<VerifyEvidenceInput> = {}): Verdict {
  return verifyEvidence({ platform: 'azure-tdx', evidence: bytes(json), at: AT, referenceValues: { tdx: { requireCollateral: false, allowAnyMeasurement: true } }, ...extra });
}

function expectOk(v: Verdict): void {
  expect(v.ok, v.ok ? '' : `${v.code}: ${v.message}`).toBe(true);
}
function expectFail(v: Verdict, code: string, step: string, message?: RegExp): void {
  expect(v.ok).toBe(false);
  expect(v.code).toBe(code);
  expect(v.steps.find((s) => !s.ok)?.step).toBe(step);
  if (message !== undefined) expect(v.message).toMatch(message);
}

describe('HCL report layout on the real vectors', () => {
  it.each([
    ['sev-snp/azure-milan-hcl-report.bin', 'sev-snp', 1110],
    ['sev-snp/azure-genoa-hcl-report.bin', 'sev-snp', 1200],
    ['tdx/azure-tdx-hcl-report.bin', 'tdx', 1201],
  ])('%s: %s report, %i bytes of variable data holding HCLAkPub (RSA-2048)', (file, platform, size) => {
    const hcl = parseHclReport(vector(file));
    expect(hcl.platform).toBe(platform);
    expect(hcl.variableData.length).toBe(size);
    expect(hcl.akPub.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('the Genoa report_data[0:32] is SHA-256 of the variable data (README: b581f12e…99f6bf5f)', () => {
    expect(Buffer.from(parseHclReport(vector('sev-snp/azure-genoa-hcl-report.bin')).variableDataSha256).toString('hex')).toBe(
      'b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f',
    );
  });
});

describe('azure-sev-snp on real evidence', () => {
  it('Genoa (trustee v0 shape): verifies, nonce and PCRs in the claims', () => {
    const v = snp(genoaJson(), 'amd-genoa-ask-ark.pem', { referenceValues: { expectedNonce: GENOA_NONCE, measurements: [GENOA_MEASUREMENT], azure: { pcrs: { '0': [GENOA_PCR0] } } } });
    expectOk(v);
    expect(v.platform).toBe('azure-sev-snp');
    expect(v.measurement).toBe(GENOA_MEASUREMENT);
    expect(v.reportData).toBe(GENOA_NONCE);
    const claims = v.claims as { tpm: { pcrs: Record<string, string> }; hardware: { vmpl: number } };
    expect(Object.keys(claims.tpm.pcrs)).toHaveLength(24);
    expect(claims.hardware.vmpl).toBe(0);
    expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(
      expect.arrayContaining(['azure.parse', 'azure.tpm.quote', 'azure.hcl.report-data', 'snp.report.signature', 'azure.snp.vmpl', 'appraise.nonce', 'azure.appraise.pcr0']),
    );
  });

  it('Milan HCL report + its TPM quote: verifies with nonce "challenge"', () => {
    const v = snp(milanJson(), 'amd-milan-ask-ark.pem', { referenceValues: { expectedNonce: CHALLENGE } });
    expectOk(v);
    expect(v.measurement).toBe(MILAN_MEASUREMENT);
    expect(v.steps.find((s) => s.step === 'azure.appraise.pcrs')?.detail).toMatch(/WARNING: no PCRs pinned/);
  });

  it('Milan v2 evidence: user-data is the nonce, so requireUserDataBinding holds; PCR0 pinned', () => {
    expectOk(snp(v2Json(), 'amd-milan-ask-ark.pem', { referenceValues: { expectedNonce: V2_NONCE, azure: { pcrs: { '0': [V2_PCR0] }, requireUserDataBinding: true } } }));
    // The v0 Genoa evidence predates that: its user-data is zero.
    expectFail(snp(genoaJson(), 'amd-genoa-ask-ark.pem', { referenceValues: { azure: { requireUserDataBinding: true } } }), 'EG_VERIFY_BINDING', 'azure.appraise.user-data');
  });

  it('another nonce → EG_VERIFY_BINDING (trustee: reversed report data fails)', () => {
    expectFail(snp(milanJson(), 'amd-milan-ask-ark.pem', { referenceValues: { expectedNonce: Buffer.from('egnellahc').toString('hex') } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
  });

  it('a PCR that is not among the accepted → EG_VERIFY_REFERENCE_VALUES', () => {
    expectFail(snp(genoaJson(), 'amd-genoa-ask-ark.pem', { referenceValues: { azure: { pcrs: { '7': ['00'.repeat(32)] } } } }), 'EG_VERIFY_REFERENCE_VALUES', 'azure.appraise.pcr7');
  });

  it('no VCEK anywhere → EG_VERIFY_ENDORSEMENTS_MISSING; the Genoa chain for a Milan report → EG_VERIFY_CHAIN', () => {
    const { vcek: _vcek, ...noVcek } = milanJson();
    expectFail(verifyEvidence({ platform: 'azure-sev-snp', evidence: bytes(noVcek), at: AT }), 'EG_VERIFY_ENDORSEMENTS_MISSING', 'azure.endorsements');
    const { vcek: _v, ...v2NoVcek } = v2Json();
    expect(snp(v2NoVcek, 'amd-milan-ask-ark.pem').code).toBe('EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(snp(v2Json(), 'amd-genoa-ask-ark.pem').code).toBe('EG_VERIFY_CHAIN');
  });

  it('the wrong platform for the HCL report type → EG_VERIFY_USAGE naming the right one', () => {
    const v = verifyEvidence({ platform: 'azure-tdx', evidence: bytes(genoaJson()), at: AT });
    expectFail(v, 'EG_VERIFY_USAGE', 'azure.parse', /use --platform azure-sev-snp/);
  });
});

describe('azure-sev-snp tamper tests, one per signed region (README negative cases first)', () => {
  const milanHcl = (): Buffer => Buffer.from(vector('sev-snp/azure-milan-hcl-report.bin'));
  const withHcl = (hcl: Buffer): Record<string, unknown> => ({ ...milanJson(), hcl_report: hcl.toString('base64url') });

  it('hcl[0x06e0]+=1 (variable data) → the variable-data hash no longer matches report_data', () => {
    const hcl = milanHcl();
    hcl[0x06e0] = (hcl[0x06e0]! + 1) & 0xff;
    // The AK is intact there, so the quote still verifies; the hardware binding is what breaks.
    expectFail(snp(withHcl(hcl), 'amd-milan-ask-ark.pem'), 'EG_VERIFY_BINDING', 'azure.hcl.report-data', /not the SNP report_data/);
  });

  it('hcl[0x01a6]=0 (reported_tcb SNP SPL inside the signed report) → the SNP check fails', () => {
    const hcl = milanHcl();
    hcl[0x01a6] = 0;
    const v = snp(withHcl(hcl), 'amd-milan-ask-ark.pem');
    expect(v.ok).toBe(false);
    expect(v.steps.find((s) => !s.ok)?.step).toMatch(/^snp\./);
    expect(['EG_VERIFY_SIGNATURE', 'EG_VERIFY_BINDING', 'EG_VERIFY_TCB']).toContain(v.code);
  });

  it('a byte of HCLAkPub in the variable data (0x0540 := 0) → the quote does not verify under it, or the key does not parse', () => {
    const hcl = milanHcl();
    hcl[0x0540] = 0;
    const v = snp(withHcl(hcl), 'amd-milan-ask-ark.pem');
    expect(v.ok).toBe(false);
    expect(['azure.parse', 'azure.tpm.quote']).toContain(v.steps.find((s) => !s.ok)?.step);
  });

  it('a byte of the SNP report signature → EG_VERIFY_SIGNATURE at snp.report.signature', () => {
    const hcl = milanHcl();
    hcl[0x20 + 0x2a0]! ^= 0x01;
    expectFail(snp(withHcl(hcl), 'amd-milan-ask-ark.pem'), 'EG_VERIFY_SIGNATURE', 'snp.report.signature');
  });

  it('the TPM quote: a flipped signature bit, a changed nonce byte, a changed PCR value', () => {
    const json = genoaJson();
    const sig = structuredClone(json);
    (sig['quote'] as Quote).signature[0]! ^= 1;
    expectFail(snp(sig, 'amd-genoa-ask-ark.pem'), 'EG_VERIFY_SIGNATURE', 'azure.tpm.quote', /does not verify under HCLAkPub/);

    const msg = structuredClone(json);
    // Byte 0x30 lies in extraData (the nonce): the message is what the AK signed.
    (msg['quote'] as Quote).message[0x30]! ^= 1;
    expectFail(snp(msg, 'amd-genoa-ask-ark.pem'), 'EG_VERIFY_SIGNATURE', 'azure.tpm.quote');

    const pcr = structuredClone(json);
    (pcr['quote'] as Quote).pcrs[3]![0]! ^= 1;
    expectFail(snp(pcr, 'amd-genoa-ask-ark.pem'), 'EG_VERIFY_BINDING', 'azure.tpm.quote', /do not hash to the quoted PCR digest/);

    const fewer = structuredClone(json);
    (fewer['quote'] as Quote).pcrs.pop();
    expectFail(snp(fewer, 'amd-genoa-ask-ark.pem'), 'EG_VERIFY_BINDING', 'azure.tpm.quote', /23 PCR values given, the quote selects 24/);
  });

  it('malformed input → EG_VERIFY_PARSE', () => {
    expect(verifyEvidence({ platform: 'azure-sev-snp', evidence: new TextEncoder().encode('not json'), at: AT }).code).toBe('EG_VERIFY_PARSE');
    expect(snp({ ...genoaJson(), extra: 1 }, 'amd-genoa-ask-ark.pem').message).toMatch(/unknown key "extra"/);
    const hcl = milanHcl();
    hcl.write('XXXX', 0, 'latin1');
    expect(snp(withHcl(hcl), 'amd-milan-ask-ark.pem').message).toMatch(/does not start with "HCLA"/);
    const cut = milanHcl().subarray(0, 1300);
    expect(snp(withHcl(Buffer.from(cut)), 'amd-milan-ask-ark.pem').message).toMatch(/does not fit/);
  });
});

describe('azure-tdx on real evidence (HCL report, TD quote, TPM quote)', () => {
  it('verifies: TD quote by DCAP, its report_data binds the variable data, quote nonce "challenge"', () => {
    const v = tdx(tdxJson(), { referenceValues: { expectedNonce: CHALLENGE, tdx: { requireCollateral: false, allowAnyMeasurement: true } } });
    expectOk(v);
    expect(v.platform).toBe('azure-tdx');
    expect(v.reportData).toBe(CHALLENGE);
    expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(expect.arrayContaining(['azure.tpm.quote', 'intel.quote.signature', 'azure.hcl.report-data']));
  });

  it('without collateral and requireCollateral the TCB is unknown → EG_VERIFY_TCB (the tdx section applies)', () => {
    expect(verifyEvidence({ platform: 'azure-tdx', evidence: bytes(tdxJson()), at: AT, referenceValues: { tdx: { allowAnyMeasurement: true } } }).code).toBe('EG_VERIFY_TCB');
  });

  it('hcl[0x0880]+=1 (trustee: "TDX Quote report data mismatch") → EG_VERIFY_BINDING', () => {
    const hcl = Buffer.from(tdxJson()['hcl_report'] as string, 'base64url');
    hcl[0x0880] = (hcl[0x0880]! + 1) & 0xff;
    expectFail(tdx({ ...tdxJson(), hcl_report: hcl.toString('base64url') }), 'EG_VERIFY_BINDING', 'azure.hcl.report-data', /TD quote report_data/);
  });

  it('a byte of the TD quote body → the Intel quote signature fails', () => {
    const td = Buffer.from(tdxJson()['td_quote'] as string, 'base64url');
    td[0x3c]! ^= 1;
    const v = tdx({ ...tdxJson(), td_quote: td.toString('base64url') });
    expect(v.ok).toBe(false);
    expect(v.code).toBe('EG_VERIFY_SIGNATURE');
    expect(v.steps.find((s) => !s.ok)?.step).toMatch(/^intel\./);
  });

  it('the TPM quote message (trustee: quote[0x20]=0) → EG_VERIFY_SIGNATURE; no td_quote → EG_VERIFY_PARSE', () => {
    const json = tdxJson();
    const quote = json['tpm_quote'] as { message: string };
    const message = Buffer.from(quote.message, 'hex');
    message[0x20]! ^= 0xff;
    expectFail(tdx({ ...json, tpm_quote: { ...quote, message: message.toString('hex') } }), 'EG_VERIFY_SIGNATURE', 'azure.tpm.quote');
    const { td_quote: _td, ...noTd } = json;
    expectFail(tdx(noTd), 'EG_VERIFY_PARSE', 'azure.parse', /needs "td_quote"/);
  });
});
