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

/**
 * ISO 7064 MOD 97-10 over an IBAN (no separators): the first four characters
 * move to the end, letters become 10–35, and the resulting number must leave
 * remainder 1 modulo 97. Computed digit by digit, so no big integers.
 * False for any character outside 0-9 and A-Z.
 */
export function ibanMod97Valid(iban: string): boolean {
  if (iban.length < 5) return false;
  let rest = 0;
  for (let k = 0; k < iban.length; k++) {
    const code = iban.charCodeAt((k + 4) % iban.length);
    if (code >= 0x30 && code <= 0x39) {
      rest = (rest * 10 + (code - 0x30)) % 97;
    } else if (code >= 0x41 && code <= 0x5a) {
      rest = (rest * 100 + (code - 0x41 + 10)) % 97;
    } else {
      return false;
    }
  }
  return rest === 1;
}

/**
 * ABA routing transit number check: weights 3, 7, 1 repeating over the nine
 * digits; the weighted sum must be a multiple of 10.
 */
export function abaValid(digits: string): boolean {
  if (digits.length !== 9) return false;
  const weights = [3, 7, 1] as const;
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    const d = digits.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    sum += d * weights[i % 3]!;
  }
  return sum % 10 === 0;
}

/**
 * NHS number check (modulus 11): weights 10 down to 2 over the first nine
 * digits; the check digit is 11 − (sum mod 11), where 11 means 0 and 10 means
 * the number was never issued.
 */
export function nhsValid(digits: string): boolean {
  if (digits.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    const d = digits.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    if (i < 9) sum += d * (10 - i);
  }
  const check = (11 - (sum % 11)) % 11;
  return check !== 10 && check === digits.charCodeAt(9) - 0x30;
}
