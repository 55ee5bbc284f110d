import { describe, expect, it } from 'vitest';

import { knownIssuer } from '../../../../src/policy/builtins/detectors/card-issuers.js';
import { luhnValid } from '../../../../src/policy/builtins/detectors/checksums.js';
import { createPaymentCardDetector, paymentCardDetector } from '../../../../src/policy/builtins/detectors/payment-card.js';
import { matches } from './helpers.js';

function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

describe('payment card IIN ranges', () => {
  it.each([
    ['Visa', '4111111111111111'],
    ['Mastercard 51-55', '5555555555554444'],
    ['Mastercard 2-series', '2223003122003222'],
    ['Amex', '378282246310005'],
    ['Amex 34', '340000000000009'],
    ['Discover 6011', '6011111111111117'],
    ['Discover 65', withCheckDigit('650000000000000')],
    ['Discover 644', withCheckDigit('644000000000000')],
    ['JCB', '3530111333300000'],
    ['Diners 36 (14 digits)', '36227206271667'],
    ['Diners 300-305', '30569309025904'],
    ['UnionPay 62', '6200000000000005'],
    ['Maestro 6759', withCheckDigit('675900000000000')],
  ])('reports %s test numbers', (_brand, number) => {
    expect(matches(paymentCardDetector, `pay ${number} now`)).toEqual([number]);
  });

  it.each([
    ['a Luhn-valid IMEI (15 digits, TAC 35)', withCheckDigit('35209900176148')],
    ['a Luhn-valid number starting with 9', withCheckDigit('900000000000000')],
    ['a Luhn-valid number starting with 1', withCheckDigit('123456789012345')],
    ['Amex prefix at 16 digits', withCheckDigit('370000000000000')],
    ['Mastercard prefix at 15 digits', withCheckDigit('55000000000000')],
  ])('does not report %s', (_label, number) => {
    expect(luhnValid(number.replace(/\D/g, ''))).toBe(true);
    expect(matches(paymentCardDetector, number)).toEqual([]);
    expect(matches(createPaymentCardDetector({ requireKnownIssuer: false }), number)).toEqual([number]);
  });

  it('knows the edges of the Mastercard 2-series and JCB ranges', () => {
    expect(knownIssuer(222100, 16)).toBe(true);
    expect(knownIssuer(222099, 16)).toBe(false);
    expect(knownIssuer(272099, 16)).toBe(true);
    expect(knownIssuer(272100, 16)).toBe(false);
    expect(knownIssuer(352800, 16)).toBe(true);
    expect(knownIssuer(352700, 16)).toBe(false);
  });

  it('does not report a Luhn-valid stretch of a printed IBAN', () => {
    expect(matches(paymentCardDetector, 'IBAN SE34 3686 5260 7706 4638 3564')).toEqual([]);
    expect(matches(paymentCardDetector, 'IBAN IT41 H486 2453 4453 1305 9545 558')).toEqual([]);
    // …but a card right after an IBAN still is.
    expect(matches(paymentCardDetector, 'DE89 3704 0044 0532 0130 00 4111111111111111')).toEqual(['4111111111111111']);
  });

  it('does not report the leading digits of a UUID (found as false positives on random request ids)', () => {
    // The first three groups of these are 16 digits that pass Luhn and an IIN range.
    for (const uuid of ['22262966-3733-4317-abaa-f9669113fc2f', '51963440-0812-4575-bb4b-c7dfb5d3581f', '43376444-6880-1940-9e0f-89211a23817e']) {
      expect(luhnValid(uuid.slice(0, 18).replaceAll('-', ''))).toBe(true);
      expect(matches(paymentCardDetector, `request ${uuid} done`)).toEqual([]);
    }
    // A dash-grouped card standing alone is still a card.
    expect(matches(paymentCardDetector, 'pay with 4111-1111-1111-1111 today')).toEqual(['4111-1111-1111-1111']);
    expect(matches(paymentCardDetector, 'card 4111-1111-1111-1111-')).toEqual(['4111-1111-1111-1111']);
  });

  describe('a card standing alone is found whatever token sits next to it', () => {
    const card = '4000000000000002';
    it.each([
      ['a card glued to a letter on its right', `${card} ${card}x`, [card]],
      ['a card glued to a letter on its left', `x${card} ${card}`, [card]],
      ['the glued card first', `${card}x ${card}`, [card]],
      ['a card glued on its left after the card', `${card} x${card}`, [card]],
      ['a hex id joined by a hyphen after the card', `${card} ${card}-abcd`, [card]],
      ['a hex id joined by a hyphen before the card', `deadbeef-${card} ${card}`, [card]],
      ['an underscore-glued token after the card', `${card} ${card}_v2`, [card]],
      ['three cards separated by single spaces', `${card} ${card} ${card}`, [card, card, card]],
      ['dash-grouped card between identifiers', `a-${card} 4111-1111-1111-1111 ${card}b`, ['4111-1111-1111-1111']],
      ['space-grouped card then a letter-digit token', '4111 1111 1111 1111 ab12', ['4111 1111 1111 1111']],
      ['space-grouped card then a glued card', `4111 1111 1111 1111 ${card}x`, ['4111 1111 1111 1111']],
    ])('%s', (_label, text, expected) => {
      expect(matches(paymentCardDetector, text)).toEqual(expected);
    });

    it.each([
      ['a card glued to a letter', `${card}x`],
      ['a dash-grouped card glued to a letter', 'id 4111-1111-1111-1111x'],
      ['a hex id holding card-shaped digit groups', `ab12-${card}-cd34`],
    ])('still treats %s as an identifier', (_label, text) => {
      expect(matches(paymentCardDetector, text)).toEqual([]);
    });
  });

  it('does not join a phone number and a date into a card', () => {
    expect(matches(paymentCardDetector, 'fax +33 5 64 72 94 95 03-19-2014')).toEqual([]);
  });
});
