/**
 * Generators of streamed text for the stream property tests: prose, every
 * kind of PII the detectors know (valid numbers built with their checksums),
 * near misses, context words, and the punctuation that sits between them, so
 * that random concatenations put PII at every kind of edge.
 */
import fc from 'fast-check';

import { IBAN_LENGTHS } from '../../../src/policy/builtins/detectors/iban.js';
import { luhnValid, nhsValid } from '../../../src/policy/builtins/detectors/checksums.js';

/** A Luhn-valid 16-digit Visa number. */
export const cardArb = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }).map((ds) => {
  const body = `4${ds.join('')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  return `${body}0`;
});

/** A card number printed compact, in groups of four with spaces, or with hyphens. */
export const printedCardArb = fc.tuple(cardArb, fc.constantFrom('', ' ', '-')).map(([card, sep]) => card.match(/.{1,4}/g)!.join(sep));

export const emailArb = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9._+]{0,12}[a-z0-9]$/), fc.stringMatching(/^[a-z]{2,10}$/), fc.constantFrom('com', 'org', 'co.uk', 'io'))
  .filter(([local]) => !local.includes('..'))
  .map(([local, host, tld]) => `${local}@${host}.${tld}`);

/** An IBAN with valid check digits for a random country and account number, compact or in blocks of four. */
export const ibanArb = fc
  .tuple(fc.constantFrom('GB', 'DE', 'QA', 'NL', 'FR', 'NO'), fc.array(fc.constantFrom(...'0123456789ABCDEFGHJKXYZ'), { minLength: 40, maxLength: 40 }), fc.boolean())
  .map(([country, chars, grouped]) => {
    const bban = chars.slice(0, IBAN_LENGTHS[country]! - 4).join('');
    const numeric = `${bban}${country}00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
    let rest = 0;
    for (const d of numeric) rest = (rest * 10 + Number(d)) % 97;
    const iban = `${country}${String(98 - rest).padStart(2, '0')}${bban}`;
    return grouped ? iban.match(/.{1,4}/g)!.join(' ') : iban;
  });

/** A ten-digit NHS number with its check digit, bare or 3-3-4. */
export const nhsArb = fc
  .array(fc.integer({ min: 0, max: 9 }), { minLength: 9, maxLength: 9 })
  .map((ds) => {
    for (let d = 0; d <= 9; d++) if (nhsValid(ds.join('') + d)) return ds.join('') + d;
    return undefined;
  })
  .filter((n): n is string => n !== undefined)
  .chain((n) => fc.constantFrom(n, `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`));

const FIXED_PII = [
  '+1 415 555 0132', '(415) 555-0132', '415-555-0132', '+44 20 7946 0958', '+44 (20) 7946 0958', '4155550132',
  '536-22-1234', '536 22 1234', '536221234', '021000021', '0260-0959-3',
  '10.1.2.3', '192.168.0.17:8080', '8.8.8.8/24', 'fe80::1c3b:96ff:fe7d:1e2a', '::ffff:10.0.0.1', '2a00:1450:4001:82a::200e',
  'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
];

/** Numbers that count only after their context word, written together so that they do. */
const WITH_CONTEXT = ['SSN 536-22-1234', 'SSN: 536221234', 'NHS number 943 476 5919', 'routing number 021000021', 'ABA 0260-0959-3', 'tel. 020 7946 0958'];

const NEAR_MISSES = [
  '4111 1111 1111 1112', '1.2.3', 'v1.2.3.4', '2024', '3.14', '12/05', 'x-4111', '22262966-3733-4317-abaa-1', 'a@b', '@', 'me@host',
  '0x', 'bc1', 'GB82', 'DE89 3704', '1234567890123456789012', '4111111111111111x', '::', '10.0.0', '(415', '415)',
];

const CONTEXT = ['SSN ', 'social security number: ', 'phone: ', 'call ', 'Tel. ', 'NHS number ', 'routing number ', 'order ', 'version ', 'IP ', 'my card is '];

const PROSE = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'Lazy', 'DOG', 'I', 'AM', 'OK', 'Grüße', 'café', 'naïve', 'x', 'ok'];

const GLUE = [' ', ' ', ' ', '  ', ', ', '. ', '! ', '\n', '-', '_', '(', ')', ':', '/', ',', '.', '+', '@', 'é', '😀', ' ☃ ', '"', "'"];

/** A stretch of text mixing prose, PII, near misses, context words and punctuation. */
export const piiTextArb = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...PROSE) },
      { weight: 5, arbitrary: fc.constantFrom(...GLUE) },
      { weight: 2, arbitrary: fc.constantFrom(...CONTEXT) },
      { weight: 2, arbitrary: fc.constantFrom(...FIXED_PII) },
      { weight: 1, arbitrary: fc.constantFrom(...WITH_CONTEXT) },
      { weight: 1, arbitrary: fc.constantFrom(...NEAR_MISSES) },
      { weight: 1, arbitrary: emailArb },
      { weight: 1, arbitrary: printedCardArb },
      { weight: 1, arbitrary: ibanArb },
      { weight: 1, arbitrary: nhsArb },
    ),
    { minLength: 1, maxLength: 30 },
  )
  .map((parts) => parts.join(''));

/** Lower-case prose words joined by single spaces, as a model writes them. */
export const proseArb = fc.array(fc.stringMatching(/^[a-z]{1,10}$/), { minLength: 2, maxLength: 40 }).map((words) => words.join(' '));

/** Splits `text` into pieces of the given sizes, cycling through them. */
export function pieces(text: string, sizes: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0, k = 0; i < text.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}
