/**
 * Payment card number detector (PAN): 13–19 digits, written either as one
 * block or as groups joined by a single space or hyphen ("4111 1111 1111
 * 1111", "4111-1111-1111-1111"), that pass the Luhn check, are not one
 * digit repeated, and start with a known network's IIN for their length
 * (card-issuers.ts). The IIN rule drops Luhn-valid IMEIs and account numbers;
 * bench/pii-quality measures what it buys.
 *
 * The scanner splits the string into *runs*: maximal sequences of digit groups
 * joined by single separators. A candidate is a window of whole groups inside
 * a run holding 13–19 digits, so a card followed by more numbers ("4111 1111
 * 1111 1111 2024") is still found, while a digit block longer than 19 (a hash,
 * an id) never yields a card from its middle. From each group, left to right,
 * the longest valid window wins and the scan resumes after it.
 *
 * Linear time: prefix sums over each run give Luhn for any window in O(1),
 * and each starting group has at most seven candidate ends (13–19 digits).
 * The runs are built from the string's digit runs (digit-runs.ts), so text
 * without digits costs nothing here.
 */
import * as chars from './char-class.js';
import { knownIssuer } from './card-issuers.js';
import { luhnDoubled } from './checksums.js';
import { groupedIbanEnd } from './iban.js';
import { GATE_CARD } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { findDigitRuns } from './digit-runs.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { asciiClass, DIGIT_0, inClass, isDigit } = chars;

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;
const SPACE = 0x20;
const HYPHEN = 0x2d;
/** Characters that glue a digit run to a word ("ID4111…", "…1111abc"): not a card. */
const WORD = asciiClass('az', 'AZ', '_');
/** A "." or "," between digits makes the run part of a decimal number. */
const DECIMAL_MARK = asciiClass('.,');

/**
 * Luhn over digits[a, b) of a run in O(1). Counting from the right, every
 * second digit is doubled: the digits whose index has the parity of `b`.
 * So with evenDoubled[k] = Σ_{i<k} (i even ? doubled(d_i) : d_i) and
 * oddDoubled[k] the same with the parities swapped, the Luhn sum of the
 * window is a difference of two prefix sums.
 */
function luhnWindow(evenDoubled: Int32Array, oddDoubled: Int32Array, a: number, b: number): boolean {
  const sums = b % 2 === 0 ? evenDoubled : oddDoubled;
  return (sums[b]! - sums[a]!) % 10 === 0;
}

/**
 * Whether the run between text[before] and text[after] (both exclusive) is
 * glued to a word or continues a decimal number on its left or right side.
 */
function glued(text: string, before: number, after: number): { left: boolean; right: boolean } {
  const prev = before >= 0 ? text.charCodeAt(before) : -1;
  const next = after < text.length ? text.charCodeAt(after) : -1;
  return {
    left:
      inClass(WORD, prev) || (inClass(DECIMAL_MARK, prev) && before > 0 && isDigit(text.charCodeAt(before - 1))),
    right:
      inClass(WORD, next) ||
      (inClass(DECIMAL_MARK, next) && after + 1 < text.length && isDigit(text.charCodeAt(after + 1))),
  };
}

/** How far past a run of digit groups to look for letters of a hyphenated identifier. */
const IDENTIFIER_REACH = 48;

/** Characters of a word-like token: letters, digits, "_" and "-" ("22262966-3733-abaa", "SKU-4111", "4111x"). */
function isTokenChar(c: number): boolean {
  return c === HYPHEN || isDigit(c) || inClass(WORD, c);
}

/** True for ASCII letters ("_" glues, but is not a letter). */
function isLetter(c: number): boolean {
  return inClass(WORD, c) && c !== 0x5f;
}

/**
 * Whether the digit groups in text[start, end), which only hyphens join,
 * belong to an identifier: the word-like token around them (letters, digits,
 * "_", "-"; see {@link isTokenChar}) holds a letter. A UUID whose first groups
 * happen to be all digits ("22262966-3733-4317-abaa-…"), a serial
 * ("4000000000000002x", "SN-4111…"), a hex id: none of their digits are a
 * card. A space ends a token, so a card printed in space-separated groups is
 * several letter-free tokens, and a token glued to a letter next to it
 * ("4000000000000002 4000000000000002x") does not make its neighbour an
 * identifier. The walk is bounded, so a scan stays linear.
 */
function isIdentifierToken(text: string, start: number, end: number): boolean {
  for (let i = start - 1, k = 0; i >= 0 && k < IDENTIFIER_REACH && isTokenChar(text.charCodeAt(i)); i--, k++) {
    if (isLetter(text.charCodeAt(i))) return true;
  }
  for (let i = end, k = 0; i < text.length && k < IDENTIFIER_REACH && isTokenChar(text.charCodeAt(i)); i++, k++) {
    if (isLetter(text.charCodeAt(i))) return true;
  }
  return false;
}

/**
 * Examines one run of `groups` digit groups (bounds in starts/ends) holding
 * `total` digits, and reports the card numbers in it. Returns false when
 * `report` asked to stop.
 */
function scanRun(
  text: string,
  starts: Int32Array,
  ends: Int32Array,
  groups: number,
  total: number,
  first: number,
  requireIssuer: boolean,
  report: ReportSpan,
): boolean {
  // Per-run tables over the run's digits, so that every window costs O(1):
  // offset[g] = index of group g's first digit; Luhn prefix sums; and
  // sameFrom[k] = first index of the block of equal digits that ends at k.
  const offset = new Int32Array(groups + 1);
  const evenDoubled = new Int32Array(total + 1);
  const oddDoubled = new Int32Array(total + 1);
  const sameFrom = new Int32Array(total);
  // Group-level prefix counts: groups shorter than three digits, and places
  // where the separator changes. Real cards are printed in groups of 3+
  // ("4-4-4-4", "4-6-5") with one separator; a window mixing them is a phone
  // number followed by a date, or a list of small numbers.
  const shortBefore = new Int32Array(groups + 1);
  const changesBefore = new Int32Array(groups + 1);
  for (let g = 0; g < groups; g++) {
    shortBefore[g + 1] = shortBefore[g]! + (ends[g]! - starts[g]! < 3 ? 1 : 0);
    const change = g >= 1 && g + 1 < groups && text.charCodeAt(ends[g - 1]!) !== text.charCodeAt(ends[g]!);
    changesBefore[g + 1] = changesBefore[g]! + (change ? 1 : 0);
  }
  const digits = new Uint8Array(total);
  let k = 0;
  let previous = -1;
  for (let g = 0; g < groups; g++) {
    offset[g] = k;
    for (let i = starts[g]!; i < ends[g]!; i++, k++) {
      const code = text.charCodeAt(i);
      const d = code - DIGIT_0;
      digits[k] = d;
      const twice = luhnDoubled(d);
      evenDoubled[k + 1] = evenDoubled[k]! + (k % 2 === 0 ? twice : d);
      oddDoubled[k + 1] = oddDoubled[k]! + (k % 2 === 0 ? d : twice);
      // Compare with the previous digit, not the previous character, which
      // may be a separator.
      sameFrom[k] = code === previous ? sameFrom[k - 1]! : k;
      previous = code;
    }
  }
  offset[groups] = k;

  const edge = glued(text, starts[0]! - 1, ends[groups - 1]!);
  // The run's groups form tokens separated by spaces. Only the first token
  // can reach letters on its left and only the last on its right (inside the
  // run every token is bounded by spaces), so an identifier token (a UUID, a
  // serial; see isIdentifierToken) can only be at either end: windows start
  // after the first token if it is one and end before the last if that is.
  let firstToken = 0;
  while (firstToken + 1 < groups && text.charCodeAt(ends[firstToken]!) === HYPHEN) firstToken++;
  let lastToken = groups - 1;
  while (lastToken > 0 && text.charCodeAt(ends[lastToken - 1]!) === HYPHEN) lastToken--;
  let lowest = first;
  let highest = groups - 1;
  if (isIdentifierToken(text, starts[0]!, ends[firstToken]!)) lowest = Math.max(lowest, firstToken + 1);
  if (isIdentifierToken(text, starts[lastToken]!, ends[groups - 1]!)) highest = lastToken - 1;
  if (lowest > highest) return true;
  // For start group s, the candidate end groups are lo..hi: lo is the first
  // whose window reaches 13 digits, hi the last within 19. Both only move
  // forward as s does, so finding them is amortised O(1); the longest valid
  // window wins, hence the downward search.
  let lo = lowest;
  let hi = lowest;
  let s = lowest;
  while (s <= highest) {
    const a = offset[s]!;
    lo = Math.max(lo, s);
    while (lo <= highest && offset[lo + 1]! - a < MIN_DIGITS) lo++;
    hi = Math.max(hi, s);
    while (hi + 1 <= highest && offset[hi + 2]! - a <= MAX_DIGITS) hi++;
    let best = -1;
    for (let e = hi; e >= lo; e--) {
      const b = offset[e + 1]!;
      if (b - a > MAX_DIGITS || sameFrom[b - 1]! <= a) continue;
      if ((s === 0 && edge.left) || (e === groups - 1 && edge.right)) continue;
      if (e > s && shortBefore[e + 1]! - shortBefore[s]! > 0) continue;
      // Separator changes at groups s+1..e-1 (between joins k-1→k and k→k+1).
      if (e > s + 1 && changesBefore[e]! - changesBefore[s + 1]! > 0) continue;
      // Luhn first: it is O(1) and rejects nine windows in ten before the
      // range table is consulted.
      if (luhnWindow(evenDoubled, oddDoubled, a, b) && (!requireIssuer || knownIssuer(first6(digits, a), b - a))) {
        best = e;
        break;
      }
    }
    if (best === -1) {
      s++;
      continue;
    }
    if (!report(starts[s]!, ends[best]!)) return false;
    s = best + 1;
  }
  return true;
}

/** The six digits from index a as one integer (a window has at least 13). */
function first6(digits: Uint8Array, a: number): number {
  let value = 0;
  for (let i = a; i < a + 6; i++) value = value * 10 + digits[i]!;
  return value;
}

function scan(text: string, report: ReportSpan, requireIssuer: boolean, runs: DigitRuns): void {
  const { count, starts, ends } = runs;
  let r = 0;
  while (r < count) {
    // Collect one run of groups: digit runs joined by exactly one separator.
    const first = r;
    let total = ends[r]! - starts[r]!;
    while (r + 1 < count && starts[r + 1] === ends[r]! + 1) {
      const sep = text.charCodeAt(ends[r]!);
      if (sep !== SPACE && sep !== HYPHEN) break;
      r++;
      total += ends[r]! - starts[r]!;
    }
    r++;
    if (total < MIN_DIGITS) continue;
    const groups = r - first;
    const groupStarts = starts.subarray(first, r);
    const groupEnds = ends.subarray(first, r);
    // Groups inside a printed IBAN ("SE34 3686 5260 7706 4638 3564") are the
    // IBAN detector's; windows start after them.
    let from = 0;
    const ibanEnd = groupedIbanEnd(text, groupStarts[0]!);
    while (ibanEnd !== -1 && from < groups && groupStarts[from]! < ibanEnd) from++;
    if (from < groups && !scanRun(text, groupStarts, groupEnds, groups, total, from, requireIssuer, report)) return;
  }
}

/** Options of {@link createPaymentCardDetector}. */
export interface PaymentCardOptions {
  /** Report only numbers in a known network's IIN range (default true). */
  readonly requireKnownIssuer?: boolean;
}

/**
 * A payment card detector. Only the quality benchmark turns the IIN rule off,
 * to measure what it changes.
 */
export function createPaymentCardDetector(options: PaymentCardOptions = {}): PiiDetector {
  const requireIssuer = options.requireKnownIssuer ?? true;
  return { type: 'payment_card', scan: (text, report, digits) => scan(text, report, requireIssuer, digits ?? findDigitRuns(text)), gate: GATE_CARD };
}

/** Finds payment card numbers that pass the Luhn check and have a known IIN. */
export const paymentCardDetector: PiiDetector = createPaymentCardDetector();
