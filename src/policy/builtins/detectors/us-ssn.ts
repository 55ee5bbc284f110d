/**
 * US Social Security number detector: AAA-GG-SSSS with "-" or " " (the same
 * separator twice), or nine bare digits.
 *
 * The canonical, separated form in the issued ranges is specific enough to
 * report on its own, as Presidio's medium-confidence pattern and the cloud
 * DLP services do: it scores 0.5, the threshold. A word before it that names
 * something else ("order", "invoice", "account", "phone", "ITIN", …) takes
 * 0.35 off, so "order 536-22-1945" and "case 536-22-1945" are not reported. Nine bare digits are far
 * too common (order numbers, zip+4, phone extensions) for the shape alone to
 * mean anything: they score 0.15 and need an SSN context word (+0.35). See
 * context.ts for the scoring rule and docs/pii.md for the defaults of every
 * type.
 *
 * Numbers the SSA never issues are rejected whatever the context: area 000,
 * 666 and 900–999 (the last are ITINs), group 00, serial 0000, one digit
 * repeated, and numbers published as examples (078-05-1120 from the Woolworth
 * wallet insert, 219-09-9999 from an SSA pamphlet, 123-45-6789).
 */
import { oneCharRepeated } from './char-class.js';
import { reportable, type ContextRule } from './context.js';
import { GATE_SSN } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { digitWindows } from './digit-groups.js';
import { findDigitRuns } from './digit-runs.js';

const SHAPES = [[3, 2, 4], [9]] as const;

/** AAA-GG-SSSS in the issued ranges: reported without context, unless a word names something else. */
const SEPARATED_SCORE = 0.5;
/** Nine bare digits: reported only after an SSN context word. */
const BARE_SCORE = 0.15;

/** Published, never-valid numbers. */
const EXAMPLE_NUMBERS: ReadonlySet<string> = new Set(['078051120', '219099999', '123456789']);

const RULE: ContextRule = {
  positive: ['ssn', 'ss#', 'ss #', 'social security', 'social-security', 'socialsecurity', 'social sec', 'ssa number', 'taxpayer id'],
  // Words that name another kind of number: with one of them before it, even
  // the separated form is that number ("case 536-22-1945", "order …").
  negative: [
    'itin', 'routing', 'aba', 'order', 'invoice', 'tracking', 'account', 'acct', 'phone', 'zip',
    'case', 'ticket', 'claim', 'ref', 'reference', 'serial', 'part', 'sku', 'model', 'docket',
  ],
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
    if (!reportable(text, w.start, w.separated ? SEPARATED_SCORE : BARE_SCORE, RULE)) return true;
    return report(w.start, w.end);
  });
}

/** Finds US Social Security numbers: the separated form on its own, the bare form when named as such. */
export const usSsnDetector: PiiDetector = { type: 'us_ssn', scan, gate: GATE_SSN };
