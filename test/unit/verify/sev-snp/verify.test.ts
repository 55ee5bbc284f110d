import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { parsePemBundle } from '../../../../src/verify/x509.js';
import {
  parseSnpReport,
  parseVekExtensions,
  SnpChainCache,
  verifySnpReport,
  verifySnpVek,
  type SnpEndorsements,
  type SnpVerifiedEvidence,
  type SnpVerifyOptions,
} from '../../../../src/verify/sev-snp/index.js';
import { checkSnpReportBinding } from '../../../../src/verify/sev-snp/verify.js';
import { vectorText } from '../../../helpers/vectors.js';
import { allAmdChains, ctxAt, edited, REPORT_CASES, snp, snpText } from './fixtures.js';

function verifyCase(
  report: Uint8Array,
  endorsements: SnpEndorsements,
  options: SnpVerifyOptions,
  at: string,
): { evidence: SnpVerifiedEvidence; steps: string[] } {
  const ctx = ctxAt(at);
  const evidence = verifySnpReport(report, endorsements, options, ctx);
  expect(ctx.transcript.steps.every((s) => s.ok)).toBe(true);
  return { evidence, steps: ctx.transcript.steps.map((s) => s.step) };
}

/** Runs `fn`, expects a VerifyError with `code`, and that the transcript's last step failed with it. */
function failsWith(code: string, at: string, fn: (ctx: ReturnType<typeof ctxAt>) => unknown): VerifyError {
  const ctx = ctxAt(at);
  try {
    fn(ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(VerifyError);
    const e = error as VerifyError;
    expect(e.code).toBe(code);
    const last = ctx.transcript.steps.at(-1);
    expect(last?.ok).toBe(false);
    expect(last?.code).toBe(code);
    return e;
  }
  throw new Error(`expected ${code}, verification passed`);
}

const tcbOf = (e: SnpVerifiedEvidence): [number, number, number, number] => {
  const r = e.tcb.reported;
  return [r.bootloader, r.tee, r.snp, r.microcode];
};

describe('every SNP report vector verifies inside its VEK window', () => {
  it.each(REPORT_CASES)('$name at $at', (c) => {
    const { evidence, steps } = verifyCase(snp(c.report), c.endorsements(), c.product === undefined ? {} : { product: c.product }, c.at);
    expect(evidence.platform).toBe('sev-snp');
    expect(steps).toEqual([
      'snp.report.parse',
      'snp.product',
      'snp.chain',
      'snp.chain.validity',
      'snp.vek.extensions',
      'snp.signer',
      'snp.report.signature',
      'snp.tcb.reported',
      'snp.chip-id',
    ]);
    // The JSON round trip is what the CLI and mutual RA-TLS policy input see.
    expect(JSON.parse(JSON.stringify(evidence))).toEqual(evidence);
  });

  it('gosev Milan v2: debug policy, TCB, chip, firmware', () => {
    const c = REPORT_CASES[0]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), { product: 'milan' }, c.at);
    expect(e.measurement).toBe('b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01');
    expect(e.reportData).toBe(`0102030405${'00'.repeat(59)}`);
    expect(e.debug).toBe(true);
    expect(e.claims.policy.raw).toBe('0xb0000');
    expect(e.claims.policy.debug).toBe(true);
    expect(tcbOf(e)).toEqual([2, 0, 5, 68]);
    expect(e.tcb).toMatchObject({ product: 'milan', vekKind: 'vcek' });
    expect(e.claims.chipId.startsWith('3ac3fe21')).toBe(true);
    expect(e.claims.chipId.endsWith('006b5d')).toBe(true);
    expect(e.claims.vek.hwId).toBe(e.claims.chipId);
    expect(e.claims.vek.productName).toBe('Milan-B0');
    expect(e.claims.currentFirmware).toBe('1.49.3');
    expect(e.claims.vmpl).toBe(0);
    expect(e.claims.cpuid).toBeNull();
  });

  it('virtee Milan v2', () => {
    const c = REPORT_CASES[1]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    expect(e.measurement).toBe('7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f');
    expect(e.reportData.startsWith('d447b55d')).toBe(true);
    expect(e.reportData.endsWith('6a93ebfd')).toBe(true);
    expect(e.claims.policy.raw).toBe('0x30000');
    expect(e.debug).toBe(false);
    expect(tcbOf(e)).toEqual([3, 0, 8, 115]);
    expect(e.claims.currentFirmware).toBe('1.52.4');
    expect(e.tcb.product).toBe('milan');
  });

  it('trustee Milan v2: reported TCB matches the VCEK while current ucode is 206', () => {
    const c = REPORT_CASES[2]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    expect(e.measurement).toBe('a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c');
    expect(e.reportData.startsWith('ec6c52d7')).toBe(true);
    expect(e.reportData.endsWith('400ad7e2' + '00'.repeat(32))).toBe(true);
    expect(e.claims.guestSvn).toBe(4);
    expect(e.claims.policy.raw).toBe('0x3001f');
    expect(e.claims.idKeyDigest.startsWith('0356215882a8')).toBe(true);
    expect(e.tcb.current.microcode).toBe(206);
    for (const t of [e.tcb.reported, e.tcb.committed, e.tcb.launch]) {
      expect([t.bootloader, t.tee, t.snp, t.microcode]).toEqual([3, 0, 8, 115]);
    }
  });

  it('trustee Milan VLEK v3 at 2025-06-01', () => {
    const c = REPORT_CASES[3]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    expect(e.tcb).toMatchObject({ product: 'milan', vekKind: 'vlek' });
    expect(e.claims.vek.cspId).toBe('CN=cc-us-east-2.amazonaws.com');
    expect(e.claims.vek.productName).toBe('Milan');
    expect(e.claims.vek.hwId).toBeNull();
    expect(e.claims.chipId).toBe('00'.repeat(64));
    expect(e.claims.vmpl).toBe(1);
    expect(e.claims.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(e.measurement).toBe('8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0');
    expect(tcbOf(e)).toEqual([4, 0, 24, 217]);
    expect(e.claims.platformInfo.raw).toBe('0x27');
  });

  it('trustee Genoa v3', () => {
    const c = REPORT_CASES[4]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    expect(e.tcb.product).toBe('genoa');
    expect(e.claims.cpuid).toEqual({ family: 0x19, model: 0xa0, stepping: 0x02 });
    expect(e.measurement).toBe('6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e');
    expect(e.reportData.startsWith('7e732088')).toBe(true);
    expect(e.reportData.endsWith('150cf9b0')).toBe(true);
    expect(tcbOf(e)).toEqual([10, 0, 23, 25]);
    expect(e.claims.currentFirmware).toBe('1.55.40');
    expect(e.claims.platformInfo.raw).toBe('0x25');
  });

  it('azure Milan v2: report_data[0:32] is SHA-256 of the HCL variable data', () => {
    const c = REPORT_CASES[5]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    const hcl = snp('azure-milan-hcl-report.bin');
    const varData = hcl.subarray(0x4d4, 0x4d4 + 1110);
    expect(varData.toString('latin1')).toContain('HCLAkPub');
    const digest = createHash('sha256').update(varData).digest('hex');
    expect(digest.startsWith('b3fbad65')).toBe(true);
    expect(e.reportData).toBe(digest + '00'.repeat(32));
    expect(e.measurement).toBe('9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315');
    expect(tcbOf(e)).toEqual([3, 0, 8, 115]);
    expect(e.tcb.current.microcode).toBe(210);
  });

  it('azure Genoa v3: report_data[0:32] is SHA-256 of the HCL variable data', () => {
    const c = REPORT_CASES[6]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    const hcl = snp('azure-genoa-hcl-report.bin');
    const digest = createHash('sha256').update(hcl.subarray(0x4d4, 0x4d4 + 1200)).digest('hex');
    expect(digest.startsWith('b581f12e')).toBe(true);
    expect(digest.endsWith('99f6bf5f')).toBe(true);
    expect(e.reportData.startsWith(digest)).toBe(true);
    expect(e.claims.cpuid).toEqual({ family: 0x19, model: 0x11, stepping: 0x01 });
    expect(e.tcb.product).toBe('genoa');
    expect(e.measurement).toBe('f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae');
    expect(tcbOf(e)).toEqual([10, 0, 23, 84]);
  });

  it('dstack Milan v3: VCEK is for snp23 while current/committed/launch are snp24', () => {
    const c = REPORT_CASES[7]!;
    const { evidence: e } = verifyCase(snp(c.report), c.endorsements(), {}, c.at);
    expect(Buffer.from(e.reportData, 'hex').subarray(0, 24).toString('latin1')).toBe('attest-test-fixture-2026');
    expect(e.reportData.endsWith('00'.repeat(40))).toBe(true);
    expect(e.measurement).toBe('7f51e17f72a04d5422cb2c00998166536019a217376f3aa45a630e59c805a599847ff250dbffcd07e1ba639771d6f05d');
    expect(e.claims.hostData).toBe('783f0057820acb99249af56cc3b07b4e8d80f65183167cba9cf437bb680f742f');
    expect(tcbOf(e)).toEqual([4, 0, 23, 213]);
    expect([e.tcb.current.snp, e.tcb.committed.snp, e.tcb.launch.snp]).toEqual([24, 24, 24]);
  });

  it('v2 reports without a product try every pinned chain (all AMD bundles given)', () => {
    for (const c of REPORT_CASES) {
      const { vek } = c.endorsements();
      const vekOnly = typeof vek === 'string' ? parsePemBundle(vek, 'vek')[0]!.raw : vek;
      const { evidence } = verifyCase(snp(c.report), { vek: vekOnly, chain: allAmdChains() }, {}, c.at);
      expect(evidence.tcb.product).toBe(c.name.includes('Genoa') ? 'genoa' : 'milan');
    }
  });

  it('separate DER and PEM inputs for VEK, ASK and ARK work alike', () => {
    const [ask, ark] = parsePemBundle(snpText('amd-milan-ask-ark.pem'), 'milan');
    const vekPem = `-----BEGIN CERTIFICATE-----\n${snp('gosev-milan-vcek.der').toString('base64')}\n-----END CERTIFICATE-----\n`;
    verifyCase(snp('gosev-milan-report.bin'), { vek: Buffer.from(vekPem), chain: [ark!.raw, ask!.toString()] }, { product: 'milan' }, '2023-01-01T00:00:00Z');
  });
});

describe('README negative cases', () => {
  const virtee = REPORT_CASES[1]!;
  const trustee = REPORT_CASES[2]!;
  const gosev = REPORT_CASES[0]!;

  it('virtee: report byte 21 ^ 0x80 (family_id) → signature failure', () => {
    const report = edited(snp(virtee.report), (b) => (b[21] = b[21]! ^ 0x80));
    const e = failsWith('EG_VERIFY_SIGNATURE', virtee.at, (ctx) => verifySnpReport(report, virtee.endorsements(), {}, ctx));
    expect(e.message).toContain('ECDSA P-384');
  });

  it('trustee: report[42] += 1 (image_id) → signature failure', () => {
    const report = edited(snp(trustee.report), (b) => (b[42] = (b[42]! + 1) & 0xff));
    failsWith('EG_VERIFY_SIGNATURE', trustee.at, (ctx) => verifySnpReport(report, trustee.endorsements(), {}, ctx));
  });

  it('trustee: report[384] += 1 (reported_tcb.bootloader) → signature failure, and the TCB check alone also rejects it', () => {
    const report = edited(snp(trustee.report), (b) => (b[384] = (b[384]! + 1) & 0xff));
    // 0x180 lies inside the signed range 0x000..0x29F, and the signature is
    // checked before the report is compared with the VCEK, so the tampering
    // surfaces as a signature failure: nothing unauthenticated is compared.
    failsWith('EG_VERIFY_SIGNATURE', trustee.at, (ctx) => verifySnpReport(report, trustee.endorsements(), {}, ctx));
    // trustee's own test drives the TCB comparison directly; so does this one.
    const vek = parseVekExtensions(snp('trustee-milan-vcek.der'), 'VCEK');
    const e = failsWith('EG_VERIFY_TCB', trustee.at, (ctx) => checkSnpReportBinding(parseSnpReport(report), vek, 'milan', ctx));
    expect(e.message).toContain('bootloader report 4 ≠ VEK 3');
  });

  // Bytes 40 and 42 fall inside the TBS signature AlgorithmIdentifier (the
  // SHA-384 OID), so the algorithm check names the damage before RSA-PSS runs.
  it('virtee: VCEK DER byte 40 ^ 0xff → chain failure', () => {
    const vek = edited(snp('virtee-milan-vcek.der'), (b) => (b[40] = b[40]! ^ 0xff));
    const e = failsWith('EG_VERIFY_CHAIN', virtee.at, (ctx) => verifySnpReport(snp(virtee.report), { vek, chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx));
    expect(e.message).toContain('TBS says RSASSA-PSS(2.16.840.16229');
  });

  it('trustee: VCEK DER byte 42 += 1 → chain failure', () => {
    const vek = edited(snp('trustee-milan-vcek.der'), (b) => (b[42] = (b[42]! + 1) & 0xff));
    failsWith('EG_VERIFY_CHAIN', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), { vek, chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx));
  });

  it('a VCEK changed inside its signed extensions (hwID) → RSA-PSS chain failure', () => {
    // DER offsets 707..770 hold the 64 hwID bytes of this VCEK.
    const vek = edited(snp('trustee-milan-vcek.der'), (b) => (b[740] = b[740]! ^ 0x01));
    const e = failsWith('EG_VERIFY_CHAIN', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), { vek, chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx));
    expect(e.message).toContain('RSASSA-PSS SHA-384 signature does not verify');
  });

  it('trustee: the ASVK used as the ASK for a VCEK → chain failure', () => {
    const e = failsWith('EG_VERIFY_CHAIN', trustee.at, (ctx) =>
      verifySnpReport(snp(trustee.report), { vek: snp('trustee-milan-vcek.der'), chain: snpText('amd-milan-asvk-ark.pem') }, {}, ctx),
    );
    expect(e.message).toContain('SEV-VLEK-Milan');
  });

  it('a VLEK under the ASK (instead of the ASVK) → chain failure', () => {
    const vlek = REPORT_CASES[3]!;
    failsWith('EG_VERIFY_CHAIN', vlek.at, (ctx) =>
      verifySnpReport(snp(vlek.report), { vek: snp('trustee-milan-vlek.der'), chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx),
    );
  });

  it.each(['NEG-trustee-vcek-modified-legacy-hwid.der', 'NEG-trustee-vcek-modified-new-hwid.der'])('%s → RSA-PSS chain failure', (file) => {
    const e = failsWith('EG_VERIFY_CHAIN', '2025-01-01T00:00:00Z', (ctx) =>
      verifySnpVek({ vek: snp(file), chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx),
    );
    expect(e.message).toContain('SEV-VCEK is not signed by SEV-Milan: RSASSA-PSS SHA-384 signature does not verify');
    failsWith('EG_VERIFY_CHAIN', '2025-01-01T00:00:00Z', (ctx) =>
      verifySnpReport(snp(trustee.report), { vek: snp(file), chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx),
    );
  });

  it('trustee VLEK at 2026-01-01 (after its expiry) → EG_VERIFY_EXPIRED', () => {
    const vlek = REPORT_CASES[3]!;
    const e = failsWith('EG_VERIFY_EXPIRED', '2026-01-01T00:00:00Z', (ctx) => verifySnpReport(snp(vlek.report), vlek.endorsements(), {}, ctx));
    expect(e.message).toContain('2025-12-10T22:14:21.000Z');
  });

  it('gosev before its VCEK is valid and after it expires → EG_VERIFY_EXPIRED', () => {
    for (const at of ['2022-09-24T00:55:27Z', '2029-09-24T00:55:29Z']) {
      failsWith('EG_VERIFY_EXPIRED', at, (ctx) => verifySnpReport(snp(gosev.report), gosev.endorsements(), { product: 'milan' }, ctx));
    }
  });

  it('gosev with product genoa → chain failure naming the contradiction', () => {
    const e = failsWith('EG_VERIFY_CHAIN', gosev.at, (ctx) => verifySnpReport(snp(gosev.report), gosev.endorsements(), { product: 'genoa' }, ctx));
    expect(e.message).toContain('options.product is genoa');
    expect(e.message).toContain('ARK-Milan');
  });

  it('a v3 report whose CPUID contradicts options.product → chain failure before any crypto', () => {
    const genoa = REPORT_CASES[4]!;
    const e = failsWith('EG_VERIFY_CHAIN', genoa.at, (ctx) => verifySnpReport(snp(genoa.report), genoa.endorsements(), { product: 'milan' }, ctx));
    expect(e.message).toContain("the report's CPUID (family 0x19, model 0xa0, stepping 2) identifies genoa");
  });

  it('a v3 Genoa report with the Milan chain → chain failure', () => {
    const genoa = REPORT_CASES[4]!;
    const e = failsWith('EG_VERIFY_CHAIN', genoa.at, (ctx) =>
      verifySnpReport(snp(genoa.report), { vek: snp('trustee-genoa-vcek.der'), chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx),
    );
    expect(e.message).toContain('SEV-Genoa');
  });
});

describe('further negative cases', () => {
  const trustee = REPORT_CASES[2]!;
  const vlek = REPORT_CASES[3]!;

  it('another chip’s VCEK (same product and TCB) → signature failure', () => {
    failsWith('EG_VERIFY_SIGNATURE', trustee.at, (ctx) =>
      verifySnpReport(snp(trustee.report), { vek: snp('virtee-milan-vcek.der'), chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx),
    );
  });

  it('a VCEK-signed report given a VLEK, and the reverse → endorsements missing', () => {
    failsWith('EG_VERIFY_ENDORSEMENTS_MISSING', vlek.at, (ctx) => verifySnpReport(snp(trustee.report), vlek.endorsements(), {}, ctx));
    const e = failsWith('EG_VERIFY_ENDORSEMENTS_MISSING', vlek.at, (ctx) => verifySnpReport(snp(vlek.report), trustee.endorsements(), {}, ctx));
    expect(e.message).toContain('signed by its VLEK');
  });

  it('no chain, or no ARK → endorsements missing', () => {
    failsWith('EG_VERIFY_ENDORSEMENTS_MISSING', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), { vek: snp('trustee-milan-vcek.der') }, {}, ctx));
    const dstack = REPORT_CASES[7]!;
    failsWith('EG_VERIFY_ENDORSEMENTS_MISSING', dstack.at, (ctx) =>
      verifySnpReport(snp(dstack.report), { vek: snpText('dstack-milan-vcek.pem'), chain: snpText('dstack-milan-ask.pem') }, {}, ctx),
    );
    failsWith('EG_VERIFY_ENDORSEMENTS_MISSING', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), {} as SnpEndorsements, {}, ctx));
  });

  it('a self-signed root that is not a pinned ARK → chain failure', () => {
    const [ask] = parsePemBundle(snpText('amd-milan-ask-ark.pem'), 'milan');
    const intelRoot = vectorText('sgx/mobilecoin-root_ca.pem');
    const e = failsWith('EG_VERIFY_CHAIN', trustee.at, (ctx) =>
      verifySnpReport(snp(trustee.report), { vek: snp('trustee-milan-vcek.der'), chain: [ask!.toString(), intelRoot] }, {}, ctx),
    );
    expect(e.message).toContain('is not a pinned AMD ARK');
  });

  it('garbage endorsements → parse error, recorded in the transcript', () => {
    failsWith('EG_VERIFY_PARSE', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), { vek: new Uint8Array([0x30, 0x03, 1, 2, 3]), chain: [] }, {}, ctx));
    failsWith('EG_VERIFY_PARSE', trustee.at, (ctx) => verifySnpReport(snp(trustee.report), { vek: 'not a pem' }, {}, ctx));
  });

  it('an unsigned report (SIGNING_KEY = 7) → unsupported', () => {
    const report = edited(snp(trustee.report), (b) => (b[0x48] = 7 << 2));
    failsWith('EG_VERIFY_UNSUPPORTED', trustee.at, (ctx) => verifySnpReport(report, trustee.endorsements(), {}, ctx));
  });

  it('a v3 report with an unknown CPUID (Venice-like family 0x1A model 0x50) → unsupported', () => {
    const report = edited(snp('dstack-milan-report.bin'), (b) => {
      b[0x188] = 0x1a;
      b[0x189] = 0x50;
    });
    failsWith('EG_VERIFY_UNSUPPORTED', '2026-07-01T00:00:00Z', (ctx) => verifySnpReport(report, REPORT_CASES[7]!.endorsements(), {}, ctx));
  });

  it('an invalid options.product → usage error', () => {
    failsWith('EG_VERIFY_USAGE', trustee.at, (ctx) =>
      verifySnpReport(snp(trustee.report), trustee.endorsements(), { product: 'rome' as unknown as 'milan' }, ctx),
    );
  });

  it('CHIP_ID ≠ hwID → binding failure; MASK_CHIP_KEY and VLEK skip the comparison', () => {
    // virtee's VCEK is for the same TCB (bl3 tee0 snp8 ucode115) but another chip.
    const report = parseSnpReport(snp(trustee.report));
    const otherChip = parseVekExtensions(snp('virtee-milan-vcek.der'), 'VCEK');
    const e = failsWith('EG_VERIFY_BINDING', trustee.at, (ctx) => checkSnpReportBinding(report, otherChip, 'milan', ctx));
    expect(e.message).toContain('CHIP_ID');
    const masked = parseSnpReport(edited(snp(trustee.report), (b) => (b[0x48] = 0x2)));
    const ctx = ctxAt(trustee.at);
    checkSnpReportBinding(masked, otherChip, 'milan', ctx);
    expect(ctx.transcript.steps.at(-1)?.detail).toContain('MASK_CHIP_KEY');
  });

  it('non-zero reserved TCB bytes cannot be compared → TCB failure', () => {
    const report = parseSnpReport(edited(snp(trustee.report), (b) => (b[0x182] = 1)));
    const vek = parseVekExtensions(snp('trustee-milan-vcek.der'), 'VCEK');
    failsWith('EG_VERIFY_TCB', trustee.at, (ctx) => checkSnpReportBinding(report, vek, 'milan', ctx));
  });

  it('random single-byte changes anywhere in a report never verify and only raise VerifyErrors', () => {
    const base = new Uint8Array(snp(trustee.report));
    const cache = new SnpChainCache();
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const report = edited(base, (b) => (b[at] = (b[at]! + delta) & 0xff));
        try {
          verifySnpReport(report, trustee.endorsements(), { chainCache: cache }, ctxAt(trustee.at));
          return false;
        } catch (error) {
          // Most bytes are signed (SIGNATURE); reserved ones fail parsing; the
          // version and the SIGNER_INFO key kind are read before the signature.
          return (
            error instanceof VerifyError &&
            ['EG_VERIFY_PARSE', 'EG_VERIFY_UNSUPPORTED', 'EG_VERIFY_SIGNATURE', 'EG_VERIFY_ENDORSEMENTS_MISSING'].includes(error.code)
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('Turin', () => {
  const turin = { vek: snp('virtee-turin-vcek.der'), chain: snpText('amd-turin-ask-ark.pem') };

  it('the Turin VCEK chains under the Turin ASK/ARK: FMC, 8-byte hwID', () => {
    const ctx = ctxAt('2025-01-01T00:00:00Z');
    const info = verifySnpVek(turin, {}, ctx);
    expect(info.product).toBe('turin');
    expect(info.kind).toBe('vcek');
    expect(info.extensions.productName).toBe('Turin');
    expect(info.extensions.structVersion).toBe(1);
    expect(info.extensions.tcb).toMatchObject({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
    expect(Buffer.from(info.extensions.hwId!).toString('hex')).toBe('1e550a8ee5cf9f4d');
    expect(info.notAfter).toBe('2031-11-06T21:14:00.000Z');
  });

  it('the Turin VCEK does not chain under Milan, nor with product milan', () => {
    failsWith('EG_VERIFY_CHAIN', '2025-01-01T00:00:00Z', (ctx) => verifySnpVek({ vek: turin.vek, chain: snpText('amd-milan-ask-ark.pem') }, {}, ctx));
    failsWith('EG_VERIFY_CHAIN', '2025-01-01T00:00:00Z', (ctx) => verifySnpVek(turin, { product: 'milan' }, ctx));
  });

  it('a Turin-layout report binds to the Turin VCEK by FMC/TCB and the first 8 CHIP_ID bytes', () => {
    // No Turin report exists in the vectors: shape one (unsigned, binding check only).
    const vek = parseVekExtensions(turin.vek, 'Turin VCEK');
    const bytes = edited(snp('dstack-milan-report.bin'), (b) => {
      b.set([0, 0, 0, 0, 0, 0, 0, 9], 0x180); // fmc0 bl0 tee0 snp0 … ucode9
      b.fill(0, 0x1a0, 0x1e0);
      b.set(Buffer.from('1e550a8ee5cf9f4d', 'hex'), 0x1a0);
    });
    const ctx = ctxAt('2025-01-01T00:00:00Z');
    checkSnpReportBinding(parseSnpReport(bytes), vek, 'turin', ctx);
    expect(ctx.transcript.steps.map((s) => s.ok)).toEqual([true, true]);
    const otherFmc = parseSnpReport(edited(bytes, (b) => (b[0x180] = 1)));
    const e = failsWith('EG_VERIFY_TCB', '2025-01-01T00:00:00Z', (c) => checkSnpReportBinding(otherFmc, vek, 'turin', c));
    expect(e.message).toContain('fmc report 1 ≠ VEK 0');
    const otherChip = parseSnpReport(edited(bytes, (b) => (b[0x1a7] = b[0x1a7]! ^ 1)));
    failsWith('EG_VERIFY_BINDING', '2025-01-01T00:00:00Z', (c) => checkSnpReportBinding(otherChip, vek, 'turin', c));
  });
});

describe('chain cache', () => {
  it('caches verified links, still checks validity at ctx.at, and can be cleared', () => {
    const c = REPORT_CASES[3]!;
    const cache = new SnpChainCache();
    verifyCase(snp(c.report), c.endorsements(), { chainCache: cache }, c.at);
    expect(cache.size).toBe(3); // ARK self-signature, ASVK by ARK, VLEK by ASVK
    verifyCase(snp(c.report), c.endorsements(), { chainCache: cache }, c.at);
    expect(cache.size).toBe(3);
    failsWith('EG_VERIFY_EXPIRED', '2026-01-01T00:00:00Z', (ctx) => verifySnpReport(snp(c.report), c.endorsements(), { chainCache: cache }, ctx));
    // A tampered VEK has another fingerprint, so a cached link never vouches for it.
    const tampered = edited(snp('trustee-milan-vlek.der'), (b) => (b[42] = b[42]! ^ 1));
    failsWith('EG_VERIFY_CHAIN', c.at, (ctx) =>
      verifySnpReport(snp(c.report), { vek: tampered, chain: snpText('amd-milan-asvk-ark.pem') }, { chainCache: cache }, ctx),
    );
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest links beyond its size', () => {
    const cache = new SnpChainCache(2);
    cache.add('a', 'b');
    cache.add('c', 'd');
    expect(cache.has('a', 'b')).toBe(true);
    cache.add('e', 'f');
    expect(cache.has('c', 'd')).toBe(false);
    expect(cache.has('a', 'b')).toBe(true);
    expect(() => new SnpChainCache(0)).toThrow(VerifyError);
  });

  it('verifySnpReport is usable in a loop', () => {
    const cache = new SnpChainCache();
    for (const c of REPORT_CASES) {
      for (let i = 0; i < 3; i++) {
        verifySnpReport(snp(c.report), c.endorsements(), { ...(c.product ? { product: c.product } : {}), chainCache: cache }, ctxAt(c.at));
      }
    }
  });
});
