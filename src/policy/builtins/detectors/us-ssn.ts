/**
 * US Social Security number detector: AAA-GG-SSSS with "-" or " " (the same
 * separator twice), or nine bare digits, **only next to a word that says
 * SSN**. Nine digits are far too common (order numbers, zip+4, phone
 * extensions) for the shape alone to mean anything, so both forms need
 * context: a separated SSN scores 0.3, a bare one 0.15, and an SSN context
 * word adds 0.35 (threshold 0.5; see context.ts).
 *
 * Numbers the SSA never issues are rejected whatever the context: area 000,
 * 666 and 900–999 (the last are ITINs), group 00, serial 0000, one digit
 * repeated, and numbers published as examples (078-05-1120 from the Woolworth
 * wallet insert, 219-09-9999 from an SSA pamphlet, 123-45-6789).
 */
import { oneCharRepeated } from './char-class.js';
import { reportable, type ContextRule } from './context.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { digitWindows } from './digit-groups.js';
import { findDigitRuns } from './digit-runs.js';

const SHAPES = [[3, 2, 4], [9]] as const;

/** Published, never-valid numbers. */
const EXAMPLE_NUMBERS: ReadonlySet<string> = new Set(['078051120', '219099999', '123456789']);

const RULE: ContextRule = {
  positive: ['ssn', 'ss#', 'ss #', 'social security', 'social-security', 'socialsecurity', 'social sec', 'ssa number', 'taxpayer id'],
  negative: ['itin', 'routing', 'aba', 'order', 'invoice', 'tracking', 'account', 'acct', 'phone', 'zip'],
};

/** True when nine digits could be an issued SSN (see the module comment). */
export function ssnPlausible(digits: string): boolean {
  if (digits.length !== 9) return false;
  const area = Number(digits.slice(0, 3));
  if (area === 0 || area === 666 || area >= 900) return false;
  if (digits.slice(3, 5) === '00' || digits.slice(5) === '0000') return false;
  if (oneCharRepeated(digits)) return false;
  return !EXAMPLE_NUMBERS.has(digits);
}

const windows = digitWindows(SHAPES, '- ');

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const runs = digits ?? findDigitRuns(text);
  if (runs.count === 0) return;
  windows(text, runs, (w) => {
    if (!ssnPlausible(w.digits)) return true;
    if (!reportable(text, w.start, w.separated ? 0.3 : 0.15, RULE)) return true;
    return report(w.start, w.end);
  });
}

/** Finds US Social Security numbers named as such by nearby text. */
export const usSsnDetector: PiiDetector = { type: 'us_ssn', scan };
