/**
 * US bank routing number (ABA routing transit number): nine digits, bare or
 * as "XXXX-XXXX-X", whose first two digits are a Federal Reserve district
 * range (00–12, 21–32, 61–72, 80) and that pass the 3-7-1 weighted check.
 *
 * Chosen from Presidio's catalogue because it has a real validator and shows
 * up in payment instructions sent to assistants. One random nine-digit number
 * in ten passes the check, so the number needs a context word ("routing",
 * "ABA", "RTN"): base 0.15, threshold 0.5 (see context.ts).
 */
import { oneCharRepeated } from './char-class.js';
import { abaValid } from './checksums.js';
import { reportable, type ContextRule } from './context.js';
import { GATE_ABA } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { digitWindows } from './digit-groups.js';
import { findDigitRuns } from './digit-runs.js';

const SHAPES = [[9], [4, 4, 1]] as const;

const RULE: ContextRule = {
  positive: ['routing', 'aba', 'rtn', 'transit number', 'routing number', 'wire'],
  negative: ['ssn', 'social security', 'order', 'invoice', 'tracking'],
};

/** First two digits of a routing number: Federal Reserve ranges (thrift and electronic included). */
function prefixValid(digits: string): boolean {
  const p = Number(digits.slice(0, 2));
  return p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80;
}

const windows = digitWindows(SHAPES, '-');

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const runs = digits ?? findDigitRuns(text);
  if (runs.count === 0) return;
  windows(text, runs, (w) => {
    if (!prefixValid(w.digits) || !abaValid(w.digits) || oneCharRepeated(w.digits)) return true;
    if (!reportable(text, w.start, 0.15, RULE)) return true;
    return report(w.start, w.end);
  });
}

/** Finds ABA routing numbers named as such by nearby text. */
export const abaRoutingDetector: PiiDetector = { type: 'aba_routing', scan, gate: GATE_ABA };
