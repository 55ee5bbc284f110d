import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { IBAN_LENGTHS, ibanDetector } from '../../../../src/policy/builtins/detectors/iban.js';
import { matches } from './helpers.js';

/** Check digits computed here, independently, with BigInt. */
function makeIban(country: string, bban: string): string {
  const numeric = [...`${bban}${country}00`].map((c) => (c >= 'A' && c <= 'Z' ? String(c.charCodeAt(0) - 55) : c)).join('');
  const check = 98n - (BigInt(numeric) % 97n);
  return `${country}${String(check).padStart(2, '0')}${bban}`;
}

describe('IBAN detector', () => {
  it.each([
    ['IBAN GB82 WEST 1234 5698 7654 32 please', 'GB82 WEST 1234 5698 7654 32'],
    ['IBAN GB82WEST12345698765432.', 'GB82WEST12345698765432'],
    ['(DE89 3704 0044 0532 0130 00)', 'DE89 3704 0044 0532 0130 00'],
    ['FR1420041010050500013M02606', 'FR1420041010050500013M02606'],
    ['NO93 8601 1117 947', 'NO93 8601 1117 947'],
    ['MT84MALT011000012345MTLCAST001S', 'MT84MALT011000012345MTLCAST001S'],
  ])('finds the IBAN in %j', (text, expected) => {
    expect(matches(ibanDetector, text)).toEqual([expected]);
  });

  it.each([
    ['a wrong check digit', 'GB82 WEST 1234 5698 7654 33'],
    ['the wrong length for the country', 'GB82WEST1234569876543'],
    ['an unknown country', 'ZZ82WEST12345698765432'],
    ['lower case', 'gb82west12345698765432'],
    ['glued to a word', 'XGB82WEST12345698765432'],
    ['followed by more characters', 'GB82WEST12345698765432X'],
    ['groups of three', 'GB8 2WE ST1 234 569 876 543 2'],
  ])('does not report %s', (_label, text) => {
    expect(matches(ibanDetector, text)).toEqual([]);
  });

  it('finds random valid IBANs of every country, compact and grouped', () => {
    const countries = Object.keys(IBAN_LENGTHS);
    fc.assert(
      fc.property(fc.constantFrom(...countries), fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'), minLength: 30, maxLength: 30 }), fc.boolean(), (cc, filler, grouped) => {
        const iban = makeIban(cc, filler.slice(0, IBAN_LENGTHS[cc]! - 4));
        const printed = grouped ? iban.replace(/(.{4})/g, '$1 ').trim() : iban;
        expect(matches(ibanDetector, `pay ${printed} today`)).toEqual([printed]);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every single-character change of a valid IBAN', () => {
    const iban = 'DE89370400440532013000';
    for (let i = 2; i < iban.length; i++) {
      for (const c of '0123456789') {
        if (c === iban[i]) continue;
        expect(matches(ibanDetector, `${iban.slice(0, i)}${c}${iban.slice(i + 1)}`)).toEqual([]);
      }
    }
  });
});
