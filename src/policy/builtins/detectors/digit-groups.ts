/**
 * Finds fixed-shape digit numbers such as "AAA-GG-SSSS" (shape [3, 2, 4]) or a
 * bare nine-digit block (shape [9]) in text, for the national-identifier
 * detectors (US SSN, ABA routing, NHS).
 *
 * The text is split into *runs*: digit groups joined by exactly one separator
 * character from a given set. A shape matches a window of consecutive groups
 * whose lengths are the shape's and whose inner separators are all the same
 * character. The window must stand on its own: at a run edge, not glued to a
 * word or to a decimal number; inside a run, joined to its neighbours only by
 * a space while its own separator is not a space ("123-45-6789 2024" holds an
 * SSN-shaped window, "123-45-6789-01" does not).
 *
 * Linear time: the groups are the text's digit runs (digit-runs.ts), read
 * once, and every group is the start of at most one window per shape, each
 * of constant size.
 */
import * as chars from './char-class.js';
import type { DigitRuns } from './digit-runs.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { asciiChars, inClass, isDigit, isWordChar } = chars;

const SPACE = 0x20;

/** One matched window. */
export interface DigitWindow {
  /** Span in the text, first digit to last digit. */
  readonly start: number;
  readonly end: number;
  /** The digits alone, separators removed. */
  readonly digits: string;
  /** Index of the matched shape in the list given. */
  readonly shape: number;
  /** Whether the window has separators (false for a one-group shape). */
  readonly separated: boolean;
}

/** True when the character at `mark` continues a number: "." or "," or "/" or "-" followed by a digit. */
function continuesNumber(text: string, mark: number, digit: number): boolean {
  if (mark < 0 || mark >= text.length || digit < 0 || digit >= text.length) return false;
  const code = text.charCodeAt(mark);
  return (code === 0x2e || code === 0x2c || code === 0x2f || code === 0x2d) && isDigit(text.charCodeAt(digit));
}

/** Finds the windows of one list of shapes; see {@link digitWindows}. */
export type DigitWindowScan = (text: string, runs: DigitRuns, visit: (window: DigitWindow) => boolean) => void;

/**
 * A scan that calls `visit` for each window of a text that matches one of
 * `shapes` (group lengths), tried in order at each group; after a match the
 * search resumes after the window. `separators` are the characters that may
 * join groups. The scan stops when `visit` returns false. It starts from the
 * text's digit runs, so it reads only the characters around them.
 */
export function digitWindows(shapes: readonly (readonly number[])[], separators: string): DigitWindowScan {
  // Literal characters: with asciiClass, ' -' would join groups by any of ' '…'-'.
  const joins = asciiChars(separators);
  const minDigits = Math.min(...shapes.map((shape) => shape.reduce((a, b) => a + b, 0)));
  const seps: number[] = [];
  return (text, runs, visit) => {
    const { count, starts, ends } = runs;
    let r = 0;
    while (r < count) {
      // One run: digit groups joined by exactly one separator character.
      // seps[k] joins groups k and k + 1 (entries from earlier runs are stale).
      const first = r;
      while (r + 1 < count && starts[r + 1] === ends[r]! + 1) {
        const sep = text.charCodeAt(ends[r]!);
        if (!inClass(joins, sep)) break;
        seps[r - first] = sep;
        r++;
      }
      r++;
      const groups = r - first;
      // Most runs are short numbers ("2024", "3.5"); skip them without trying shapes.
      if (ends[r - 1]! - starts[first]! < minDigits) continue;
      const runStart = starts[first]!;
      const runEnd = ends[r - 1]!;
      let g = 0;
      while (g < groups) {
        let matched = -1;
        for (let s = 0; s < shapes.length && matched === -1; s++) {
          const shape = shapes[s]!;
          const h = g + shape.length - 1;
          if (h >= groups) continue;
          let ok = true;
          for (let k = 0; k < shape.length && ok; k++) ok = ends[first + g + k]! - starts[first + g + k]! === shape[k];
          const inner = shape.length > 1 ? seps[g]! : -1;
          for (let k = g; k < h && ok; k++) ok = seps[k] === inner;
          // Neighbours inside the run: only a space may join, and only when the
          // window's own separator is something else.
          // A space-separated window may still sit next to another token when
          // that neighbour is itself joined onwards by something else ("871
          // 738 4540 02-07-2021", "… 4540 1990.06.23").
          if (ok && g > 0) ok = seps[g - 1] === SPACE && (inner !== SPACE || (g >= 2 ? seps[g - 2] !== SPACE : !leftOk(text, runStart)));
          if (ok && h < groups - 1) ok = seps[h] === SPACE && (inner !== SPACE || (h + 1 < groups - 1 ? seps[h + 1] !== SPACE : !rightOk(text, runEnd)));
          if (ok && g === 0) ok = leftOk(text, runStart);
          if (ok && h === groups - 1) ok = rightOk(text, runEnd);
          if (!ok) continue;
          let digits = '';
          for (let k = g; k <= h; k++) digits += text.slice(starts[first + k]!, ends[first + k]!);
          if (!visit({ start: starts[first + g]!, end: ends[first + h]!, digits, shape: s, separated: shape.length > 1 })) return;
          matched = h;
        }
        g = matched === -1 ? g + 1 : matched + 1;
      }
    }
  };
}

/**
 * Whether a run starting at `start` is free on its left: not glued to a word
 * ("ID123…"), to a mark glued to a word ("v1.123…", "ab-123…"), or to a
 * decimal number ("3.123…").
 */
function leftOk(text: string, start: number): boolean {
  const prev = start > 0 ? text.charCodeAt(start - 1) : -1;
  if (isWordChar(prev)) return false;
  if ((prev === 0x2e || prev === 0x2d || prev === 0x2f) && start > 1 && isWordChar(text.charCodeAt(start - 2))) return false;
  return !continuesNumber(text, start - 1, start - 2);
}

/** Whether a run ending at `end` is free on its right (no word, no decimal continuation). */
function rightOk(text: string, end: number): boolean {
  const next = end < text.length ? text.charCodeAt(end) : -1;
  return !isWordChar(next) && !continuesNumber(text, end, end + 1);
}
