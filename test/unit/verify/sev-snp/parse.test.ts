import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { decodeSnpTcb, parseSnpReport, snpProductFromCpuid, SNP_REPORT_SIZE } from '../../../../src/verify/sev-snp/index.js';
import { edited, snp } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Expects `fn` to throw a VerifyError with `code`; returns it. */
function rejects(fn: () => unknown, code: string): VerifyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VerifyError);
    expect((error as VerifyError).code).toBe(code);
    return error as VerifyError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('parseSnpReport on the vectors', () => {
  it('gosev Milan v2: README values', () => {
    const r = parseSnpReport(snp('gosev-milan-report.bin'));
    expect(r.version).toBe(2);
    expect(r.cpuid).toBeUndefined();
    expect(hex(r.measurement)).toBe('b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01');
    expect(hex(r.reportData)).toBe(`0102030405${'00'.repeat(59)}`);
    expect(r.policy.raw).toBe(0xb0000n);
    expect(r.policy).toMatchObject({ debug: true, smt: true, migrateMa: false, singleSocket: false, abiMajor: 0, abiMinor: 0 });
    expect(decodeSnpTcb(r.reportedTcb, 'milan')).toMatchObject({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    // 0x4405000000000002 little-endian.
    expect(hex(r.reportedTcb)).toBe('0200000000000544');
    expect(hex(r.chipId).startsWith('3ac3fe21')).toBe(true);
    expect(hex(r.chipId).endsWith('006b5d')).toBe(true);
    expect(r.currentVersion).toEqual({ major: 1, minor: 49, build: 3 });
    expect(r.vmpl).toBe(0);
    expect(r.signerInfo).toEqual({ raw: 0, authorKeyEn: false, maskChipKey: false, signingKey: 'vcek' });
    expect(r.signatureAlgo).toBe(1);
  });

  it('virtee Milan v2: README values', () => {
    const r = parseSnpReport(snp('virtee-milan-report.bin'));
    expect(hex(r.measurement)).toBe('7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f');
    expect(hex(r.reportData).startsWith('d447b55d')).toBe(true);
    expect(hex(r.reportData).endsWith('6a93ebfd')).toBe(true);
    expect(r.policy.raw).toBe(0x30000n);
    expect(r.policy.debug).toBe(false);
    expect(decodeSnpTcb(r.reportedTcb, 'milan')).toMatchObject({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    expect(r.currentVersion).toEqual({ major: 1, minor: 52, build: 4 });
  });

  it('virtee .bin is the hex-decoded .hex', () => {
    const fromHex = Buffer.from(snp('virtee-milan-report.hex').toString('latin1').replace(/\s+/g, ''), 'hex');
    expect(Buffer.compare(fromHex, snp('virtee-milan-report.bin'))).toBe(0);
  });

  it('trustee Milan v2: current ucode differs from reported/committed/launch', () => {
    const r = parseSnpReport(snp('trustee-milan-report.bin'));
    expect(hex(r.measurement)).toBe('a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c');
    expect(hex(r.reportData).startsWith('ec6c52d7')).toBe(true);
    expect(hex(r.reportData.subarray(28, 32)).endsWith('400ad7e2')).toBe(true);
    expect(hex(r.reportData.subarray(32))).toBe('00'.repeat(32));
    expect(r.guestSvn).toBe(4);
    expect(r.policy.raw).toBe(0x3001fn);
    expect(r.policy.abiMinor).toBe(0x1f);
    expect(hex(r.familyId).startsWith('01')).toBe(true);
    expect(hex(r.imageId).startsWith('02')).toBe(true);
    expect(hex(r.idKeyDigest).startsWith('0356215882a8')).toBe(true);
    expect(hex(r.idKeyDigest).endsWith('7a44a3')).toBe(true);
    expect(decodeSnpTcb(r.currentTcb, 'milan').microcode).toBe(206);
    for (const tcb of [r.reportedTcb, r.committedTcb, r.launchTcb]) {
      expect(decodeSnpTcb(tcb, 'milan')).toMatchObject({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    }
  });

  it('trustee Milan VLEK v3: signer VLEK, CPUID, zero chip_id, vmpl 1', () => {
    const r = parseSnpReport(snp('trustee-milan-vlek-report.bin'));
    expect(r.version).toBe(3);
    expect(r.signerInfo.raw).toBe(0x4);
    expect(r.signerInfo.signingKey).toBe('vlek');
    expect(r.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(hex(r.chipId)).toBe('00'.repeat(64));
    expect(r.vmpl).toBe(1);
    expect(hex(r.measurement)).toBe('8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0');
    expect(decodeSnpTcb(r.reportedTcb, 'milan')).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 217 });
    expect(r.platformInfo.raw).toBe(0x27n);
  });

  it('trustee Genoa v3: CPUID 0x19/0xA0/0x02 maps to genoa', () => {
    const r = parseSnpReport(snp('trustee-genoa-report.bin'));
    expect(r.cpuid).toEqual({ family: 0x19, model: 0xa0, stepping: 0x02 });
    expect(snpProductFromCpuid(r.cpuid!)).toBe('genoa');
    expect(hex(r.measurement)).toBe('6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e');
    expect(hex(r.reportData).startsWith('7e732088')).toBe(true);
    expect(hex(r.reportData).endsWith('150cf9b0')).toBe(true);
    expect(hex(r.reportedTcb)).toBe('0a00000000001719');
    expect(decodeSnpTcb(r.reportedTcb, 'genoa')).toMatchObject({ bootloader: 10, tee: 0, snp: 23, microcode: 25 });
    expect(r.currentVersion).toEqual({ major: 1, minor: 55, build: 40 });
    expect(r.platformInfo.raw).toBe(0x25n);
  });

  it('dstack Milan v3: report_data marker, host_data, snp23 reported vs snp24 current', () => {
    const r = parseSnpReport(snp('dstack-milan-report.bin'));
    expect(r.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(Buffer.from(r.reportData.subarray(0, 24)).toString('latin1')).toBe('attest-test-fixture-2026');
    expect(hex(r.reportData.subarray(24))).toBe('00'.repeat(40));
    expect(hex(r.measurement)).toBe('7f51e17f72a04d5422cb2c00998166536019a217376f3aa45a630e59c805a599847ff250dbffcd07e1ba639771d6f05d');
    expect(hex(r.hostData)).toBe('783f0057820acb99249af56cc3b07b4e8d80f65183167cba9cf437bb680f742f');
    expect(decodeSnpTcb(r.reportedTcb, 'milan')).toMatchObject({ bootloader: 4, tee: 0, snp: 23, microcode: 213 });
    for (const tcb of [r.currentTcb, r.committedTcb, r.launchTcb]) expect(decodeSnpTcb(tcb, 'milan').snp).toBe(24);
  });

  it('dstack .bin is bytes [4:1188] of the SCALE attestation', () => {
    expect(Buffer.compare(snp('dstack-milan-attestation.scale').subarray(4, 4 + SNP_REPORT_SIZE), snp('dstack-milan-report.bin'))).toBe(0);
  });

  it('the HCL wrappers are not reports (wrong size) and carry the report at 0x20..0x4C0', () => {
    for (const p of ['milan', 'genoa']) {
      const hcl = snp(`azure-${p}-hcl-report.bin`);
      rejects(() => parseSnpReport(hcl), 'EG_VERIFY_PARSE');
      expect(Buffer.compare(hcl.subarray(0x20, 0x4c0), snp(`azure-${p}-report.bin`))).toBe(0);
    }
  });

  it('parsing copies: mutating the input afterwards does not change the result', () => {
    const input = new Uint8Array(snp('gosev-milan-report.bin'));
    const r = parseSnpReport(input);
    input[0x90] = input[0x90]! ^ 0xff;
    expect(hex(r.measurement).startsWith('b07a')).toBe(true);
  });
});

describe('parseSnpReport rejects malformed reports', () => {
  const gosev = (): Uint8Array => new Uint8Array(snp('gosev-milan-report.bin'));
  const v3 = (): Uint8Array => new Uint8Array(snp('dstack-milan-report.bin'));

  it('wrong sizes', () => {
    for (const n of [0, 1, 0x29f, 1183, 1185, 2600]) {
      const e = rejects(() => parseSnpReport(new Uint8Array(n)), 'EG_VERIFY_PARSE');
      expect(e.message).toContain('1184');
    }
  });

  it('non-bytes input', () => {
    rejects(() => parseSnpReport('report' as unknown as Uint8Array), 'EG_VERIFY_PARSE');
  });

  it('unknown versions are unsupported', () => {
    for (const v of [0, 1, 6, 0xffffffff]) {
      const e = rejects(() => parseSnpReport(edited(gosev(), (b) => new DataView(b.buffer).setUint32(0, v, true))), 'EG_VERIFY_UNSUPPORTED');
      expect(e.message).toContain(`version ${v}`);
    }
  });

  it('signature_algo other than 1 is unsupported', () => {
    const e = rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x34] = 2))), 'EG_VERIFY_UNSUPPORTED');
    expect(e.message).toContain('signature_algo 2');
  });

  it('policy: bit 17 must be one, bits 63:26 must be zero', () => {
    rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x0a] = b[0x0a]! & ~0x02))), 'EG_VERIFY_PARSE');
    rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x0b] = 0x04))), 'EG_VERIFY_PARSE');
    rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x0f] = 0x80))), 'EG_VERIFY_PARSE');
  });

  it('signer_info: MBZ bits and reserved signing keys', () => {
    rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x48] = 0x20))), 'EG_VERIFY_PARSE');
    rejects(() => parseSnpReport(edited(gosev(), (b) => (b[0x48] = 2 << 2))), 'EG_VERIFY_PARSE');
    expect(parseSnpReport(edited(gosev(), (b) => (b[0x48] = 7 << 2))).signerInfo.signingKey).toBe('none');
    expect(parseSnpReport(edited(gosev(), (b) => (b[0x48] = 0x3))).signerInfo).toMatchObject({ authorKeyEn: true, maskChipKey: true });
  });

  // Offsets in every reserved range, per version; the message must name the offset.
  const reserved: [string, () => Uint8Array, number][] = [
    ['0x04C (v2)', gosev, 0x04c],
    ['0x04F (v2)', gosev, 0x04f],
    ['0x188 CPUID bytes are reserved in v2', gosev, 0x188],
    ['0x18A (v2)', gosev, 0x18a],
    ['0x18B (v3)', v3, 0x18b],
    ['0x19F (v3)', v3, 0x19f],
    ['0x1EB', gosev, 0x1eb],
    ['0x1EF', v3, 0x1ef],
    ['0x1F8 mitigation vector is reserved before v5', v3, 0x1f8],
    ['0x207 (v2)', gosev, 0x207],
    ['0x208', v3, 0x208],
    ['0x29F', gosev, 0x29f],
    ['0x330 signature padding', gosev, 0x330],
    ['0x49F signature padding', v3, 0x49f],
  ];
  it.each(reserved)('non-zero reserved byte at %s', (_label, base, offset) => {
    const e = rejects(() => parseSnpReport(edited(base(), (b) => (b[offset] = 0x5a))), 'EG_VERIFY_PARSE');
    expect(e.message).toContain(`offset 0x${offset.toString(16).padStart(3, '0')}`);
    expect(e.details).toEqual({ offset });
  });

  it('v5 reads the mitigation vectors and still rejects 0x208..0x29F', () => {
    const v5 = edited(v3(), (b) => {
      b[0] = 5;
      b[0x1f8] = 0x01;
      b[0x200] = 0x03;
    });
    const r = parseSnpReport(v5);
    expect(r.launchMitVector).toBe(1n);
    expect(r.currentMitVector).toBe(3n);
    rejects(() => parseSnpReport(edited(v5, (b) => (b[0x208] = 1))), 'EG_VERIFY_PARSE');
  });
});

describe('TCB layouts and products', () => {
  it('Milan/Genoa: bl, tee, 4 reserved, snp, ucode', () => {
    const t = decodeSnpTcb(Uint8Array.from([3, 1, 0, 0, 0, 0, 8, 115]), 'genoa');
    expect(t).toEqual({ raw: '0301000000000873', bootloader: 3, tee: 1, snp: 8, microcode: 115, reserved: '00000000' });
  });

  it('Turin: fmc, bl, tee, snp, 3 reserved, ucode', () => {
    const t = decodeSnpTcb(Uint8Array.from([1, 2, 3, 4, 0, 0, 0, 9]), 'turin');
    expect(t).toEqual({ raw: '0102030400000009', fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 9, reserved: '000000' });
  });

  it('CPUID → product', () => {
    const cases: [number, number, string | undefined][] = [
      [0x19, 0x01, 'milan'],
      [0x19, 0x00, 'milan'],
      [0x19, 0x11, 'genoa'],
      [0x19, 0xa0, 'genoa'],
      [0x1a, 0x02, 'turin'],
      [0x1a, 0x11, 'turin'],
      [0x1a, 0x50, undefined],
      [0x17, 0x31, undefined],
      [0, 0, undefined],
    ];
    for (const [family, model, want] of cases) expect(snpProductFromCpuid({ family, model, stepping: 0 })).toBe(want);
  });
});

describe('parseSnpReport properties', () => {
  const real = new Uint8Array(snp('trustee-milan-vlek-report.bin'));

  /** Parse either succeeds or throws a VerifyError: nothing else may escape. */
  const onlyVerifyErrors = (bytes: Uint8Array): boolean => {
    try {
      parseSnpReport(bytes);
      return true;
    } catch (error) {
      return error instanceof VerifyError && /^EG_VERIFY_/.test(error.code);
    }
  };

  it('random byte strings of any length', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), onlyVerifyErrors), { numRuns: 500 });
  });

  it('random 1184-byte reports with a plausible header reach the deeper checks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }), fc.integer({ min: 2, max: 5 }), (bytes, version) => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        view.setUint32(0, version, true);
        view.setUint32(0x34, 1, true);
        return onlyVerifyErrors(bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('every truncation of a real report is a size error', () => {
    for (let n = 0; n < SNP_REPORT_SIZE; n++) {
      const e = rejects(() => parseSnpReport(real.subarray(0, n)), 'EG_VERIFY_PARSE');
      expect(e.details).toEqual({ length: n });
    }
  });

  it('random mutations of a real report', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: SNP_REPORT_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) =>
        onlyVerifyErrors(edited(real, (b) => edits.forEach(([i, v]) => (b[i] = v)))),
      ),
      { numRuns: 500 },
    );
  });

  it('any non-zero byte in a reserved range is rejected with its offset', () => {
    // v3 report: reserved 0x04C..0x04F, 0x18B..0x19F, 0x1EB, 0x1EF, 0x1F8..0x29F, 0x330..0x49F.
    const ranges: [number, number][] = [
      [0x04c, 0x050],
      [0x18b, 0x1a0],
      [0x1eb, 0x1ec],
      [0x1ef, 0x1f0],
      [0x1f8, 0x2a0],
      [0x330, 0x4a0],
    ];
    const offset = fc.constantFrom(...ranges).chain(([lo, hi]) => fc.integer({ min: lo, max: hi - 1 }));
    fc.assert(
      fc.property(offset, fc.integer({ min: 1, max: 255 }), (at, value) => {
        try {
          parseSnpReport(edited(real, (b) => (b[at] = value)));
          return false;
        } catch (error) {
          return error instanceof VerifyError && error.code === 'EG_VERIFY_PARSE' && (error.details as { offset?: number })?.offset === at;
        }
      }),
      { numRuns: 400 },
    );
  });
});
