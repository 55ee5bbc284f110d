/**
 * IBAN detector: country code, two check digits and the national account
 * number (BBAN), either compact ("DE89370400440532013000") or printed in
 * groups of four separated by single spaces ("DE89 3704 0044 0532 0130 00").
 * A candidate must have exactly the length the IBAN registry fixes for its
 * country and pass ISO 7064 MOD 97-10, which rejects all single-character
 * errors and almost all transpositions; random strings pass with p ≈ 1/97
 * after also matching the country and length, so no context is needed.
 *
 * Linear time: candidates start only at an upper-case letter that begins a
 * word two characters before a digit run (the check digits), and each reads
 * at most 34 characters plus separators.
 */
import * as chars from './char-class.js';
import { ibanMod97Valid } from './checksums.js';
import { GATE_IBAN } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { findDigitRuns } from './digit-runs.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { ALNUM, inClass, isDigit, isWordChar } = chars;

/** IBAN length per country (IBAN registry, SWIFT). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
});

const SPACE = 0x20;

function isUpper(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}

/** BBAN characters: digits and upper-case letters (IBANs are printed in capitals). */
function isIbanChar(code: number): boolean {
  return isDigit(code) || isUpper(code);
}

/**
 * Reads the IBAN that starts at `start` with `length` characters; returns the
 * end of its span and its compact text, or undefined when the characters
 * there do not form one in either layout.
 */
function readIban(text: string, start: number, length: number): { end: number; compact: string } | undefined {
  const n = text.length;
  // Compact: `length` IBAN characters, then the end of the word.
  let i = start;
  while (i < n && i - start < length && isIbanChar(text.charCodeAt(i))) i++;
  if (i - start === length && !isWordChar(i < n ? text.charCodeAt(i) : -1)) {
    return { end: i, compact: text.slice(start, i) };
  }
  // Grouped: blocks of four joined by one space; the last block holds 1–4.
  let compact = '';
  i = start;
  for (;;) {
    const blockStart = i;
    while (i < n && i - blockStart < 4 && isIbanChar(text.charCodeAt(i))) i++;
    compact += text.slice(blockStart, i);
    if (compact.length >= length || i - blockStart < 4) break;
    if (i + 1 < n && text.charCodeAt(i) === SPACE && isIbanChar(text.charCodeAt(i + 1))) i++;
    else break;
  }
  if (compact.length !== length || inClass(ALNUM, i < n ? text.charCodeAt(i) : -1)) return undefined;
  return { end: i, compact };
}

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const { count, starts, ends } = digits ?? findDigitRuns(text);
  // A candidate is two capitals and the two check digits: the check digits
  // start a digit run, so every candidate sits two characters before one.
  let floor = 0;
  for (let r = 0; r < count; r++) {
    const i = starts[r]! - 2;
    if (i < floor || ends[r]! - starts[r]! < 2) continue;
    if (!isUpper(text.charCodeAt(i)) || (i > 0 && isWordChar(text.charCodeAt(i - 1)))) continue;
    const length = IBAN_LENGTHS[text.slice(i, i + 2)];
    if (length === undefined) continue;
    const found = readIban(text, i, length);
    if (found !== undefined && ibanMod97Valid(found.compact)) {
      if (!report(i, found.end)) return;
      floor = found.end;
    }
  }
}

/**
 * End of the printed IBAN that the digit run starting at `runStart` belongs
 * to, or -1. The payment-card detector uses this so that a Luhn-valid stretch
 * of an IBAN ("SE34 3686 5260 7706 4638 3564") is not also reported as a
 * card. Looks back through at most eight blocks of four, so it is O(1).
 */
export function groupedIbanEnd(text: string, runStart: number): number {
  // The run may begin inside a block ("SE34", "H486"): go to the block start.
  let p = runStart;
  while (p > 0 && runStart - p < 4 && isIbanChar(text.charCodeAt(p - 1))) p--;
  for (let blocks = 0; blocks < 8; blocks++) {
    if (p > 0 && isWordChar(text.charCodeAt(p - 1))) return -1;
    const length = IBAN_LENGTHS[text.slice(p, p + 2)];
    if (length !== undefined && isDigit(text.charCodeAt(p + 2)) && isDigit(text.charCodeAt(p + 3))) {
      return readIban(text, p, length)?.end ?? -1;
    }
    // Previous block: four IBAN characters and one space before p.
    if (p < 5 || text.charCodeAt(p - 1) !== SPACE) return -1;
    for (let i = p - 5; i < p - 1; i++) if (!isIbanChar(text.charCodeAt(i))) return -1;
    p -= 5;
  }
  return -1;
}

/** Finds IBANs that have their country's length and a valid MOD 97-10 check. */
export const ibanDetector: PiiDetector = { type: 'iban', scan, gate: GATE_IBAN };
