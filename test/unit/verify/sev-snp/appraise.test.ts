import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import type { VerifiedEvidence } from '../../../../src/verify/types.js';
import {
  appraiseSnp,
  parseSnpReferenceValues,
  verifySnpReport,
  type SnpReferenceValues,
  type SnpVerifiedEvidence,
} from '../../../../src/verify/sev-snp/index.js';
import { ctxAt, REPORT_CASES, snp } from './fixtures.js';

function evidenceOf(name: string): SnpVerifiedEvidence {
  const c = REPORT_CASES.find((x) => x.name.startsWith(name))!;
  return verifySnpReport(snp(c.report), c.endorsements(), c.product === undefined ? {} : { product: c.product }, ctxAt(c.at));
}

function appraise(evidence: VerifiedEvidence, rv: SnpReferenceValues): ReturnType<typeof ctxAt> {
  const ctx = ctxAt('2025-01-01T00:00:00Z');
  appraiseSnp(evidence, rv, ctx);
  return ctx;
}

function rejected(code: string, evidence: VerifiedEvidence, rv: SnpReferenceValues): VerifyError {
  const ctx = ctxAt('2025-01-01T00:00:00Z');
  try {
    appraiseSnp(evidence, rv, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(VerifyError);
    expect((error as VerifyError).code).toBe(code);
    if (code !== 'EG_VERIFY_USAGE') expect(ctx.transcript.steps.at(-1)).toMatchObject({ ok: false, code });
    return error as VerifyError;
  }
  throw new Error(`expected ${code}, appraisal passed`);
}

const gosev = evidenceOf('gosev');
const virtee = evidenceOf('virtee');
const vlek = evidenceOf('trustee Milan VLEK');
const dstack = evidenceOf('dstack');
const azureGenoa = evidenceOf('azure Genoa');
const trustee = evidenceOf('trustee Milan v2');

describe('appraiseSnp', () => {
  it('debug guests (gosev policy 0xb0000) are rejected by default and accepted with allowDebug', () => {
    const e = rejected('EG_VERIFY_DEBUG', gosev, {});
    expect(e.message).toContain('bit 19');
    const ctx = appraise(gosev, { allowDebug: true });
    expect(ctx.transcript.steps.find((s) => s.step === 'snp.appraise.debug')?.detail).toContain('ACCEPTED');
    rejected('EG_VERIFY_DEBUG', gosev, { allowDebug: false });
  });

  it('non-debug guests pass with empty reference values', () => {
    for (const e of [virtee, vlek, dstack, azureGenoa, trustee]) appraise(e, {});
  });

  it('minimum TCB: equal passes, any component above reported fails', () => {
    appraise(virtee, { minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 } });
    appraise(virtee, { minimumTcb: { bootloader: 0, tee: 0, snp: 0, microcode: 0 } });
    const e = rejected('EG_VERIFY_TCB', virtee, { minimumTcb: { bootloader: 3, tee: 0, snp: 9, microcode: 115 } });
    expect(e.message).toContain('snp 8 < 9');
    rejected('EG_VERIFY_TCB', virtee, { minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 116 } });
    rejected('EG_VERIFY_TCB', virtee, { minimumTcb: { bootloader: 4, tee: 0, snp: 0, microcode: 0 } });
    rejected('EG_VERIFY_TCB', virtee, { minimumTcb: { bootloader: 0, tee: 1, snp: 0, microcode: 0 } });
  });

  it('minimum TCB is enforced on reported_tcb, not current (trustee: current ucode 206, reported 115)', () => {
    rejected('EG_VERIFY_TCB', trustee, { minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 200 } });
    // dstack: reported snp23 while current is snp24.
    rejected('EG_VERIFY_TCB', dstack, { minimumTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 213 } });
  });

  it('a minimum FMC is noted and ignored for products without FMC', () => {
    const ctx = appraise(virtee, { minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: 5 } });
    expect(ctx.transcript.steps.find((s) => s.step === 'snp.appraise.tcb')?.detail).toContain('milan has no FMC');
  });

  it('measurement allowlist (README values; hex case does not matter)', () => {
    const want = '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f';
    appraise(virtee, { measurements: [want.toUpperCase()] });
    const e = rejected('EG_VERIFY_REFERENCE_VALUES', dstack, { measurements: [want] });
    expect(e.message).toContain('measurement');
  });

  it('VMPL allowlist (VLEK report is from VMPL 1)', () => {
    rejected('EG_VERIFY_REFERENCE_VALUES', vlek, { vmpl: [0] });
    appraise(vlek, { vmpl: [0, 1] });
  });

  it('HOST_DATA allowlist (dstack)', () => {
    appraise(dstack, { hostData: ['783f0057820acb99249af56cc3b07b4e8d80f65183167cba9cf437bb680f742f'] });
    rejected('EG_VERIFY_REFERENCE_VALUES', dstack, { hostData: ['00'.repeat(32)] });
  });

  it('ID key digest allowlist (trustee launched with an ID block)', () => {
    expect(trustee.claims.idKeyDigest.startsWith('0356215882a8')).toBe(true);
    appraise(trustee, { idKeyDigests: [trustee.claims.idKeyDigest] });
    // gosev's VM was launched without an ID block: its digest is zero.
    rejected('EG_VERIFY_REFERENCE_VALUES', { ...gosev, debug: false }, { idKeyDigests: [trustee.claims.idKeyDigest] });
  });

  it('allowSmt: false rejects hosts with SMT enabled (platform_info bit 0)', () => {
    expect(virtee.claims.platformInfo.smtEnabled).toBe(true);
    rejected('EG_VERIFY_REFERENCE_VALUES', virtee, { allowSmt: false });
    appraise(virtee, { allowSmt: true });
    // Azure Genoa platform_info 0x24: SMT off.
    expect(azureGenoa.claims.platformInfo.smtEnabled).toBe(false);
    appraise(azureGenoa, { allowSmt: false });
  });

  it('a migration agent is rejected unless allowMigrationAgent', () => {
    const withMa = { ...virtee, claims: { ...virtee.claims, policy: { ...virtee.claims.policy, migrateMa: true } } };
    rejected('EG_VERIFY_REFERENCE_VALUES', withMa, {});
    appraise(withMa, { allowMigrationAgent: true });
  });

  it('evidence from another platform or of the wrong shape is a usage error', () => {
    rejected('EG_VERIFY_USAGE', { ...virtee, platform: 'tdx' } as VerifiedEvidence, {});
    rejected('EG_VERIFY_USAGE', { ...virtee, tcb: {} } as VerifiedEvidence, {});
    rejected('EG_VERIFY_USAGE', null as unknown as VerifiedEvidence, {});
  });

  it('reference values are validated before use', () => {
    rejected('EG_VERIFY_USAGE', virtee, { allowDebug: 'yes' } as unknown as SnpReferenceValues);
  });

  it('accepts evidence that went through JSON', () => {
    appraise(JSON.parse(JSON.stringify(dstack)) as VerifiedEvidence, { hostData: [dstack.claims.hostData], minimumTcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
  });
});

describe('parseSnpReferenceValues', () => {
  const usage = (json: unknown): string => {
    try {
      parseSnpReferenceValues(json);
    } catch (error) {
      expect(error).toBeInstanceOf(VerifyError);
      expect((error as VerifyError).code).toBe('EG_VERIFY_USAGE');
      return (error as VerifyError).message;
    }
    throw new Error('expected EG_VERIFY_USAGE');
  };

  it('accepts a full document, lower-cases hex and freezes it', () => {
    const rv = parseSnpReferenceValues({
      minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: 1 },
      allowDebug: false,
      allowSmt: true,
      allowMigrationAgent: false,
      vmpl: [0],
      hostData: ['AB'.repeat(32)],
      idKeyDigests: ['cd'.repeat(48)],
      measurements: ['EF'.repeat(48)],
    });
    expect(rv.hostData).toEqual(['ab'.repeat(32)]);
    expect(rv.measurements).toEqual(['ef'.repeat(48)]);
    expect(rv.minimumTcb).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: 1 });
    expect(Object.isFrozen(rv)).toBe(true);
    expect(parseSnpReferenceValues({})).toEqual({});
  });

  it('rejects unknown keys, wrong types, ranges, hex and empty lists', () => {
    expect(usage({ measurement: [] })).toContain('unknown key "measurement"');
    expect(usage({ minimumTcb: { bootloader: 1, tee: 0, snp: 0, microcode: 0, spl4: 0 } })).toContain('minimumTcb.spl4');
    expect(usage({ minimumTcb: { bootloader: 1, tee: 0, snp: 0 } })).toContain('minimumTcb.microcode');
    expect(usage({ minimumTcb: { bootloader: 256, tee: 0, snp: 0, microcode: 0 } })).toContain('0..255');
    expect(usage({ minimumTcb: { bootloader: 1.5, tee: 0, snp: 0, microcode: 0 } })).toContain('bootloader');
    expect(usage({ minimumTcb: [] })).toContain('object');
    expect(usage({ allowDebug: 1 })).toContain('allowDebug');
    expect(usage({ allowSmt: 'false' })).toContain('allowSmt');
    expect(usage({ allowMigrationAgent: null })).toContain('allowMigrationAgent');
    expect(usage({ vmpl: [4] })).toContain('vmpl[0]');
    expect(usage({ vmpl: [] })).toContain('empty');
    expect(usage({ vmpl: 0 })).toContain('vmpl');
    expect(usage({ measurements: ['ab'] })).toContain('96 hex digits');
    expect(usage({ measurements: [] })).toContain('empty');
    expect(usage({ hostData: ['zz'.repeat(32)] })).toContain('64 hex digits');
    expect(usage({ idKeyDigests: 'ab' })).toContain('array');
    expect(usage(null)).toContain('object');
    expect(usage([])).toContain('object');
    expect(usage('{}')).toContain('object');
  });

  it('any JSON value either parses or is a usage error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ vmpl: fc.jsonValue(), minimumTcb: fc.jsonValue() }, { requiredKeys: [] })), (json) => {
        try {
          parseSnpReferenceValues(json);
          return true;
        } catch (error) {
          return error instanceof VerifyError && error.code === 'EG_VERIFY_USAGE';
        }
      }),
      { numRuns: 500 },
    );
  });
});
