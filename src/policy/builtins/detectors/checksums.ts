/**
 * Check-digit algorithms used by detectors to tell real identifiers from
 * look-alike digit strings.
 */

/** Sum of the digits of 2·d for d = 0..9, as Luhn's doubling step adds them. */
const LUHN_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9] as const;

/**
 * Luhn (mod 10) check over a string of ASCII digits; false for an empty
 * string or any non-digit. Payment card numbers carry a Luhn check digit.
 */
export function luhnValid(digits: string): boolean {
  if (digits.length === 0) return false;
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    const d = digits.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    sum += double ? LUHN_DOUBLED[d]! : d;
  }
  return sum % 10 === 0;
}

/** The Luhn contribution of digit `d` when it sits at a doubled position. */
export function luhnDoubled(d: number): number {
  return LUHN_DOUBLED[d]!;
}
