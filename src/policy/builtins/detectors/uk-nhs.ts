/**
 * UK NHS number: ten digits, bare or as 3-3-4 with one space or "-"
 * separator, whose last digit is the modulus-11 check digit.
 *
 * Chosen from Presidio's catalogue because it is health data with a real
 * validator. One ten-digit number in eleven passes the check, and ten digits
 * are also a phone number, so the number needs a context word ("NHS"):
 * separated 0.3, bare 0.15, threshold 0.5 (see context.ts).
 */
import { oneCharRepeated } from './char-class.js';
import { nhsValid } from './checksums.js';
import { reportable, type ContextRule } from './context.js';
import { GATE_NHS } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { digitWindows } from './digit-groups.js';
import { findDigitRuns } from './digit-runs.js';

const SHAPES = [[3, 3, 4], [10]] as const;

const RULE: ContextRule = {
  positive: ['nhs', 'national health service', 'health service number', 'chi number'],
  negative: ['phone', 'tel', 'mobile', 'call', 'order', 'invoice'],
};

const windows = digitWindows(SHAPES, ' -');

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const runs = digits ?? findDigitRuns(text);
  if (runs.count === 0) return;
  windows(text, runs, (w) => {
    if (!nhsValid(w.digits) || oneCharRepeated(w.digits)) return true;
    if (!reportable(text, w.start, w.separated ? 0.3 : 0.15, RULE)) return true;
    return report(w.start, w.end);
  });
}

/** Finds NHS numbers named as such by nearby text. */
export const ukNhsDetector: PiiDetector = { type: 'uk_nhs', scan, gate: GATE_NHS };
