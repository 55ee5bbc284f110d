/**
 * The maximal runs of ASCII digits in a string, found once per string and
 * shared by the detectors.
 *
 * Every detector but the e-mail one needs an ASCII digit somewhere in a
 * match (card, phone and national numbers are digits; an IBAN has two check
 * digits after its country code; an IP address must hold a decimal digit; a
 * wallet address starts with "1", "3" or "0x" or holds the "1" of "bc1").
 * Most text sent to a model is prose with few or no digits, so the detectors
 * start from these runs instead of reading every character in JavaScript:
 * the runs are found with native string searches (below), and a detector
 * then only looks around them.
 *
 * Linear time: every search resumes where the previous run ended, so each
 * character is read a bounded number of times (see findDigitRuns).
 */

/** Maximal runs of ASCII digits, in order: run k is text[starts[k], ends[k]). */
export interface DigitRuns {
  /** Number of runs. */
  readonly count: number;
  /** Index of each run's first digit (entries at and after `count` are unused). */
  readonly starts: Int32Array;
  /** Index after each run's last digit (entries at and after `count` are unused). */
  readonly ends: Int32Array;
}

const NO_RUNS: DigitRuns = Object.freeze({ count: 0, starts: new Int32Array(0), ends: new Int32Array(0) });

/** Finds one digit; global, so that a search starts at `lastIndex`. */
const DIGIT = /[0-9]/g;

/** Strings at least this long are searched with indexOf, shorter ones with {@link DIGIT}. */
const INDEX_OF_FROM = 128;

const DIGIT_CHARS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** How far after a run the next digit is looked for one character at a time. */
const NEAR = 48;

/**
 * Finds the digit runs of `text` (a shared empty result when there is none).
 *
 * Short strings are searched with one regular expression. Long ones are
 * searched with `indexOf` for each of the ten digits, which the engine runs
 * as a vectorised memchr, an order of magnitude faster per character than a
 * character-class search: the next run starts at the least of the ten next
 * positions. After a run, the next {@link NEAR} characters are read one by
 * one, since numbers in text come in clusters ("2024-03-15 at 10:30"); only
 * past them are the positions of the digits that are now behind searched
 * again. Each digit's searches move forward and never overlap, and every
 * character is read once otherwise, so the total is linear.
 */
export function findDigitRuns(text: string): DigitRuns {
  return text.length < INDEX_OF_FROM ? viaRegExp(text) : viaIndexOf(text);
}

/**
 * True for the ASCII digits. Local rather than imported from char-class.ts:
 * this runs per character, and runners that rewrite imports into property
 * reads (vite-node, under which the tests and benchmarks run) would pay a
 * lookup per call.
 */
function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** End of the digit run that starts at `start`. */
function runEnd(text: string, start: number): number {
  let end = start + 1;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  return end;
}

/** Initial capacity of a result; doubled as needed. */
const FIRST_CAPACITY = 32;

/**
 * Appends the run [start, end) to `runs`, growing its arrays when full; one
 * function for both search strategies, kept small so that it inlines.
 */
function push(runs: { count: number; starts: Int32Array; ends: Int32Array }, start: number, end: number): void {
  const count = runs.count;
  if (count === runs.starts.length) {
    const starts = new Int32Array(count * 2);
    const ends = new Int32Array(count * 2);
    starts.set(runs.starts);
    ends.set(runs.ends);
    runs.starts = starts;
    runs.ends = ends;
  }
  runs.starts[count] = start;
  runs.ends[count] = end;
  runs.count = count + 1;
}

function viaRegExp(text: string): DigitRuns {
  DIGIT.lastIndex = 0;
  if (!DIGIT.test(text)) return NO_RUNS;
  const runs = { count: 0, starts: new Int32Array(8), ends: new Int32Array(8) };
  for (;;) {
    const start = DIGIT.lastIndex - 1;
    const end = runEnd(text, start);
    push(runs, start, end);
    // text[end] is not a digit, so the next search finds the next run's start.
    if (end >= text.length) break;
    DIGIT.lastIndex = end + 1;
    if (!DIGIT.test(text)) break;
  }
  DIGIT.lastIndex = 0;
  return runs;
}

function viaIndexOf(text: string): DigitRuns {
  const n = text.length;
  // next[d]: a position of "d", the first at or after where it was last
  // searched from; -1 when there is none left.
  const next = new Int32Array(10);
  let live = 0;
  for (let d = 0; d < 10; d++) {
    next[d] = text.indexOf(DIGIT_CHARS[d]!);
    if (next[d] !== -1) live++;
  }
  if (live === 0) return NO_RUNS;
  // Locals rather than a result object: this loop runs once per run.
  let count = 0;
  let starts = new Int32Array(FIRST_CAPACITY);
  let ends = new Int32Array(FIRST_CAPACITY);
  let pos = 0;
  for (;;) {
    let start = -1;
    for (let d = 0; d < 10; d++) {
      let at = next[d]!;
      if (at !== -1 && at < pos) next[d] = at = text.indexOf(DIGIT_CHARS[d]!, pos);
      if (at !== -1 && (start === -1 || at < start)) start = at;
    }
    if (start === -1) break;
    // This run, then the runs close behind it, read directly.
    let end = start;
    for (;;) {
      end = runEnd(text, start);
      if (count === starts.length) {
        const grownStarts = new Int32Array(count * 2);
        const grownEnds = new Int32Array(count * 2);
        grownStarts.set(starts);
        grownEnds.set(ends);
        starts = grownStarts;
        ends = grownEnds;
      }
      starts[count] = start;
      ends[count] = end;
      count++;
      const limit = Math.min(n, end + NEAR);
      let i = end + 1;
      while (i < limit && !isDigit(text.charCodeAt(i))) i++;
      if (i >= limit) break;
      start = i;
    }
    pos = end;
    if (pos >= n) break;
  }
  return { count, starts, ends };
}
