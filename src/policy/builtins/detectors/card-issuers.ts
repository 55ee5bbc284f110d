/**
 * Issuer identification number (IIN) ranges of the card networks, with the
 * number lengths each issues. A Luhn-valid number outside all of them is
 * not a payment card in practice but an IMEI, a tracking or account number
 * that happens to carry a Luhn digit (one random number in ten does), so the
 * payment-card detector drops it.
 */

/** One network's ranges: [low, high] over the first `digits` digits, and valid lengths. */
interface IssuerRange {
  readonly digits: number;
  readonly low: number;
  readonly high: number;
  readonly minLength: number;
  readonly maxLength: number;
}

const range = (digits: number, low: number, high: number, minLength: number, maxLength = minLength): IssuerRange => ({
  digits,
  low,
  high,
  minLength,
  maxLength,
});

/** Known ranges, by network. */
export const ISSUER_RANGES: Readonly<Record<string, readonly IssuerRange[]>> = Object.freeze({
  visa: [range(1, 4, 4, 13, 19)],
  mastercard: [range(2, 51, 55, 16), range(4, 2221, 2720, 16)],
  amex: [range(2, 34, 34, 15), range(2, 37, 37, 15)],
  discover: [range(4, 6011, 6011, 16, 19), range(3, 644, 649, 16, 19), range(2, 65, 65, 16, 19)],
  jcb: [range(4, 3528, 3589, 16, 19)],
  diners: [range(3, 300, 305, 14, 19), range(4, 3095, 3095, 14, 19), range(2, 36, 36, 14, 19), range(2, 38, 39, 16, 19)],
  unionpay: [range(2, 62, 62, 16, 19)],
  maestro: [
    range(4, 5018, 5018, 12, 19), range(4, 5020, 5020, 12, 19), range(4, 5038, 5038, 12, 19),
    range(4, 5893, 5893, 12, 19), range(4, 6304, 6304, 12, 19), range(4, 6759, 6759, 12, 19),
    range(4, 6761, 6763, 12, 19), range(2, 56, 58, 12, 19),
  ],
  mir: [range(4, 2200, 2204, 16, 19)],
});

const ALL: readonly IssuerRange[] = Object.values(ISSUER_RANGES).flat();
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000] as const;

/**
 * True when a number of `length` digits whose first six digits are `first6`
 * (as an integer) falls in a known network's range.
 */
export function knownIssuer(first6: number, length: number): boolean {
  for (const r of ALL) {
    if (length < r.minLength || length > r.maxLength) continue;
    const prefix = Math.floor(first6 / POW10[6 - r.digits]!);
    if (prefix >= r.low && prefix <= r.high) return true;
  }
  return false;
}
