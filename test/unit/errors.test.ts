import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnclaveGateError, ERRORS, EXIT, VerifyError, describeThrown, isErrorCode } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';

const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'errors.md'), 'utf8');

describe('error catalogue', () => {
  it('matches docs/errors.md row for row', () => {
    const documented = new Map<string, { status: number; exit: number }>();
    for (const m of doc.matchAll(/^\| `(EG_[A-Z_]+)` \| (\d+) \| (\d+) \|/gm)) documented.set(m[1]!, { status: Number(m[2]), exit: Number(m[3]) });
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERRORS).sort());
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(documented.get(code), code).toEqual({ status: spec.status, exit: spec.exitCode });
    }
  });

  it('documents every exit code', () => {
    for (const value of Object.values(EXIT)) expect(doc).toMatch(new RegExp(`^\\| ${value} \\|`, 'm'));
  });

  it('uses only valid HTTP statuses and distinct verifier exit classes', () => {
    for (const spec of Object.values(ERRORS)) expect(spec.status).toBeGreaterThanOrEqual(400);
    expect(ERRORS.EG_VERIFY_SIGNATURE.exitCode).not.toBe(ERRORS.EG_VERIFY_CHAIN.exitCode);
  });

  it('brands errors so instanceof survives duplicate copies, and keeps subclass checks exact', () => {
    const foreign = Object.create({ [Symbol.for('enclave-gate.error')]: true }) as unknown;
    expect(foreign instanceof EnclaveGateError).toBe(true);
    const plain = new EnclaveGateError('EG_INTERNAL');
    expect(plain instanceof VerifyError).toBe(false);
    const v = new VerifyError('EG_VERIFY_PARSE', 'x');
    expect(v instanceof EnclaveGateError).toBe(true);
    expect(isErrorCode(v, 'EG_VERIFY_PARSE')).toBe(true);
    expect(v.exitCode).toBe(EXIT.parse);
  });

  it('describes thrown strings (opa-wasm) and caps them to one short line', () => {
    expect(describeThrown('boom\nsecond line')).toBe('boom');
    expect(describeThrown('x'.repeat(500)).length).toBeLessThan(210);
    expect(describeThrown({ message: 'not implemented: built-in function' })).toMatch(/not implemented/);
    expect(describeThrown(new TypeError('bad'))).toBe('TypeError: bad');
  });
});
