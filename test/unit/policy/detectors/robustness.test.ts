/**
 * Every detector, on hostile input: random strings never make one throw or
 * report a span outside the string or out of order, and 1 MiB of input built
 * to trip each scanner scans in linear time (a generous 2 s bound; a
 * quadratic scan of 1 MiB takes minutes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { PII_DETECTORS } from '../../../../src/policy/builtins/pii.js';
import { mib, MiB, scanMillis } from './helpers.js';

describe.each(PII_DETECTORS.map((d) => [d.type, d] as const))('%s detector on random input', (_type, detector) => {
  it('never throws and reports ordered, disjoint spans inside the string', () => {
    const alphabet = fc.constantFrom(...'0123456789 -.:+()/#@xXabcdefABCDEFGBN1qpz', '😀', 'é', '\n');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 300 })), (text) => {
        let last = 0;
        detector.scan(text, (start, end) => {
          expect(start).toBeGreaterThanOrEqual(last);
          expect(end).toBeGreaterThan(start);
          expect(end).toBeLessThanOrEqual(text.length);
          last = end;
          return true;
        });
      }),
      { numRuns: 1500 },
    );
  });

  it('stops when report returns false', () => {
    let calls = 0;
    detector.scan('a@b.co 4111111111111111 +14155550132 SSN 536-22-1945 GB82WEST12345698765432 81.2.69.160 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa routing 021000021 NHS 9434765919 '.repeat(3), () => {
      calls++;
      return false;
    });
    expect(calls).toBeLessThanOrEqual(1);
  });
});

/** Inputs aimed at each scanner's loops: long runs, many candidates, near misses. */
const ADVERSARIAL: Array<[string, () => string]> = [
  ['digit-space pairs', () => mib('1 ')],
  ['alternating digit groups', () => mib('1 2 ')],
  ['digit-hyphen pairs', () => mib('7-')],
  ['digit-dot pairs', () => mib('1.')],
  ['digit-colon pairs', () => mib('1:')],
  ['hex-colon pairs', () => mib('a:')],
  ['one digit block', () => '4'.repeat(MiB)],
  ['one letter block', () => 'a'.repeat(MiB)],
  ['plus signs and digits', () => mib('+1')],
  ['open parentheses', () => '('.repeat(MiB)],
  ['near-miss phone numbers', () => mib('call (415) 555-013 ')],
  ['phone runs with dates', () => mib('tel +1 415 555 0132 03-19-2024 ')],
  ['SSN-shaped numbers in context', () => mib('SSN 666-45-6789 ')],
  ['NHS-shaped near misses in context', () => mib('NHS 943 476 5918 ')],
  ['routing near misses in context', () => mib('routing 021000022 ')],
  ['IBAN-like prefixes', () => mib('GB82 WEST ')],
  ['near-miss IBANs', () => mib('GB82WEST12345698765433 ')],
  ['IPv4 near misses', () => mib('1.2.3.256 ')],
  ['long IPv6-like runs', () => mib('ab:cd:')],
  ['Base58-like words', () => mib('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb ')],
  ['mixed-case Ethereum addresses', () => mib('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD ')],
  ['bech32-like words', () => mib('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp ')],
  ['context words without numbers', () => mib('phone ssn nhs routing ')],
  ['near-miss cards', () => mib('4111 1111 1111 1112 ')],
];

describe('linear time on adversarial input, per detector', () => {
  const cases = PII_DETECTORS.flatMap((d) => ADVERSARIAL.map(([label, make]) => [d.type, label, d, make] as const));
  it.each(cases)('%s scans 1 MiB of %s under 2 s', (_type, _label, detector, make) => {
    const text = make();
    expect(text.length).toBeGreaterThanOrEqual(MiB);
    expect(scanMillis(detector, text)).toBeLessThan(2000);
  });
});
