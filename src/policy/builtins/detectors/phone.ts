/**
 * Phone number detector for international (E.164, "+" and country code) and
 * national formats ("(415) 555-0132", "415-555-0132", "020 7946 0958").
 *
 * A candidate is read from a "+", a "(" or a digit that starts a word:
 * digit groups joined by one " ", "-" or "." (dots only if all joins are
 * dots), with at most one parenthesised group. It is then checked and scored:
 *
 * | form                                              | digits | base |
 * |---------------------------------------------------|--------|------|
 * | "+" + known country code                          | 8–15   | 0.6  |
 * | "(area) exchange-line", NANP                      | 10–11  | 0.6  |
 * | NANP 3-3-4 with "-" or "."                        | 10     | 0.5  |
 * | other separated national (NANP, or trunk "0")     | 10–11  | 0.4  |
 * | one bare block (NANP or trunk "0")                | 10–11  | 0.2  |
 *
 * A phone word before it ("phone", "tel", "call", "mobile", …) adds 0.35, a
 * word naming something else ("order", "invoice", "ISBN", "NHS", …)
 * subtracts 0.35; reported at ≥ 0.5 (context.ts). So a bare "+1 415 555
 * 0132" is reported, "020 7946 0958" needs a phone word, and a ten-digit
 * block needs one too.
 *
 * Structure rules that keep dates, times, versions and codes out: in national
 * numbers, groups after the first have at least two digits ("10.0.19041.1"
 * fails); four dotted groups of ≤ 3 digits are an IPv4 address; the run is
 * not glued to a word on either side, NANP area code and exchange start with
 * 2–9 (so ten-digit Unix timestamps, which start with 1, fail), and more than
 * 15 digits is never a phone number (cards, IMEIs, ISBN-13 are handled by
 * the digit count).
 *
 * Linear time: the next candidate starts after the end of the previous one,
 * whether it matched or not, so every character is read once.
 */
import * as chars from './char-class.js';
import { reportable, type ContextRule } from './context.js';
import { GATE_PHONE } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { findDigitRuns } from './digit-runs.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { isDigit, isWordChar } = chars;

const PLUS = 0x2b;
const OPEN = 0x28;
const CLOSE = 0x29;
const SPACE = 0x20;
const HYPHEN = 0x2d;
const DOT = 0x2e;

const RULE: ContextRule = {
  positive: [
    'phone', 'tel', 'telephone', 'call', 'mobile', 'cell', 'cellphone', 'fax', 'whatsapp', 'sms', 'text me',
    'ring', 'dial', 'contact number', 'ph', 'mob', 'landline', 'hotline', 'reach me',
  ],
  negative: [
    'order', 'invoice', 'sku', 'isbn', 'serial', 'tracking', 'ref', 'reference', 'version', 'build', 'part',
    'model', 'account', 'acct', 'routing', 'iban', 'ssn', 'nhs', 'ticket', 'case', 'imei', 'id',
  ],
};

/** Two-digit country codes (ITU-T E.164 assignments); "1" and "7" are one digit. */
const CC2 = new Set([
  20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60,
  61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
]);
/** First two digits of the three-digit country codes. */
const CC3_PREFIX = new Set([21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 80, 85, 87, 88, 96, 97, 99]);

/** Length of the country code at the start of `digits`, or 0 when none is assigned. */
function countryCodeLength(digits: string): number {
  const d1 = digits.charCodeAt(0) - 0x30;
  if (d1 === 1 || d1 === 7) return 1;
  const d2 = Number(digits.slice(0, 2));
  if (CC2.has(d2)) return 2;
  return CC3_PREFIX.has(d2) ? 3 : 0;
}

/** North American numbering plan: NXX NXX XXXX (N = 2–9), optional leading 1. */
function nanp(digits: string): boolean {
  const d = digits.length === 11 && digits[0] === '1' ? digits.slice(1) : digits;
  return d.length === 10 && d[0]! >= '2' && d[3]! >= '2';
}

interface Candidate {
  /** End of each digit group (after its ")" when parenthesised). */
  readonly groupEnds: number[];
  /** Digit count of each group. */
  readonly groups: number[];
  /** Separator before group g + 1 (0 for "(415)555", where there is none). */
  readonly joins: number[];
  /** Digits, at most the first 16 (more is never a phone number). */
  digits: string;
  plus: boolean;
  /** Index of the parenthesised group, -1 if none. */
  parenGroup: number;
  /** Where the next candidate may start. */
  next: number;
  /** False when the structure rules already reject it. */
  wellFormed: boolean;
}

/** Reads the candidate starting at `start` (a "+", "(" or digit). */
function read(text: string, start: number): Candidate {
  const n = text.length;
  const c: Candidate = { groupEnds: [], groups: [], joins: [], digits: '', plus: false, parenGroup: -1, next: start + 1, wellFormed: true };
  let i = start;
  if (text.charCodeAt(i) === PLUS) {
    c.plus = true;
    i++;
  }
  for (;;) {
    let open = false;
    if (text.charCodeAt(i) === OPEN) {
      if (c.parenGroup !== -1) c.wellFormed = false;
      open = true;
      i++;
    }
    const from = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === from) {
      // "(" or "+" not followed by digits: the candidate ends before it.
      if (c.groups.length === 0) c.wellFormed = false;
      c.next = Math.max(c.next, i);
      return c;
    }
    // Keep reading past 16 digits so the next candidate starts after this
    // run, but stop collecting: the candidate is rejected anyway.
    if (c.digits.length < 16) c.digits += text.slice(from, Math.min(i, from + 16));
    if (open) c.parenGroup = c.groups.length;
    c.groups.push(i - from);
    c.groupEnds.push(i);
    c.next = i;
    if (open) {
      if (text.charCodeAt(i) !== CLOSE) {
        c.wellFormed = false;
        return c;
      }
      i++;
      c.groupEnds[c.groupEnds.length - 1] = i;
      c.next = i;
      if (isDigit(text.charCodeAt(i))) {
        c.joins.push(0); // "(415)555-0132"
        continue;
      }
    }
    const sep = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if ((sep === SPACE || sep === HYPHEN || sep === DOT) && (isDigit(next) || (next === OPEN && c.parenGroup === -1))) {
      c.joins.push(sep);
      i++;
      continue;
    }
    return c;
  }
}

/**
 * Base score of the first `k` groups of a well-formed candidate, or -1 when
 * they cannot be a phone number.
 */
function baseScore(c: Candidate, k: number): number {
  if (k > 7) return -1;
  // Read in place rather than through slices and a Set: this runs for every
  // candidate, and PII-dense text has many.
  const groups = c.groups;
  let count = 0;
  let largest = 0;
  for (let g = 0; g < k; g++) {
    count += groups[g]!;
    if (groups[g]! > largest) largest = groups[g]!;
  }
  if (count > 15) return -1;
  let dots = false;
  let spaces = false;
  let others = false;
  for (let j = 0; j < k - 1; j++) {
    const join = c.joins[j];
    if (join === DOT) dots = true;
    else others = true;
    if (join === SPACE) spaces = true;
  }
  if (dots && others) return -1;
  // Four dotted groups of at most three digits is an IPv4 address, not a phone.
  if (dots && k === 4 && largest <= 3) return -1;
  const digits = c.digits.slice(0, count);
  if (c.plus) {
    // After "+CC" a one-digit area code is normal ("+33 1 …", "+81 3-…"); the
    // last group still needs two digits.
    if (groups[k - 1]! < 2) return -1;
    if (count < 8 || countryCodeLength(digits) === 0) return -1;
    return 0.6;
  }
  if (count < 10 || count > 11) return -1;
  for (let g = 1; g < k; g++) if (groups[g]! < 2) return -1;
  const trunk = digits[0] === '0';
  if (!trunk && !nanp(digits)) return -1;
  if (k === 1) return 0.2;
  if (c.parenGroup !== -1 && c.parenGroup < k && !trunk) return 0.6;
  if (!trunk && count === 10 && k === 3 && groups[0] === 3 && groups[1] === 3 && groups[2] === 4 && !spaces) return 0.5;
  return 0.4;
}

/** True when the candidate ending at `end` is glued to a word or continues a number. */
function gluedRight(text: string, end: number): boolean {
  const next = end < text.length ? text.charCodeAt(end) : -1;
  if (isWordChar(next)) return true;
  return (next === DOT || next === 0x2f || next === 0x2c || next === 0x3a) && isDigit(text.charCodeAt(end + 1));
}

/**
 * How many trailing groups may be dropped when the whole run is not a phone
 * number: "+1 415 555 0132 2 times" or "Tel. 030 3886231 16B…" end in a
 * space-joined group that belongs to the next token (a date, a card). Bounded, so each run
 * costs O(its length).
 */
const MAX_DROPPED_GROUPS = 4;

/** Characters that may stand between two groups of one candidate: "415-555", "(415) 555", "(415)555". */
function isGapChar(code: number): boolean {
  return code === SPACE || code === HYPHEN || code === DOT || code === OPEN || code === CLOSE;
}

/**
 * Whether digit runs r, r+1, … that follow each other with at most three
 * gap characters between them (a superset of how a candidate's groups are
 * joined) hold at least `min` digits. Reads at most `min` runs.
 */
function chainHasDigits(text: string, starts: Int32Array, ends: Int32Array, count: number, r: number, min: number): boolean {
  let total = ends[r]! - starts[r]!;
  for (let k = r; total < min; k++) {
    if (k + 1 >= count || starts[k + 1]! - ends[k]! > 3) return false;
    for (let g = ends[k]!; g < starts[k + 1]!; g++) if (!isGapChar(text.charCodeAt(g))) return false;
    total += ends[k + 1]! - starts[k + 1]!;
  }
  return true;
}

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const { count, starts, ends } = digits ?? findDigitRuns(text);
  const n = text.length;
  let r = 0;
  let i = 0;
  while (i < n) {
    // Every candidate that can match holds a digit within its first three
    // characters ("+(4…", "(4…", "+4…", "4…"): jump to two characters before
    // the next digit run, or past the digits inside one, whose every position
    // follows a digit and so cannot start a candidate.
    while (r < count && ends[r]! <= i) r++;
    if (r === count) return;
    if (i < starts[r]! - 2) i = starts[r]! - 2;
    else if (i > starts[r]!) i = ends[r]!;
    const code = text.charCodeAt(i);
    const opener = code === PLUS || code === OPEN || isDigit(code);
    const prev = i > 0 ? text.charCodeAt(i - 1) : -1;
    // Not inside a word or a longer token ("ID123…", "v1.2…", "a-415…", "+1+2").
    if (!opener || isWordChar(prev) || prev === DOT || prev === HYPHEN || prev === PLUS || prev === 0x2f) {
      i++;
      continue;
    }
    // Fewer than eight digits is never a phone number: when the digit runs
    // close enough together to be one candidate's groups hold fewer, no
    // candidate starting here can match, and the ones after it start in
    // those runs too.
    if (!chainHasDigits(text, starts, ends, count, r, 8)) {
      i++;
      continue;
    }
    const start = i;
    const c = read(text, i);
    i = Math.max(c.next, i + 1);
    if (!c.wellFormed || c.groups.length === 0) continue;
    const total = c.groups.length;
    for (let k = total; k >= 1 && k >= total - MAX_DROPPED_GROUPS; k--) {
      // Only a space may split the phone number from what follows it.
      if (k < total && c.joins[k - 1] !== SPACE) continue;
      const end = c.groupEnds[k - 1]!;
      if (k === total && gluedRight(text, end)) continue;
      const base = baseScore(c, k);
      if (base < 0) continue;
      if (reportable(text, start, base, RULE) && !report(start, end)) return;
      break;
    }
  }
}

/** Finds phone numbers (see the module comment for the scoring table). */
export const phoneDetector: PiiDetector = { type: 'phone', scan, gate: GATE_PHONE };
