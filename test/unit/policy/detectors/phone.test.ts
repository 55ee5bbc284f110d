import { describe, expect, it } from 'vitest';

import { phoneDetector } from '../../../../src/policy/builtins/detectors/phone.js';
import { matches } from './helpers.js';

describe('phone detector', () => {
  it.each([
    ['E.164 compact', 'reach +14155550132 today', '+14155550132'],
    ['E.164 with spaces', 'office +44 20 7946 0958', '+44 20 7946 0958'],
    ['+CC with a one-digit area code', 'Paris +33 1 23 45 67 89', '+33 1 23 45 67 89'],
    ['+CC with hyphens', 'Tokyo +81 3-1234-5678', '+81 3-1234-5678'],
    ['+1 and a parenthesised area code', '+1 (415) 555-0132', '+1 (415) 555-0132'],
    ['NANP with parentheses', 'desk: (415) 555-0132.', '(415) 555-0132'],
    ['NANP without a space after ")"', '(415)555-0132', '(415)555-0132'],
    ['NANP with hyphens', 'or 415-555-0132', '415-555-0132'],
    ['NANP with dots', 'or 415.555.0132', '415.555.0132'],
    ['a phone word lifts a national number', 'call me on 020 7946 0958', '020 7946 0958'],
    ['a phone word lifts a bare block', 'mobile 4155550132', '4155550132'],
    ['a phone word lifts 1-800 numbers', 'Tel. 1-800-555-0199', '1-800-555-0199'],
    ['followed by a date', 'call 415-555-0132 03-19-2024', '415-555-0132'],
    ['followed by a small number', 'call +1 415 555 0132 2 times', '+1 415 555 0132'],
    ['a tie between a phone word and an order word', 'call us about order 415-555-0132', '415-555-0132'],
  ])('finds %s', (_label, text, expected) => {
    expect(matches(phoneDetector, text)).toEqual([expected]);
  });

  it.each([
    ['a national number without a phone word', 'office 020 7946 0958'],
    ['a bare block without a phone word', 'number 4155550132'],
    ['an order number', 'order 415-555-0132'],
    ['a reference number', 'ref 415-555-0132'],
    ['a date', 'on 2024-03-15'],
    ['a dotted date', 'on 2024.03.15 and 15.03.2024'],
    ['a time', 'at 12:30:45'],
    ['a version', 'build 10.0.19041.1'],
    ['an IPv4 address', 'phone home to 192.168.100.200'],
    ['a Unix timestamp', 'phone log ts 1710498151'],
    ['a millisecond timestamp', 'phone log ts 1710498151123'],
    ['a card number', 'phone 4111 1111 1111 1111'],
    ['an ISBN-13', 'ISBN 978-3-16-148410-0'],
    ['an ISBN-10', 'call 0-306-40615-2'],
    ['a UUID', 'call 123e4567-e89b-12d3-a456-426614174000'],
    ['digits glued to a word', 'tel SKU4155550132'],
    ['a plus with an unassigned country code', '+0 415 555 0132, +28 415 555 0132'],
    ['too many digits after +', '+1 4155550132567890'],
    ['a NANP area code starting with 1', 'call 115-555-0132'],
    ['a phone word for an earlier number', 'tel 123, population 4155550132'],
  ])('does not report %s', (_label, text) => {
    expect(matches(phoneDetector, text)).toEqual([]);
  });
});
