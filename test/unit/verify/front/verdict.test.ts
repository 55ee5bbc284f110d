/**
 * Verdict helpers: failures never lose their transcript, unexpected throws
 * fail closed, exit codes follow the catalogue, and the text form marks
 * every step.
 */
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { Transcript, formatVerdict, verdictExitCode, verdictJson } from '../../../../src/verify/index.js';
import { failureVerdict, successVerdict } from '../../../../src/verify/verdict.js';

describe('verdicts', () => {
  it('a VerifyError keeps its code; the transcript ends with the failed step once', () => {
    const t = new Transcript();
    t.pass('a', 'fine');
    t.fail('b', 'EG_VERIFY_BINDING', 'bad');
    const v = failureVerdict(new VerifyError('EG_VERIFY_BINDING', 'bad'), t, 'sev-snp');
    expect(v).toMatchObject({ ok: false, code: 'EG_VERIFY_BINDING', message: 'bad', platform: 'sev-snp' });
    expect(v.steps.map((s) => s.step)).toEqual(['a', 'b']);
    expect(verdictExitCode(v)).toBe(7);
  });

  it('anything else fails closed as EG_VERIFY_PARSE with a final step', () => {
    const t = new Transcript();
    t.pass('a');
    const v = failureVerdict(new RangeError('boom'), t);
    expect(v).toMatchObject({ ok: false, code: 'EG_VERIFY_PARSE' });
    expect(v.message).toMatch(/boom/);
    expect(v.steps.at(-1)).toMatchObject({ step: 'verify', ok: false, code: 'EG_VERIFY_PARSE' });
    expect(verdictExitCode(v)).toBe(2);
  });

  it('success carries the evidence; text and JSON forms', () => {
    const t = new Transcript();
    t.pass('simulated.signature', 'ok');
    const v = successVerdict({ platform: 'simulated', measurement: 'aa', reportData: 'bb', debug: false, tcb: {}, claims: {} }, t, { validUntil: new Date(0) });
    expect(verdictExitCode(v)).toBe(0);
    expect(v.validUntil).toBe('1970-01-01T00:00:00.000Z');
    const text = formatVerdict(v);
    expect(text).toMatch(/^✓ simulated\.signature {2}ok$/m);
    expect(text).toMatch(/VERIFIED \(simulated\)/);
    expect(verdictJson(v)).toMatchObject({ ok: true, platform: 'simulated', measurement: 'aa', reportData: 'bb', tcb: {}, debug: false, steps: [{ step: 'simulated.signature', ok: true }] });
    const failed = formatVerdict(failureVerdict(new VerifyError('EG_VERIFY_TCB', 'old'), new Transcript()));
    expect(failed).toMatch(/^✗ verify\s+EG_VERIFY_TCB: old$/m);
    expect(failed).toMatch(/FAILED EG_VERIFY_TCB \(exit 8\): old/);
  });
});
