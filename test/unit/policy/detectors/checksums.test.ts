import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { abaValid, ibanMod97Valid, nhsValid } from '../../../../src/policy/builtins/detectors/checksums.js';
import { keccak256 } from '../../../../src/policy/builtins/detectors/keccak.js';

/** A second MOD 97-10, over the whole rearranged number as a BigInt. */
function mod97BigInt(iban: string): boolean {
  const moved = iban.slice(4) + iban.slice(0, 4);
  const numeric = [...moved].map((c) => (c >= 'A' && c <= 'Z' ? String(c.charCodeAt(0) - 55) : c)).join('');
  return BigInt(numeric) % 97n === 1n;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('IBAN MOD 97-10', () => {
  it.each([
    'GB82WEST12345698765432',
    'DE89370400440532013000',
    'FR1420041010050500013M02606',
    'NL91ABNA0417164300',
    'BE68539007547034',
    'CH9300762011623852957',
    'NO9386011117947',
    'MT84MALT011000012345MTLCAST001S',
  ])('accepts the published example %s', (iban) => {
    expect(ibanMod97Valid(iban)).toBe(true);
  });

  it.each(['GB82WEST12345698765433', 'GB28WEST12345698765432', 'DE89 3704', 'de89370400440532013000', ''])('rejects %j', (iban) => {
    expect(ibanMod97Valid(iban)).toBe(false);
  });

  it('agrees with a BigInt implementation on random strings', () => {
    const upperAlnum = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    fc.assert(
      fc.property(fc.string({ unit: upperAlnum, minLength: 5, maxLength: 34 }), (s) => {
        expect(ibanMod97Valid(s)).toBe(mod97BigInt(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('ABA routing check', () => {
  it.each(['011000015', '021000021', '026009593', '111000025'])('accepts %s', (n) => expect(abaValid(n)).toBe(true));
  it.each(['011000016', '02100002', '0210000210', '02100002a'])('rejects %s', (n) => expect(abaValid(n)).toBe(false));
});

describe('NHS modulus 11', () => {
  it.each(['9434765919', '4010232137'])('accepts %s', (n) => expect(nhsValid(n)).toBe(true));
  it.each(['9434765918', '943476591', '94347659190'])('rejects %s', (n) => expect(nhsValid(n)).toBe(false));

  it('rejects every number whose check would be 10', () => {
    // 000000001 weighs 2, so its check digit would be 11 - 2 = 9; find bodies with remainder 1 (check 10).
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 9, maxLength: 9 }), (body) => {
        let sum = 0;
        for (let i = 0; i < 9; i++) sum += Number(body[i]) * (10 - i);
        const check = 11 - (sum % 11);
        for (let d = 0; d <= 9; d++) expect(nhsValid(`${body}${d}`)).toBe(check !== 10 && (check === 11 ? 0 : check) === d);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Keccak-256', () => {
  it('matches the published digests', () => {
    expect(hex(keccak256(new Uint8Array()))).toBe('c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
    expect(hex(keccak256(new TextEncoder().encode('abc')))).toBe('4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  });
});
