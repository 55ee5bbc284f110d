import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { luhnValid } from '../../../src/policy/builtins/detectors/checksums.js';
import type { PiiDetector } from '../../../src/policy/builtins/detectors/detector.js';
import { emailDetector } from '../../../src/policy/builtins/detectors/email.js';
import { paymentCardDetector } from '../../../src/policy/builtins/detectors/payment-card.js';
import { CUSTOM_BUILTINS } from '../../../src/policy/builtins/index.js';
import {
  DEFAULT_MAX_FINDINGS,
  PII_DETECTORS,
  piiBuiltins,
  scanPii,
  REDACTED_KEY_TOKEN,
  type PiiFinding,
} from '../../../src/policy/builtins/pii.js';

/** Spans one detector reports in `text`, as the matched substrings. */
function matches(detector: PiiDetector, text: string): string[] {
  const out: string[] = [];
  detector.scan(text, (start, end) => {
    out.push(text.slice(start, end));
    return true;
  });
  return out;
}

/** Appends the Luhn check digit to a digit string. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

/** Resolves an RFC 6901 pointer inside a JSON value. */
function resolvePointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  let node = value;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}

describe('Luhn', () => {
  it.each([
    ['79927398713', true],
    ['79927398710', false],
    ['4111111111111111', true],
    ['4111111111111112', false],
    ['378282246310005', true],
    ['5555555555554444', true],
    ['6011111111111117', true],
    ['0', true],
    ['', false],
    ['41a1', false],
  ])('luhnValid(%j) is %s', (digits, valid) => {
    expect(luhnValid(digits)).toBe(valid);
  });

  it('catches every single-digit error', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 30 }),
        fc.nat(),
        fc.integer({ min: 1, max: 9 }),
        (body, at, delta) => {
          const number = withCheckDigit(body);
          const i = at % number.length;
          const changed = (Number(number[i]) + delta) % 10;
          const mutated = `${number.slice(0, i)}${changed}${number.slice(i + 1)}`;
          expect(luhnValid(number)).toBe(true);
          expect(luhnValid(mutated)).toBe(false);
        },
      ),
    );
  });
});

describe('email detector', () => {
  it.each([
    ['contact bob@example.com now', ['bob@example.com']],
    ['a.b+tag%x_y-z@sub.example.co.uk', ['a.b+tag%x_y-z@sub.example.co.uk']],
    ['write to bob@example.com.', ['bob@example.com']],
    ['(bob@example.com)', ['bob@example.com']],
    ['<a href="mailto:bob@example.com">', ['bob@example.com']],
    ['...bob@example.com', ['bob@example.com']],
    ['BOB@EXAMPLE.COM', ['BOB@EXAMPLE.COM']],
    ['a@b.xn--p1ai', ['a@b.xn--p1ai']],
    ['x@y.example and z@w.example', ['x@y.example', 'z@w.example']],
    ['a@b@c.example', ['b@c.example']],
    ['bob@example.com..org', ['bob@example.com']],
    ['bob@example.com-', ['bob@example.com']],
  ])('finds the address in %j', (text, expected) => {
    expect(matches(emailDetector, text)).toEqual(expected);
  });

  it.each([
    'bob@localhost',
    'bob@example.c',
    'bob@-example.com',
    'bob@example-.com',
    'bob@exa..com',
    '@example.com',
    'bob@',
    'bob.@example.com',
    '. @example.com',
    'version 1.2@3.4',
    'user@example.123',
    '',
  ])('finds nothing in %j', (text) => {
    expect(matches(emailDetector, text)).toEqual([]);
  });

  it('reports UTF-16 code-unit offsets', () => {
    const findings = scanPii('😀 é bob@example.com');
    expect(findings).toEqual([{ type: 'email', path: '', start: 5, end: 20 }]);
  });
});

describe('payment card detector', () => {
  const visa19 = withCheckDigit('411111111111111111');

  it.each([
    ['4111111111111111', ['4111111111111111']],
    ['card 4111 1111 1111 1111 exp', ['4111 1111 1111 1111']],
    ['4111-1111-1111-1111', ['4111-1111-1111-1111']],
    ['378282246310005', ['378282246310005']],
    ['3782 822463 10005', ['3782 822463 10005']],
    ['4222222222222', ['4222222222222']],
    [visa19, [visa19]],
    ['card: 4111111111111111.', ['4111111111111111']],
    ['4111 1111 1111 1111 2024', ['4111 1111 1111 1111']],
    ['-4111111111111111-', ['4111111111111111']],
    ['5555555555554444 and 6011111111111117', ['5555555555554444', '6011111111111117']],
  ])('finds the card in %j', (text, expected) => {
    expect(matches(paymentCardDetector, text)).toEqual(expected);
  });

  it.each([
    ['fails Luhn', '4111111111111112'],
    ['too short', '411111111111'],
    ['too long as one block', '41111111111111111234'],
    ['one digit repeated', '0000000000000000'],
    ['one digit repeated, grouped', '0000 0000 0000 0000'],
    ['glued to letters on the left', 'ID4111111111111111'],
    ['glued to letters on the right', '4111111111111111abc'],
    ['a decimal fraction', '3.4111111111111111'],
    ['double separators', '4111  1111 1111 1111'],
    ['mixed double separators', '4111 -1111-1111-1111'],
    ['a 20-digit run with no valid window', '1234 5678 9012 3456 7890'],
  ])('rejects %s', (_label, text) => {
    expect(matches(paymentCardDetector, text)).toEqual([]);
  });

  it('reports only 13–19 digit, Luhn-valid, not all-same spans (random digit text)', () => {
    const unit = fc.constantFrom(...'0123456789', ' ', '-', 'x');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 120 }), (text) => {
        for (const span of matches(paymentCardDetector, text)) {
          expect(span).toMatch(/^\d+(?:[ -]\d+)*$/);
          const digits = span.replace(/[ -]/g, '');
          expect(digits.length).toBeGreaterThanOrEqual(13);
          expect(digits.length).toBeLessThanOrEqual(19);
          expect(luhnValid(digits)).toBe(true);
          expect(new Set(digits).size).toBeGreaterThan(1);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('finds a valid card embedded in random separated digits', () => {
    const noise = fc.string({ unit: fc.constantFrom(...'abc ,;:'), maxLength: 20 });
    const body = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 14, maxLength: 14 });
    fc.assert(
      fc.property(noise, body, noise, (before, digits, after) => {
        const card = withCheckDigit(`4${digits}`);
        fc.pre(new Set(card).size > 1);
        const text = `${before} ${card.slice(0, 4)} ${card.slice(4, 8)} ${card.slice(8, 12)} ${card.slice(12)} ${after}`;
        expect(matches(paymentCardDetector, text)).toEqual([`${card.slice(0, 4)} ${card.slice(4, 8)} ${card.slice(8, 12)} ${card.slice(12)}`]);
      }),
    );
  });

  it('does not scan JSON numbers (precision and timestamps make them unreliable)', () => {
    expect(scanPii({ card: 4111111111111111 })).toEqual([]);
  });
});

describe('scanPii', () => {
  it('walks objects and arrays and reports JSON pointers', () => {
    const body = {
      model: 'm',
      messages: [
        { role: 'user', content: 'I am bob@example.com' },
        { role: 'user', content: 'pay with 4111 1111 1111 1111' },
      ],
    };
    expect(scanPii(body)).toEqual<PiiFinding[]>([
      { type: 'email', path: '/messages/0/content', start: 5, end: 20 },
      { type: 'payment_card', path: '/messages/1/content', start: 9, end: 28 },
    ]);
  });

  it('escapes "~" and "/" in pointer tokens', () => {
    const body = { 'a/b': { 'm~n': ['x', 'bob@example.com'] } };
    expect(scanPii(body)).toEqual([{ type: 'email', path: '/a~1b/m~0n/1', start: 0, end: 15 }]);
  });

  it('reports PII in object keys and never puts such a key in a pointer', () => {
    const body = { 'carol@example.com': { note: 'card 4111 1111 1111 1111' }, plain: 1 };
    const findings = scanPii(body);
    expect(findings).toEqual([
      { type: 'email', path: `/${REDACTED_KEY_TOKEN}`, start: 0, end: 17, key: true },
      { type: 'payment_card', path: `/${REDACTED_KEY_TOKEN}/note`, start: 5, end: 24 },
    ]);
    expect(JSON.stringify(findings)).not.toContain('carol');
  });

  it('finds a card standing alone next to a card glued to a letter, in a request and in a response', () => {
    const text = 'use 4000000000000002 4000000000000002x please';
    const request = { messages: [{ role: 'user', content: text }] };
    const response = { choices: [{ message: { role: 'assistant', content: text } }] };
    expect(scanPii(request)).toEqual([{ type: 'payment_card', path: '/messages/0/content', start: 4, end: 20 }]);
    expect(scanPii(response)).toEqual([{ type: 'payment_card', path: '/choices/0/message/content', start: 4, end: 20 }]);
  });

  it('treats a plain string as one leaf with path ""', () => {
    expect(scanPii('bob@example.com 4111111111111111')).toEqual([
      { type: 'email', path: '', start: 0, end: 15 },
      { type: 'payment_card', path: '', start: 16, end: 32 },
    ]);
  });

  it('ignores non-string leaves and non-JSON values', () => {
    expect(scanPii(null)).toEqual([]);
    expect(scanPii(42)).toEqual([]);
    expect(scanPii(undefined)).toEqual([]);
    expect(scanPii([true, 1.5, null, {}])).toEqual([]);
  });

  it('never returns the matched text', () => {
    const findings = scanPii({ a: 'bob@example.com', b: '4111111111111111' });
    expect(JSON.stringify(findings)).not.toMatch(/bob|4111/);
  });

  it('stops at the findings cap', () => {
    expect(scanPii('a@b.co '.repeat(1000))).toHaveLength(DEFAULT_MAX_FINDINGS);
    expect(scanPii('a@b.co '.repeat(10), { maxFindings: 3 })).toHaveLength(3);
    expect(scanPii('a@b.co', { maxFindings: 0 })).toEqual([]);
  });

  it('survives cycles and very deep nesting', () => {
    const cyclic: Record<string, unknown> = { s: 'bob@example.com' };
    cyclic.self = cyclic;
    expect(scanPii(cyclic)).toEqual([{ type: 'email', path: '/s', start: 0, end: 15 }]);

    let deep: unknown = 'bob@example.com';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const [finding] = scanPii(deep);
    expect(finding?.path).toBe('/0'.repeat(200_000));
  });

  it('is the builtin the engine registers', () => {
    expect(CUSTOM_BUILTINS['enclave_gate.pii.scan']).toBe(piiBuiltins['enclave_gate.pii.scan']);
    expect(piiBuiltins['enclave_gate.pii.scan']('bob@example.com')).toEqual(scanPii('bob@example.com'));
    expect(PII_DETECTORS.map((d) => d.type)).toEqual([
      'email',
      'payment_card',
      'phone',
      'us_ssn',
      'iban',
      'ip_address',
      'crypto_wallet',
      'aba_routing',
      'uk_nhs',
    ]);
  });

  it('never throws and keeps spans inside their string (random strings)', () => {
    const alphabet = fc.constantFrom(...'ab1234567890 -.@_+%xn', '😀', 'é', '\n');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 200 })), (text) => {
        const findings = scanPii(text);
        let lastEnd = new Map<string, number>();
        for (const f of findings) {
          expect(f.path).toBe('');
          expect(f.start).toBeGreaterThanOrEqual(0);
          expect(f.end).toBeGreaterThan(f.start);
          expect(f.end).toBeLessThanOrEqual(text.length);
          // Findings of one detector do not overlap and come left to right.
          expect(f.start).toBeGreaterThanOrEqual(lastEnd.get(f.type) ?? 0);
          lastEnd = new Map(lastEnd).set(f.type, f.end);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws and points at real string leaves (random JSON)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const f of scanPii(value)) {
          // Pointers through a PII-bearing key are redacted on purpose and do not resolve.
          if (f.path.includes(REDACTED_KEY_TOKEN)) continue;
          const leaf = resolvePointer(value, f.path);
          expect(typeof leaf).toBe('string');
          expect(f.end).toBeLessThanOrEqual((leaf as string).length);
        }
      }),
    );
  });

  it('finds an address placed anywhere in random text', () => {
    const filler = fc.string({ unit: fc.constantFrom(...'abc xyz,;!?()'), maxLength: 40 });
    fc.assert(
      fc.property(filler, filler, (before, after) => {
        const text = `${before} bob.smith@mail.example.org ${after}`;
        const start = before.length + 1;
        expect(scanPii(text)).toEqual([{ type: 'email', path: '', start, end: start + 26 }]);
      }),
    );
  });
});

describe('linear time on adversarial input', () => {
  const MiB = 1 << 20;
  const cases: Array<[string, () => string]> = [
    ['letters', () => 'a'.repeat(MiB)],
    ['digit-space pairs', () => '1 '.repeat(MiB / 2)],
    ['alternating digit groups', () => '1 2 '.repeat(MiB / 4)],
    ['digit-hyphen pairs', () => '7-'.repeat(MiB / 2)],
    ['one digit block', () => '4'.repeat(MiB)],
    ['a@ pairs', () => 'a@'.repeat(MiB / 2)],
    ['long local parts', () => `${'a'.repeat(1000)}@`.repeat(MiB / 1001)],
    ['long dotted hosts', () => `@${'a.'.repeat(MiB / 2 - 1)}`],
    ['dots and at signs', () => '.@.'.repeat(MiB / 3)],
    ['near-miss cards', () => '4111 1111 1111 1112 '.repeat(MiB / 20)],
  ];

  // Per detector, so that the bound does not shrink as detectors are added;
  // test/unit/policy/detectors/robustness.test.ts adds inputs aimed at the
  // newer scanners.
  const perDetector = PII_DETECTORS.flatMap((d) => cases.map(([label, make]) => [label, d.type, d, make] as const));
  it.each(perDetector)('scans 1 MiB of %s with %s well under the bound', (_label, _type, detector, make) => {
    const text = make();
    expect(text.length).toBeGreaterThan(MiB - 1100);
    const started = performance.now();
    detector.scan(text, () => true);
    // An upper bound, not a benchmark: a quadratic scan would take minutes.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('scans 1 MiB of mixed near misses with every detector at once', () => {
    const text = 'SSN 666-45-6789 call (415) 555-013 GB82WEST12345698765433 1.2.3.256 4111 1111 1111 1112 '.repeat(MiB / 88);
    const started = performance.now();
    scanPii(text);
    expect(performance.now() - started).toBeLessThan(2000 * PII_DETECTORS.length);
  });
});
