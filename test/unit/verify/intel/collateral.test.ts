/**
 * Collateral: signatures over the exact signed bytes, validity windows at
 * ctx.at, TCB Signing certificate lifetimes, CRLs (real ones and a fake PKI
 * that revokes), and collateral that belongs to another platform.
 */
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { Transcript, type VerifiedEvidence, type VerifyContext } from '../../../../src/verify/types.js';
import { verifyIntelQuote, type IntelCollateral, type IntelDcapQvlCollateral, type IntelVerifyOptions } from '../../../../src/verify/intel/index.js';
import { normaliseIntelCollateral, parseIntelCrl, rawJsonMembers } from '../../../../src/verify/intel/collateral.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { FAKE_AT, makeFakeIntel } from './fake-intel.js';

const ROOT_PEM = vectorText('tdx/intel-sgx-root-ca.pem');
const SIGNER_2018 = vectorText('tdx/intel-tcb-signing-2018.pem') + ROOT_PEM;

function ctxAt(at: string | Date): VerifyContext {
  return { at: new Date(at), transcript: new Transcript() };
}

function run(
  quote: Uint8Array,
  collateral: unknown,
  at: string | Date,
  options?: IntelVerifyOptions,
): { code?: string; message?: string; ev?: VerifiedEvidence; ctx: VerifyContext } {
  const ctx = ctxAt(at);
  try {
    return { ev: verifyIntelQuote(quote, collateral as IntelCollateral, ctx, options), ctx };
  } catch (e) {
    expect(e).toBeInstanceOf(VerifyError);
    return { code: (e as VerifyError).code, message: (e as VerifyError).message, ctx };
  }
}

const phalaV4 = (): IntelDcapQvlCollateral => JSON.parse(vectorText('tdx/phala-v4-collateral.json')) as IntelDcapQvlCollateral;
const PHALA_V4_QUOTE = vector('tdx/phala-v4-quote.dat');
const PHALA_AT = '2025-07-19T10:00:34Z';

describe('signed TCB info and QE identity', () => {
  it('a changed byte of the signed tcbInfo body → EG_VERIFY_SIGNATURE', () => {
    const c = phalaV4();
    const body = c.tcb_info.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18');
    expect(body).not.toBe(c.tcb_info);
    const r = run(PHALA_V4_QUOTE, { ...c, tcb_info: body }, PHALA_AT);
    expect(r.code).toBe('EG_VERIFY_SIGNATURE');
    expect(r.ctx.transcript.steps.at(-1)).toMatchObject({ step: 'intel.tcbinfo.signature', ok: false });
  });

  it('re-serialised tcbInfo (same JSON value, different bytes) → EG_VERIFY_SIGNATURE', () => {
    const c = phalaV4();
    const reserialised = JSON.stringify(JSON.parse(c.tcb_info), null, 1);
    expect(run(PHALA_V4_QUOTE, { ...c, tcb_info: reserialised }, PHALA_AT).code).toBe('EG_VERIFY_SIGNATURE');
  });

  it('a changed byte of the QE identity body → EG_VERIFY_SIGNATURE', () => {
    const c = phalaV4();
    const body = c.qe_identity.replace('"isvprodid":2', '"isvprodid":3');
    expect(run(PHALA_V4_QUOTE, { ...c, qe_identity: body }, PHALA_AT).code).toBe('EG_VERIFY_SIGNATURE');
  });

  it('a changed signature → EG_VERIFY_SIGNATURE', () => {
    const c = phalaV4();
    const sig = (c.tcb_info_signature.startsWith('0') ? '1' : '0') + c.tcb_info_signature.slice(1);
    expect(run(PHALA_V4_QUOTE, { ...c, tcb_info_signature: sig }, PHALA_AT).code).toBe('EG_VERIFY_SIGNATURE');
  });

  it('a PCS-form body changed inside the signed member → EG_VERIFY_SIGNATURE; outside it → still fine', () => {
    const doc = vectorText('tdx/trustee-tcbinfo-00a06d080000.json');
    const base = { tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2025.pem') + ROOT_PEM };
    const quote = vector('tdx/trustee-v4-00a06d080000-quote.dat');
    const at = '2025-11-01T00:00:00Z';
    const inside = doc.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":99');
    expect(inside).not.toBe(doc);
    expect(run(quote, { ...base, tcbInfo: inside }, at).code).toBe('EG_VERIFY_SIGNATURE');
    // Whitespace around the signed member is not signed and must not matter.
    const outside = doc.replace('{"tcbInfo":', '{ "tcbInfo" :  ');
    expect(run(quote, { ...base, tcbInfo: outside }, at).ev?.tcb['status']).toBe('OutOfDate');
  });

  it('the 2018 TCB Signing certificate used after 2025-05-21 → EG_VERIFY_EXPIRED', () => {
    const c = phalaV4();
    const r = run(PHALA_V4_QUOTE, { ...c, tcb_info_issuer_chain: SIGNER_2018 }, PHALA_AT);
    expect(r.code).toBe('EG_VERIFY_EXPIRED');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.tcbinfo.issuer[0].validity');
  });

  it('the 2025 TCB Signing certificate (same key) before 2025-05-06 → EG_VERIFY_EXPIRED', () => {
    const tcbInfo = vector('sgx/mobilecoin-fmspc_00906ED50000_2023_07_12.json');
    const r = run(vector('sgx/mobilecoin-hw_quote.dat'), { tcbInfo, tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2025.pem') + ROOT_PEM }, '2023-07-12T20:48:25Z');
    expect(r.code).toBe('EG_VERIFY_EXPIRED');
  });

  it('a TCB info issuer chain that does not end at the pinned root → EG_VERIFY_CHAIN', () => {
    const c = phalaV4();
    expect(run(PHALA_V4_QUOTE, { ...c, tcb_info_issuer_chain: vectorText('tdx/intel-tcb-signing-2025.pem') }, PHALA_AT).code).toBe('EG_VERIFY_CHAIN');
  });

  it('a TCB info signed by the wrong role (PCK chain given as issuer chain) → EG_VERIFY_CHAIN', () => {
    const c = phalaV4();
    const pem = Buffer.from(PHALA_V4_QUOTE).toString('latin1');
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(run(PHALA_V4_QUOTE, { ...c, tcb_info_issuer_chain: `${certs[1]}\n${certs[2]}\n` }, PHALA_AT).code).toBe('EG_VERIFY_CHAIN');
  });

  it('TCB info past nextUpdate → EG_VERIFY_EXPIRED (go-tdx-guest: "tcbInfo has expired")', () => {
    const quote = vector('tdx/gotdx-v5-quote.dat');
    const c = { tcbInfo: vector('tdx/gotdx-tcbinfo-90c06f000000.json'), tcbInfoIssuerChain: vectorText('tdx/intel-tcb-signing-2025.pem') + ROOT_PEM };
    const r = run(quote, c, '2026-03-03T14:49:27Z');
    expect(r.code).toBe('EG_VERIFY_EXPIRED');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.tcbinfo.validity');
    expect(run(quote, c, '2026-03-03T14:49:26Z').ev?.tcb['status']).toBe('UpToDate');
  });
});

describe('collateral for another platform', () => {
  it('SGX TCB info with a TDX quote → EG_VERIFY_TCB', () => {
    const sgx = JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as IntelDcapQvlCollateral;
    const r = run(PHALA_V4_QUOTE, { ...phalaV4(), tcb_info: sgx.tcb_info, tcb_info_signature: sgx.tcb_info_signature }, PHALA_AT);
    expect(r.code).toBe('EG_VERIFY_TCB');
  });

  it('TCB info of another FMSPC → EG_VERIFY_TCB', () => {
    // cos113's PCK (FMSPC 00806f050000) comes from the same Platform CA, so the phala CRLs verify.
    const r = run(vector('tdx/gotdx-cos113-quote.dat'), phalaV4(), PHALA_AT);
    expect(r.code).toBe('EG_VERIFY_TCB');
    expect(r.message).toContain('FMSPC');
  });

  it('an SGX QE identity with a TDX quote → EG_VERIFY_TCB', () => {
    const sgx = JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as IntelDcapQvlCollateral;
    const r = run(PHALA_V4_QUOTE, { ...phalaV4(), qe_identity: sgx.qe_identity, qe_identity_signature: sgx.qe_identity_signature }, '2025-07-01T00:00:00Z');
    expect(r.code).toBe('EG_VERIFY_TCB');
  });

  it('a processor-CA CRL given for a platform-CA PCK → EG_VERIFY_CHAIN (wrong CRL)', () => {
    const sgx = JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as IntelDcapQvlCollateral;
    const r = run(PHALA_V4_QUOTE, { ...phalaV4(), pck_crl: sgx.pck_crl }, '2025-07-01T00:00:00Z');
    expect(r.code).toBe('EG_VERIFY_CHAIN');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.crl.pck.issuer');
  });
});

describe('real CRLs', () => {
  it('gotdx PCK Platform CA CRL: 44 entries, not listing the gotdx v4 PCK', () => {
    const crl = parseIntelCrl(vector('tdx/gotdx-pckcrl-platform.der'), 'PCK CRL');
    expect(crl.revokedSerials.size).toBe(44);
    expect(crl.thisUpdate.toISOString()).toBe('2023-06-08T07:27:52.000Z');
    expect(crl.nextUpdate.toISOString()).toBe('2023-07-08T07:27:52.000Z');
    expect([...crl.revokedSerials].some((s) => s.startsWith('bba6c175'))).toBe(false);
  });

  it('the root CRL is empty; sgx and tdx copies are identical', () => {
    const crl = parseIntelCrl(vector('tdx/gotdx-rootcrl.der'), 'root CRL');
    expect(crl.revokedSerials.size).toBe(0);
    expect(vector('tdx/gotdx-rootcrl.der').equals(vector('sgx/mobilecoin-root_crl.der'))).toBe(true);
  });

  it('a gotdx PCK CRL past its nextUpdate → EG_VERIFY_EXPIRED', () => {
    const c = {
      tcbInfo: vector('tdx/gotdx-tcbinfo-50806f000000.json'),
      tcbInfoIssuerChain: SIGNER_2018,
      pckCrl: vector('tdx/gotdx-pckcrl-platform.der'),
    };
    const r = run(vector('tdx/gotdx-v4-spr-e4-quote.dat'), c, '2023-07-10T00:00:00Z', { allowTrailingData: true });
    expect(r.code).toBe('EG_VERIFY_EXPIRED');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.crl.pck.validity');
  });

  it('CRLs given as PEM or hex are accepted', () => {
    const der = vector('tdx/gotdx-rootcrl.der');
    const pem = `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END X509 CRL-----\n`;
    const n1 = normaliseIntelCollateral({ tcbInfo: vector('tdx/gotdx-tcbinfo-50806f000000.json'), tcbInfoIssuerChain: SIGNER_2018, rootCaCrl: pem, pckCrl: der.toString('hex') });
    expect(Buffer.from(n1.rootCaCrl!).equals(der)).toBe(true);
    expect(Buffer.from(n1.pckCrl!).equals(der)).toBe(true);
  });

  it('a malformed CRL → EG_VERIFY_PARSE', () => {
    const c = { ...phalaV4(), pck_crl: '3003020101' };
    expect(run(PHALA_V4_QUOTE, c, PHALA_AT).code).toBe('EG_VERIFY_PARSE');
  });
});

describe('fake Intel PKI: revocation', () => {
  it('a clean fake chain verifies UpToDate with complete collateral', async () => {
    const f = await makeFakeIntel();
    const r = run(f.quote, f.collateral, FAKE_AT, { trustedRoots: f.roots });
    expect(r.code).toBeUndefined();
    expect(r.ev?.tcb).toMatchObject({ status: 'UpToDate', tdxModuleStatus: 'UpToDate', qeStatus: 'UpToDate', collateral: 'verified', fmspc: 'f0f0f0000000' });
    expect(r.ctx.transcript.steps[0]).toMatchObject({ step: 'intel.roots' });
  });

  it('the fake chain is refused against the pinned Intel root', async () => {
    const f = await makeFakeIntel();
    expect(run(f.quote, f.collateral, FAKE_AT).code).toBe('EG_VERIFY_CHAIN');
  });

  it('PCK listed in the PCK CA CRL → EG_VERIFY_REVOKED', async () => {
    const f0 = await makeFakeIntel();
    const f = await makeFakeIntel({ revokedByCa: ['0001', f0.pckSerial] });
    const r = run(f.quote, f.collateral, FAKE_AT, { trustedRoots: f.roots });
    expect(r.code).toBe('EG_VERIFY_REVOKED');
    expect(r.ctx.transcript.steps.at(-1)).toMatchObject({ step: 'intel.crl.pck.revocation', ok: false, code: 'EG_VERIFY_REVOKED' });
  });

  it('PCK CA listed in the root CRL → EG_VERIFY_REVOKED', async () => {
    const f0 = await makeFakeIntel();
    const f = await makeFakeIntel({ revokedByRoot: [f0.caSerial] });
    const r = run(f.quote, f.collateral, FAKE_AT, { trustedRoots: f.roots });
    expect(r.code).toBe('EG_VERIFY_REVOKED');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.crl.root.revocation');
  });

  it('TCB Signing certificate listed in the root CRL → EG_VERIFY_REVOKED', async () => {
    const f0 = await makeFakeIntel();
    const f = await makeFakeIntel({ revokedByRoot: [f0.tcbSigningSerial] });
    expect(run(f.quote, f.collateral, FAKE_AT, { trustedRoots: f.roots }).code).toBe('EG_VERIFY_REVOKED');
  });

  it('a PCK CRL signed by the root instead of the PCK CA → EG_VERIFY_CHAIN', async () => {
    const f = await makeFakeIntel({ pckCrlFromRoot: true });
    expect(run(f.quote, f.collateral, FAKE_AT, { trustedRoots: f.roots }).code).toBe('EG_VERIFY_CHAIN');
  });

  it('a CRL whose signature was altered → EG_VERIFY_SIGNATURE', async () => {
    const f = await makeFakeIntel();
    const crl = new Uint8Array(f.collateral.pckCrl);
    crl[crl.length - 5]! ^= 0x01; // inside the signature's s integer
    const r = run(f.quote, { ...f.collateral, pckCrl: crl }, FAKE_AT, { trustedRoots: f.roots });
    expect(r.code).toBe('EG_VERIFY_SIGNATURE');
  });

  it('a stale CRL → EG_VERIFY_EXPIRED; a not-yet-valid one too', async () => {
    const stale = await makeFakeIntel({ crlThisUpdate: new Date('2024-11-01T00:00:00Z'), crlNextUpdate: new Date('2024-12-01T00:00:00Z') });
    expect(run(stale.quote, stale.collateral, FAKE_AT, { trustedRoots: stale.roots }).code).toBe('EG_VERIFY_EXPIRED');
    const future = await makeFakeIntel({ crlThisUpdate: new Date('2025-01-02T00:00:00Z'), crlNextUpdate: new Date('2025-02-01T00:00:00Z') });
    expect(run(future.quote, future.collateral, FAKE_AT, { trustedRoots: future.roots }).code).toBe('EG_VERIFY_EXPIRED');
  });
});

describe('collateral shapes', () => {
  it('rawJsonMembers returns exact member text and refuses duplicate keys', () => {
    const m = rawJsonMembers('{ "a" : {"x": [1, "}"] } , "b":"s\\"t" }', 'doc');
    expect(m.get('a')).toBe('{"x": [1, "}"] }');
    expect(m.get('b')).toBe('"s\\"t"');
    expect(() => rawJsonMembers('{"a":1,"a":2}', 'doc')).toThrow(/duplicate/);
    expect(() => rawJsonMembers('{"a":', 'doc')).toThrow(VerifyError);
  });

  it.each([
    ['not an object', 42],
    ['neither form', { foo: 1 }],
    ['dcap-qvl form with a missing field', { tcb_info: '{}' }],
    ['PCS form with a non-JSON tcbInfo', { tcbInfo: 'nope', tcbInfoIssuerChain: ROOT_PEM }],
    ['PCS form without signature', { tcbInfo: '{"tcbInfo":{}}', tcbInfoIssuerChain: ROOT_PEM }],
    ['PCS form with a short signature', { tcbInfo: '{"tcbInfo":{},"signature":"abcd"}', tcbInfoIssuerChain: ROOT_PEM }],
    ['issuer chain without PEM', { tcbInfo: '{"tcbInfo":{},"signature":"00"}', tcbInfoIssuerChain: 'x' }],
  ])('%s → EG_VERIFY_PARSE', (_name, input) => {
    expect(run(PHALA_V4_QUOTE, input, PHALA_AT).code).toBe('EG_VERIFY_PARSE');
  });

  it('a signed but malformed TCB info body → EG_VERIFY_PARSE (checked after its signature)', async () => {
    const f = await makeFakeIntel();
    const tcbInfo = await f.signDocument('tcbInfo', f.tcbInfoBody.replace('"version":3', '"version":"3"'));
    const r = run(f.quote, { ...f.collateral, tcbInfo }, FAKE_AT, { trustedRoots: f.roots });
    expect(r.code).toBe('EG_VERIFY_PARSE');
    expect(r.ctx.transcript.steps.map((s) => s.step)).toContain('intel.tcbinfo.signature');
  });
});

describe('TCB evaluation (fake PKI, re-signed collateral)', () => {
  async function withBodies(edit: { tcbInfo?: (b: string) => string; qeIdentity?: (b: string) => string }) {
    const f = await makeFakeIntel();
    const tcbInfo = await f.signDocument('tcbInfo', (edit.tcbInfo ?? ((b) => b))(f.tcbInfoBody));
    const qeIdentity = await f.signDocument('enclaveIdentity', (edit.qeIdentity ?? ((b) => b))(f.qeIdentityBody));
    return run(f.quote, { ...f.collateral, tcbInfo, qeIdentity }, FAKE_AT, { trustedRoots: f.roots });
  }

  it('a Revoked TCB level is reported as status Revoked', async () => {
    const r = await withBodies({ tcbInfo: (b) => b.replace(/"tcbStatus":"UpToDate"\}\]\}$/, '"tcbStatus":"Revoked","advisoryIDs":["INTEL-SA-99999"]}]}') });
    expect(r.ev?.tcb).toMatchObject({ status: 'Revoked', platformStatus: 'Revoked', advisoryIds: ['INTEL-SA-99999'] });
  });

  it('a PCESVN above the PCK → NoMatchingTcbLevel', async () => {
    const r = await withBodies({ tcbInfo: (b) => b.replace('"pcesvn":11', '"pcesvn":12') });
    expect(r.ev?.tcb['status']).toBe('NoMatchingTcbLevel');
  });

  it('TDX components: bytes 0–1 are left to the module identity when the module major version is > 0', async () => {
    // tee_tcb_svn is 03 01 02 …: a level demanding 09 09 in bytes 0–1 still matches, one demanding 03 in byte 2 does not.
    const high = await withBodies({ tcbInfo: (b) => b.replace('[{"svn":3},{"svn":1},{"svn":2}', '[{"svn":9},{"svn":9},{"svn":2}') });
    expect(high.ev?.tcb['platformStatus']).toBe('UpToDate');
    const byte2 = await withBodies({ tcbInfo: (b) => b.replace('[{"svn":3},{"svn":1},{"svn":2}', '[{"svn":3},{"svn":1},{"svn":3}') });
    expect(byte2.ev?.tcb['platformStatus']).toBe('NoMatchingTcbLevel');
  });

  it('an OutOfDate TDX module merges into the overall status with its advisories', async () => {
    const r = await withBodies({
      tcbInfo: (b) => b.replace('"tcbLevels":[{"tcb":{"isvsvn":3}', '"tcbLevels":[{"tcb":{"isvsvn":5},"tcbDate":"2024-06-01T00:00:00Z","tcbStatus":"UpToDate"},{"tcb":{"isvsvn":3}').replace('"tcbStatus":"UpToDate"}]}],"tcbLevels"', '"tcbStatus":"OutOfDate","advisoryIDs":["INTEL-SA-01036"]}]}],"tcbLevels"'),
    });
    expect(r.ev?.tcb).toMatchObject({ status: 'OutOfDate', platformStatus: 'UpToDate', tdxModuleStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-01036'] });
  });

  it('no module identity for the module version → EG_VERIFY_TCB', async () => {
    const r = await withBodies({ tcbInfo: (b) => b.replace('"id":"TDX_01"', '"id":"TDX_03"') });
    expect(r.code).toBe('EG_VERIFY_TCB');
  });

  it('a module MRSIGNER other than the quote MRSIGNERSEAM → EG_VERIFY_TCB', async () => {
    const r = await withBodies({ tcbInfo: (b) => b.replace(/"id":"TDX_01","mrsigner":"0/, '"id":"TDX_01","mrsigner":"1') });
    expect(r.code).toBe('EG_VERIFY_TCB');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.tdx-module');
  });

  it('a QE MRSIGNER other than the identity → EG_VERIFY_TCB', async () => {
    const r = await withBodies({ qeIdentity: (b) => b.replace('"mrsigner":"DC', '"mrsigner":"DD') });
    expect(r.code).toBe('EG_VERIFY_TCB');
    expect(r.ctx.transcript.steps.at(-1)?.step).toBe('intel.qe.identity');
  });

  it('QE attributes outside the mask do not matter; inside they do', async () => {
    const ignored = await withBodies({ qeIdentity: (b) => b.replace('"attributes":"11', '"attributes":"15') }); // bit 2 is masked out (FB)
    expect(ignored.ev?.tcb['qeStatus']).toBe('UpToDate');
    const checked = await withBodies({ qeIdentity: (b) => b.replace('"attributes":"11', '"attributes":"13') }); // bit 1 (DEBUG) is in the mask
    expect(checked.code).toBe('EG_VERIFY_TCB');
  });

  it('a QE ISVSVN below every QE level → qeStatus NoMatchingTcbLevel, and so the overall status', async () => {
    const r = await withBodies({ qeIdentity: (b) => b.replace('"isvsvn":4', '"isvsvn":5') });
    expect(r.ev?.tcb).toMatchObject({ qeStatus: 'NoMatchingTcbLevel', platformStatus: 'UpToDate', status: 'NoMatchingTcbLevel' });
  });

  it('an unsupported TCB info version or tcbType → EG_VERIFY_UNSUPPORTED', async () => {
    expect((await withBodies({ tcbInfo: (b) => b.replace('"version":3', '"version":4') })).code).toBe('EG_VERIFY_UNSUPPORTED');
    expect((await withBodies({ tcbInfo: (b) => b.replace('"tcbType":0', '"tcbType":1') })).code).toBe('EG_VERIFY_UNSUPPORTED');
  });
});
