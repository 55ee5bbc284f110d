/**
 * Property tests: whatever bytes arrive, the Nitro verifier either returns or
 * throws a VerifyError; never a TypeError, RangeError or a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from 'cbor2';
import { VerifyError } from '../../../../src/errors.js';
import {
  extractNitroFromSan,
  parseNitroDocument,
  parseNitroReferenceValues,
  verifyNitroDocument,
} from '../../../../src/verify/nitro/index.js';
import { ctxAt, nitroDocument, withRawPayload } from './nitro-fixtures.js';

const doc = nitroDocument('veracruz-2022-11-09.cbor');
const dstack = nitroDocument('dstack-2025-12-25.cbor');
const AT = '2022-11-09T23:30:00Z';

/** Runs fn; returns 'ok' or 'verify-error', and fails the property on any other exception. */
function outcome(fn: () => unknown): 'ok' | 'verify-error' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof VerifyError) return 'verify-error';
    throw error;
  }
}

const verifyAt = (bytes: Uint8Array) => () => verifyNitroDocument(bytes, ctxAt(AT));

describe('verifyNitroDocument never throws anything but VerifyError', () => {
  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (bytes) => {
        expect(outcome(verifyAt(bytes))).toBe('verify-error');
      }),
      { numRuns: 500 },
    );
  });

  it('on random bytes behind a plausible COSE_Sign1 head', () => {
    const head = doc.subarray(0, 8); // 84 44 a1 01 38 22 a0 59
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (tail) => {
        expect(outcome(verifyAt(Buffer.concat([head, tail])))).toBe('verify-error');
      }),
      { numRuns: 300 },
    );
  });

  it('on every truncation of real documents (definite and indefinite)', () => {
    for (const real of [doc, dstack]) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: real.length - 1 }), (length) => {
          expect(outcome(verifyAt(real.subarray(0, length)))).toBe('verify-error');
        }),
        { numRuns: 300 },
      );
    }
  });

  it('on real documents with bytes overwritten, inserted or deleted', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(doc, dstack), fc.array(edit, { minLength: 1, maxLength: 4 }), (real, edits) => {
        let bytes = Buffer.from(real);
        for (const e of edits) {
          const at = e.at % bytes.length;
          if (e.kind === 'set') bytes[at] = e.value;
          else if (e.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), e.bytes, bytes.subarray(at)]);
          else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.count)]);
        }
        const result = outcome(() => verifyNitroDocument(bytes, ctxAt(real === doc ? AT : '2025-12-25T16:05:00Z')));
        // Success is possible only if the edits left the document unchanged.
        if (result === 'ok') expect(bytes.equals(Buffer.from(real))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

describe('parseNitroDocument never throws anything but VerifyError on structured garbage', () => {
  // CBOR-encodable values of the kinds a confused or hostile encoder might put in a field.
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.integer(),
      fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
      fc.string({ maxLength: 20 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.constant(null),
      fc.boolean(),
      fc.double(),
    ),
    node: fc.oneof(
      { depthSize: 'small' },
      tie('leaf'),
      fc.array(tie('node'), { maxLength: 5 }),
      fc.array(fc.tuple(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.string({ maxLength: 8 })), tie('node')), { maxLength: 5 }).map((entries) => new Map(entries)),
    ),
  })).node;
  const field = fc.constantFrom('module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce', 'other');

  it('in payload fields', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(field, value), { maxLength: 10 }), (entries) => {
        const payload = encode(new Map(entries));
        outcome(() => parseNitroDocument(withRawPayload(doc, payload)));
      }),
      { numRuns: 250 },
    );
  });

  it('in the envelope', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 6 }), (items) => {
        outcome(() => parseNitroDocument(encode(items)));
      }),
      { numRuns: 250 },
    );
  });
});

describe('other entry points never throw anything but VerifyError', () => {
  it('extractNitroFromSan on random bytes and strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.string({ maxLength: 200 })), (input) => {
        expect(outcome(() => extractNitroFromSan(input))).toBe('verify-error');
      }),
      { numRuns: 300 },
    );
  });

  it('parseNitroReferenceValues on arbitrary JSON-like values', () => {
    fc.assert(
      fc.property(fc.anything(), (json) => {
        outcome(() => parseNitroReferenceValues(json));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('pcrs', 'allowDebug', 'expectedNonce', 'maxAgeSeconds'), fc.anything()), (json) => {
        outcome(() => parseNitroReferenceValues(json));
      }),
      { numRuns: 500 },
    );
  });
});
