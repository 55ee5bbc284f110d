/**
 * Every TDX and SGX quote in test/vectors verified at the instant the
 * vectors README gives, with the collateral the README pairs it with, and the
 * values and TCB statuses the README states.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Transcript, type VerifiedEvidence, type VerifyContext } from '../../../../src/verify/types.js';
import { INTEL_SGX_ROOT_CA_SHA256, verifyIntelQuote, type IntelCollateral, type IntelVerifyOptions } from '../../../../src/verify/intel/index.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { expectCode } from '../../../helpers/expect-code.js';

const ROOT_PEM = vectorText('tdx/intel-sgx-root-ca.pem');
const SIGNER_2018 = vectorText('tdx/intel-tcb-signing-2018.pem') + ROOT_PEM;
const SIGNER_2025 = vectorText('tdx/intel-tcb-signing-2025.pem') + ROOT_PEM;

function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

function verify(file: string, at: string, collateral?: IntelCollateral, options?: IntelVerifyOptions): VerifiedEvidence {
  return verifyIntelQuote(vector(file), collateral, ctxAt(at), options);
}


const dcapQvl = (file: string): IntelCollateral => JSON.parse(vectorText(file)) as IntelCollateral;

/** Asserts a README "abcd…wxyz" abbreviation: the hex starts and ends as written. */
function expectAbbrev(actual: unknown, abbrev: string): void {
  const [head, tail] = abbrev.split('…') as [string, string];
  expect(typeof actual).toBe('string');
  expect((actual as string).startsWith(head), `${String(actual)} starts with ${head}`).toBe(true);
  expect((actual as string).endsWith(tail), `${String(actual)} ends with ${tail}`).toBe(true);
}

const ZERO48 = '00'.repeat(48);

const gotdxCollateral: IntelCollateral = {
  tcbInfo: vector('tdx/gotdx-tcbinfo-50806f000000.json'),
  tcbInfoIssuerChain: SIGNER_2018,
  qeIdentity: vector('tdx/gotdx-qeidentity-td.json'),
  pckCrl: vector('tdx/gotdx-pckcrl-platform.der'),
  rootCaCrl: vector('tdx/gotdx-rootcrl.der'),
};

it('the pinned root is the Intel SGX Root CA of the vectors (PEM and DER)', () => {
  expect(createHash('sha256').update(vector('tdx/intel-sgx-root-ca.der')).digest('hex')).toBe(INTEL_SGX_ROOT_CA_SHA256);
  expect(INTEL_SGX_ROOT_CA_SHA256.startsWith('44a0196b') && INTEL_SGX_ROOT_CA_SHA256.endsWith('b674d3')).toBe(true);
});

describe('TDX quotes', () => {
  describe('gotdx-v4-spr-e4 (39 appended ASCII bytes)', () => {
    const file = 'tdx/gotdx-v4-spr-e4-quote.dat';
    const at = '2023-07-01T01:00:00Z';

    it('is refused by default because of the non-zero trailing bytes', () => {
      expectCode(() => verify(file, at), 'EG_VERIFY_PARSE');
    });

    it('verifies with allowTrailingData and full go-tdx-guest collateral: no matching TCB level, QE UpToDate', () => {
      const ev = verify(file, at, gotdxCollateral, { allowTrailingData: true });
      expect(ev.platform).toBe('tdx');
      expect(ev.measurement).toBe('6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb');
      expectAbbrev(ev.reportData, '6c62dec1…281f1113');
      expect(ev.debug).toBe(false);
      expect(ev.tcb).toMatchObject({
        fmspc: '50806f000000',
        pceId: '0000',
        pceSvn: 11,
        cpuSvn: '03030202020100020000000000000000',
        tcbComponents: [3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        ppid: '089ddfdb9c0359c82a3bc7719239574e',
        qeSvn: 4,
        collateral: 'verified',
        status: 'NoMatchingTcbLevel',
        platformStatus: 'NoMatchingTcbLevel',
        qeStatus: 'UpToDate',
      });
      expect(ev.tcb['tdxModuleStatus']).toBeUndefined(); // tee_tcb_svn[1] = 0: TDX 1.0 module, no module levels
      expect(String(ev.tcb['teeTcbSvn']).startsWith('0300040')).toBe(true);
      expectAbbrev(ev.claims['mrSeam'], '2fd279c1…63c656');
      expect(ev.claims['mrSignerSeam']).toBe(ZERO48);
      expect(ev.claims['tdAttributes']).toBe('0000004000000000');
      expect(ev.claims['xfam']).toBe('e71a060000000000');
      expectAbbrev(ev.claims['rtmr0'], '2927da70…93f32a');
      expectAbbrev(ev.claims['rtmr1'], '2c700b8b…cacb61');
      expectAbbrev(ev.claims['rtmr2'], '8652f0ca…b4424e');
      expect(ev.claims['rtmr3']).toBe(ZERO48);
      expect(ev.claims['trailingBytes']).toBe(39);
      expect(ev.claims['header']).toMatchObject({ version: 4, teeType: 0x81, attestationKeyType: 2, qeVendorId: '939a7233f79c4ca9940a0db3957f0607' });
    });

    it('verifies without collateral (status unknown)', () => {
      const ev = verify(file, at, undefined, { allowTrailingData: true });
      expect(ev.tcb['collateral']).toBe('absent');
      expect(ev.tcb['status']).toBeUndefined();
    });

    it('at 2053-07-01 the PCK has expired', () => {
      expectCode(() => verify(file, '2053-07-01T00:00:00Z', undefined, { allowTrailingData: true }), 'EG_VERIFY_EXPIRED');
    });
  });

  describe('gotdx-v5 (TD 1.5 body)', () => {
    const file = 'tdx/gotdx-v5-quote.dat';
    const at = '2026-02-03T01:00:00Z';
    const collateral: IntelCollateral = { tcbInfo: vector('tdx/gotdx-tcbinfo-90c06f000000.json'), tcbInfoIssuerChain: SIGNER_2025 };

    it('is UpToDate with its TCB info (TDX_01 module UpToDate); collateral partial', () => {
      const ev = verify(file, at, collateral);
      expect(ev.measurement).toBe('7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876');
      expectAbbrev(ev.reportData, '945eaacf…31c25c3a');
      expect(ev.claims['bodyType']).toBe(3);
      expect(String(ev.claims['teeTcbSvn']).startsWith('0b0104')).toBe(true);
      expect(String(ev.claims['teeTcbSvn2']).startsWith('0d0104')).toBe(true);
      expect(typeof ev.claims['mrServiceTd']).toBe('string');
      expectAbbrev(ev.claims['mrSeam'], '7bf06328…3c9a9d');
      expect(ev.tcb).toMatchObject({
        fmspc: '90c06f000000',
        pceSvn: 13,
        tcbComponents: [4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
        qeSvn: 7,
        status: 'UpToDate',
        platformStatus: 'UpToDate',
        tdxModuleStatus: 'UpToDate',
        tcbDate: '2024-11-13T00:00:00Z',
        tcbEvaluationDataNumber: 18,
        collateral: 'partial',
        collateralMissing: ['qeIdentity', 'pckCrl', 'rootCaCrl'],
      });
      expect(new Date(String((ev.claims['pck'] as Record<string, unknown>)['notBefore'])).toISOString()).toBe('2026-01-27T14:36:27.000Z');
    });

    it('the 2023 QE identity is stale in 2026', () => {
      expectCode(() => verify(file, at, { ...collateral, qeIdentity: vector('tdx/gotdx-qeidentity-td.json') }), 'EG_VERIFY_EXPIRED');
    });

    it('the 2018 TCB Signing certificate is expired in 2026', () => {
      expectCode(() => verify(file, at, { ...collateral, tcbInfoIssuerChain: SIGNER_2018 }), 'EG_VERIFY_EXPIRED');
    });
  });

  it('gotdx-cos113: zero padding is accepted and reported', () => {
    const ev = verify('tdx/gotdx-cos113-quote.dat', '2025-01-01T00:00:00Z');
    expect(ev.reportData).toBe('00'.repeat(64));
    expectAbbrev(ev.measurement, 'dae67181…4231f94a');
    expectAbbrev(ev.claims['rtmr0'], '3fa2f61f…2afd17f6');
    expectAbbrev(ev.claims['rtmr1'], 'f62dbc07…c2b122c1');
    expectAbbrev(ev.claims['rtmr2'], '4969684d…a6fbe7c1');
    expect(ev.claims['trailingBytes']).toBe(8000 - 4935);
    expect(ev.tcb).toMatchObject({ fmspc: '00806f050000', pceSvn: 11, tcbComponents: [7, 7, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0] });
  });

  it('trustee-v4: a debug TD', () => {
    const ev = verify('tdx/trustee-v4-quote.dat', '2024-01-01T00:00:00Z');
    expect(ev.debug).toBe(true);
    expect(ev.claims['tdAttributes']).toBe('0100001000000000');
    expect(ev.claims['tdAttributeFlags']).toMatchObject({ debug: true, septVeDisable: true });
    expectAbbrev(ev.measurement, '705ee938…9ce5f031');
    expectAbbrev(ev.reportData, '7c71fe2c…71501429');
    expect(ev.tcb).toMatchObject({ fmspc: '50806f000000', pceSvn: 11, tcbComponents: [5, 5, 13, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0] });
  });

  it('trustee-v5: TD 1.5 body without collateral', () => {
    const ev = verify('tdx/trustee-v5-quote.dat', '2025-01-01T00:00:00Z');
    expectAbbrev(ev.measurement, 'dfba221b…3886400a');
    expectAbbrev(ev.reportData, '6d6ab13b…74fd049f');
    expect(ev.tcb).toMatchObject({ fmspc: '90c06f000000', pceSvn: 13, tcbComponents: [1, 1, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0] });
    expect(ev.claims['bodyType']).toBe(3);
  });

  describe('trustee-v4-00a06d080000 with its TCB info and QE identity', () => {
    const file = 'tdx/trustee-v4-00a06d080000-quote.dat';
    const collateral: IntelCollateral = {
      tcbInfo: vector('tdx/trustee-tcbinfo-00a06d080000.json'),
      tcbInfoIssuerChain: SIGNER_2025,
      qeIdentity: vector('tdx/trustee-qeidentity-td.json'),
    };

    it('is OutOfDate (pcesvn 11 < 13), TDX_03 and QE UpToDate', () => {
      const ev = verify(file, '2025-11-01T00:00:00Z', collateral);
      expect(ev.measurement).toBe('21e8dead92d6c69d7cbba79816686c03a48485c7df0c11f6f04792d5e1d378f6b8c46615ba6946adccac6becffbb1e88');
      expect(ev.reportData.startsWith('26cae1c7')).toBe(true);
      expect(ev.reportData.slice(0, 96).endsWith('b32cfd')).toBe(true);
      expect(ev.reportData.slice(96)).toBe('00'.repeat(16));
      expect(String(ev.claims['teeTcbSvn']).startsWith('050302')).toBe(true);
      expect(ev.claims['trailingBytes']).toBe(70);
      expect(ev.tcb).toMatchObject({
        fmspc: '00a06d080000',
        pceSvn: 11,
        sgxType: 'ScalableWithIntegrity',
        tcbComponents: [2, 2, 7, 7, 4, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        status: 'OutOfDate',
        advisoryIds: [],
        tcbDate: '2018-01-04T00:00:00Z',
        tdxModuleStatus: 'UpToDate',
        qeStatus: 'UpToDate',
        qeSvn: 7,
        collateral: 'partial',
        collateralMissing: ['pckCrl', 'rootCaCrl'],
      });
    });

    it('is refused after the TCB info nextUpdate (2025-11-26T13:07:17Z)', () => {
      expectCode(() => verify(file, '2025-11-26T13:07:18Z', collateral), 'EG_VERIFY_EXPIRED');
    });

    it('is refused before the QE identity issueDate (2025-10-28T06:45:09Z)', () => {
      expectCode(() => verify(file, '2025-10-28T06:45:08Z', collateral), 'EG_VERIFY_EXPIRED');
    });
  });

  it('azure-tdx-v4: report_data binds the HCL variable data', () => {
    const ev = verify('tdx/azure-tdx-v4-quote.dat', '2025-01-01T00:00:00Z');
    const hcl = vector('tdx/azure-tdx-hcl-report.bin');
    const digest = createHash('sha256').update(hcl.subarray(0x4d4, 0x4d4 + 1201)).digest('hex');
    expect(digest.startsWith('9734504f')).toBe(true);
    expect(ev.reportData.slice(0, 64)).toBe(digest);
    expect(ev.claims['tdAttributes']).toBe('0000000000000000');
    for (const r of ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']) expect(ev.claims[r]).toBe(ZERO48);
    expect(ev.tcb).toMatchObject({ fmspc: '00806f050000', pceSvn: 11, tcbComponents: [6, 6, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0] });
  });

  describe('phala-v4 with dcap-qvl collateral', () => {
    const file = 'tdx/phala-v4-quote.dat';
    const collateral = dcapQvl('tdx/phala-v4-collateral.json');

    it('is UpToDate with no advisories at 2025-07-19T10:00:34Z (dcap-qvl test instant)', () => {
      const ctx = ctxAt('2025-07-19T10:00:34Z');
      const ev = verifyIntelQuote(vector(file), collateral, ctx);
      expectAbbrev(ev.measurement, '91eb2b44…873118b7');
      expectAbbrev(ev.reportData, '9a9d48e7…2b523f20');
      expect(String(ev.claims['teeTcbSvn']).startsWith('060103')).toBe(true);
      expect(ev.tcb).toMatchObject({
        fmspc: 'b0c06f000000',
        pceSvn: 11,
        tcbComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
        status: 'UpToDate',
        advisoryIds: [],
        tdxModuleStatus: 'UpToDate',
        qeStatus: 'UpToDate',
        qeSvn: 6,
        collateral: 'verified',
      });
      const steps = ctx.transcript.steps.map((s) => s.step);
      expect(ctx.transcript.steps.every((s) => s.ok)).toBe(true);
      for (const s of ['intel.pck.chain', 'intel.qe.report.signature', 'intel.qe.binding', 'intel.quote.signature', 'intel.tcbinfo.signature', 'intel.qeidentity.signature', 'intel.crl.pck', 'intel.crl.root', 'intel.tcb.status']) {
        expect(steps).toContain(s);
      }
    });

    it('also verifies at the start of its window (2025-06-19T10:32:27Z)', () => {
      expect(verify(file, '2025-06-19T10:32:27Z', collateral).tcb['status']).toBe('UpToDate');
    });

    it('is refused after its window closes', () => {
      expectCode(() => verify(file, '2025-07-20T00:00:00Z', collateral), 'EG_VERIFY_EXPIRED');
    });
  });

  it('phala-v5-outdated: no TCB level matches (PCK component 8 = 3 < 5); module and QE UpToDate', () => {
    const ev = verify('tdx/phala-v5-outdated-quote.dat', '2026-03-01T00:00:00Z', dcapQvl('tdx/phala-v5-outdated-collateral.json'));
    expect(ev.tcb).toMatchObject({
      fmspc: '90c06f000000',
      pceSvn: 13,
      tcbComponents: [3, 3, 2, 2, 4, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
      status: 'NoMatchingTcbLevel',
      tdxModuleStatus: 'UpToDate',
      qeStatus: 'UpToDate',
      collateral: 'verified',
    });
    expect(String(ev.claims['teeTcbSvn']).startsWith('070103')).toBe(true);
    expect(String(ev.claims['teeTcbSvn2']).startsWith('0d0103')).toBe(true);
    for (const r of ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']) expect(ev.claims[r]).toBe(ZERO48);
    expect(ev.reportData.startsWith('d2142b64')).toBe(true);
    expect(ev.reportData.slice(0, 64).endsWith('dce47728')).toBe(true);
    expect(ev.reportData.slice(64)).toBe('00'.repeat(32));
  });
});

describe('SGX quotes', () => {
  it('phala-v3: ConfigurationAndSWHardeningNeeded with INTEL-SA-00289/00615', () => {
    const ev = verify('sgx/phala-v3-quote.dat', '2025-07-01T00:00:00Z', dcapQvl('sgx/phala-v3-collateral.json'));
    expect(ev.platform).toBe('sgx');
    expect(ev.measurement).toBe('33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
    expectAbbrev(ev.claims['mrSigner'], '815f42f1…a3e0e6');
    expect(ev.claims['isvProdId']).toBe(0);
    expect(ev.claims['isvSvn']).toBe(0);
    expect(ev.debug).toBe(false);
    expect(Buffer.from(ev.reportData, 'hex').toString('latin1')).toBe('Hello, world!'.padEnd(64, '\0'));
    expect(ev.tcb).toMatchObject({
      fmspc: '00a067110000',
      pckCa: 'processor',
      pceSvn: 13,
      tcbComponents: [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      status: 'ConfigurationAndSWHardeningNeeded',
      advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'],
      qeStatus: 'UpToDate',
      qeSvn: 10,
      collateral: 'verified',
    });
  });

  it('phala-v3 is refused outside its window (2025-06-19T10:56:11Z – 2025-07-19T10:01:18Z)', () => {
    const c = dcapQvl('sgx/phala-v3-collateral.json');
    expectCode(() => verify('sgx/phala-v3-quote.dat', '2025-06-19T10:56:10Z', c), 'EG_VERIFY_EXPIRED');
    expectCode(() => verify('sgx/phala-v3-quote.dat', '2025-07-19T10:01:19Z', c), 'EG_VERIFY_EXPIRED');
  });

  describe('mobilecoin hw_quote at 2023-07-12T20:48:25Z', () => {
    const file = 'sgx/mobilecoin-hw_quote.dat';
    const at = '2023-07-12T20:48:25Z';
    const base: IntelCollateral = {
      tcbInfo: vector('sgx/mobilecoin-fmspc_00906ED50000_2023_07_12.json'),
      tcbInfoIssuerChain: SIGNER_2018,
      qeIdentity: vector('sgx/mobilecoin-qe_identity.json'),
      rootCaCrl: vector('sgx/mobilecoin-root_crl.der'),
    };

    it('with the processor CRL: refused, the CRL is stale (2023-04-21 → 2023-05-21)', () => {
      const ctx = ctxAt(at);
      expectCode(() => verifyIntelQuote(vector(file), { ...base, pckCrl: vector('sgx/mobilecoin-processor_crl.der') }, ctx), 'EG_VERIFY_EXPIRED');
      // Its signature was fine: the failure is the validity window.
      expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'intel.crl.pck.validity', ok: false });
    });

    it('without it: SWHardeningNeeded (INTEL-SA-00334/00615), QE UpToDate, collateral partial', () => {
      const ev = verify(file, at, base);
      expect(ev.measurement).toBe('840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4');
      expectAbbrev(ev.claims['mrSigner'], '9f06df5c…94efdddf');
      expect(ev.reportData).toBe('00'.repeat(64));
      expect(ev.debug).toBe(false);
      expect(ev.tcb).toMatchObject({
        fmspc: '00906ed50000',
        pceSvn: 13,
        tcbComponents: [20, 20, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        status: 'SWHardeningNeeded',
        advisoryIds: ['INTEL-SA-00334', 'INTEL-SA-00615'],
        tcbDate: '2023-02-15T00:00:00Z',
        qeStatus: 'UpToDate',
        qeSvn: 9,
        collateral: 'partial',
        collateralMissing: ['pckCrl'],
      });
      expect((ev.claims['pck'] as Record<string, unknown>)['serial']).toMatch(/^6af38dbe.*47724c$/);
    });

    it('mobilecoin-leaf_cert.pem is a different PCK from the one in the quote', () => {
      const ev = verify(file, at);
      const other = new X509Certificate(vectorText('sgx/mobilecoin-leaf_cert.pem'));
      expect(other.serialNumber.toLowerCase()).not.toContain(String((ev.claims['pck'] as Record<string, unknown>)['serial']));
    });
  });

  it('trustee-occlum-v3: a debug enclave, no collateral', () => {
    const ev = verify('sgx/trustee-occlum-v3-quote.dat', '2024-01-01T00:00:00Z');
    expect(ev.debug).toBe(true);
    expectAbbrev(ev.measurement, '8f173e46…53011c68');
    expectAbbrev(ev.claims['mrSigner'], '83d719e7…08c7ce9e');
    expect(String(ev.claims['attributes']).startsWith('07')).toBe(true);
    expect(ev.claims['miscSelect']).toBe('01000000');
    expect(Buffer.from(ev.reportData, 'hex').toString('latin1')).toBe('test'.padEnd(64, '\0'));
    expect(ev.tcb).toMatchObject({
      fmspc: '00606a000000',
      pckCa: 'platform',
      pceSvn: 11,
      tcbComponents: [4, 4, 3, 3, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      collateral: 'absent',
    });
  });

  it.each([
    ['sgx/echeck-sample-quote.dat', 'ratls-certs/echeck-sgx-oe-sample.pem', '4f1ea682…48b13a'],
    ['sgx/echeck-sample2-quote.dat', 'ratls-certs/echeck-sgx-oe-sample2.pem', '6e212d9f…a853d69a'],
  ])('%s with phala-v3 collateral: ConfigurationAndSWHardeningNeeded; report_data binds the certificate key', (file, certFile, digest) => {
    const ev = verify(file, '2025-07-01T00:00:00Z', dcapQvl('sgx/phala-v3-collateral.json'));
    expect(ev.measurement).toBe('df2493c11fc01708af6913323b64e20ae84b12779dbe44ba428da66dfc4488f5');
    expect(ev.claims['mrSigner']).toBe('976aa9f931b8a16e01e01895d627e3ee96dce5478ebbbc77e120a25c79fe6016');
    expect(ev.claims['isvProdId']).toBe(1);
    expect(ev.claims['isvSvn']).toBe(1);
    expect(ev.tcb).toMatchObject({
      pckCa: 'processor',
      status: 'ConfigurationAndSWHardeningNeeded',
      advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'],
      qeStatus: 'UpToDate',
      qeSvn: 11,
    });
    const spki = new X509Certificate(vectorText(certFile)).publicKey.export({ type: 'spki', format: 'der' });
    const hash = createHash('sha256').update(spki).digest('hex');
    expectAbbrev(hash, digest);
    expect(ev.reportData.slice(0, 64)).toBe(hash);
  });
});
