/**
 * Robustness: whatever bytes arrive, the parser and the verifier end in a
 * VerifyError (or a result), never another exception and never a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { Transcript } from '../../../../src/verify/types.js';
import { parseIntelQuote, verifyIntelQuote } from '../../../../src/verify/intel/index.js';
import { vector } from '../../../helpers/vectors.js';

const QUOTES = [vector('tdx/phala-v4-quote.dat'), vector('tdx/gotdx-v5-quote.dat'), vector('sgx/phala-v3-quote.dat')].map((b) => new Uint8Array(b));

function onlyVerifyError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof VerifyError)) throw e;
    expect(e.code.startsWith('EG_VERIFY_')).toBe(true);
    // verifyIntelQuote turns a bug's exception into a typed error; the test must still see it.
    expect(e.message).not.toContain('unexpected failure');
  }
}

describe('parseIntelQuote', () => {
  it('random bytes → VerifyError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), fc.boolean(), (bytes, allowTrailingData) => {
        onlyVerifyError(() => parseIntelQuote(bytes, { allowTrailingData }));
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes behind a valid header prefix → VerifyError only', () => {
    fc.assert(
      fc.property(fc.constantFrom(...QUOTES), fc.integer({ min: 0, max: 700 }), fc.uint8Array({ maxLength: 5000 }), (q, keep, tail) => {
        onlyVerifyError(() => parseIntelQuote(Uint8Array.from([...q.subarray(0, keep), ...tail])));
      }),
      { numRuns: 300 },
    );
  });

  it('every truncation of a real quote → VerifyError', () => {
    for (const q of QUOTES) {
      const end = parseIntelQuote(q).quoteBytes.length;
      for (let n = 0; n < end; n++) {
        expect(() => parseIntelQuote(q.subarray(0, n))).toThrow(VerifyError);
      }
    }
  });
});

describe('verifyIntelQuote', () => {
  it('random single-byte changes of a real quote → a result or a VerifyError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...QUOTES), fc.nat(), fc.integer({ min: 1, max: 255 }), (q, at, xor) => {
        const copy = new Uint8Array(q);
        const i = at % copy.length;
        copy[i] = copy[i]! ^ xor;
        onlyVerifyError(() => verifyIntelQuote(copy, undefined, { at: new Date('2026-03-01T00:00:00Z'), transcript: new Transcript() }));
      }),
      { numRuns: 300 },
    );
  });

  it('random collateral objects → VerifyError only', () => {
    const q = QUOTES[0]!;
    fc.assert(
      fc.property(fc.anything(), (collateral) => {
        onlyVerifyError(() => verifyIntelQuote(q, collateral as never, { at: new Date('2025-07-01T00:00:00Z'), transcript: new Transcript() }));
      }),
      { numRuns: 200 },
    );
  });
});
