/**
 * The scoring rule shared by detectors whose pattern alone is not conclusive
 * (phone numbers, 9- and 10-digit national identifiers, IPv4 that may be a
 * version string).
 *
 * A candidate starts with a base score that says how specific its shape is.
 * A context word shortly before it adds {@link CONTEXT_BONUS}; a word that
 * says it is something else ("order", "version", …) subtracts the same. It is
 * reported when the result reaches {@link REPORT_THRESHOLD}. Checksums are not
 * part of the score: a candidate that fails its validator is dropped outright,
 * because a failed check digit is evidence, not a hint.
 *
 * The numbers follow Presidio's pattern recognizers (context adds 0.35), so
 * that a reader who knows those can map one onto the other.
 */
import { LETTER, inClass, isDigit } from './char-class.js';

/** What one context word adds to (or takes from) a candidate's score. */
export const CONTEXT_BONUS = 0.35;

/** Score a candidate needs to be reported. */
export const REPORT_THRESHOLD = 0.5;

/**
 * How far before a candidate context words are looked for, in UTF-16 code
 * units: about five short words, enough for "SSN:" or "my mobile number is".
 * A constant window is what keeps the context check O(1) per candidate.
 */
export const CONTEXT_WINDOW = 40;

/**
 * True when one of `words` (lower-case ASCII; may contain spaces) occurs as a
 * whole word in the {@link CONTEXT_WINDOW} code units before `start`, with no
 * digit between it and `start`. A word may be followed by "s" ("phones") but
 * not by other letters, so "tel" does not fire on "telling".
 *
 * The no-digit rule makes a context word the label of the *next* number only:
 * in "SSN 666-01-2345, case 412-67-8901" the word names the first number,
 * not the case number after it.
 */
export function contextBefore(text: string, start: number, words: readonly string[]): boolean {
  if (words.length === 0 || start <= 0) return false;
  const from = sentenceStart(text, Math.max(0, start - CONTEXT_WINDOW), start);
  return hasContextWord(text, from, text.slice(from, start).toLowerCase(), words);
}

/**
 * Whether one of `words` occurs, as {@link contextBefore} defines it, in
 * `window`: text[from, start) in lower case. Split out so that a candidate's
 * window is cut and lower-cased once for both word lists.
 */
function hasContextWord(text: string, from: number, window: string, words: readonly string[]): boolean {
  for (const word of words) {
    for (let at = window.indexOf(word); at !== -1; at = window.indexOf(word, at + 1)) {
      const before = at > 0 ? window.charCodeAt(at - 1) : -1;
      // The window may cut a word in half; a cut on its left edge is a letter
      // we cannot see, so a match at position 0 counts only at the string start.
      if (at === 0 && from > 0 && inClass(LETTER, text.charCodeAt(from - 1))) continue;
      if (inClass(LETTER, before)) continue;
      let after = at + word.length;
      if (window.charCodeAt(after) === 0x73 /* s */) after++;
      if (inClass(LETTER, after < window.length ? window.charCodeAt(after) : -1)) continue;
      if (!hasDigit(window, after)) return true;
    }
  }
  return false;
}

/**
 * Where the window [from, to) should begin so that it does not reach into the
 * previous sentence: after the last ". ", "! ", "? " or line break whose
 * full stop ends a word of four or more letters. Short words are
 * abbreviations that often introduce the number itself ("Tel. ", "No. ").
 */
function sentenceStart(text: string, from: number, to: number): number {
  for (let i = to - 1; i > from; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) return i + 1;
    if (c !== 0x20) continue;
    const mark = text.charCodeAt(i - 1);
    if (mark === 0x21 || mark === 0x3f) return i + 1;
    if (mark !== 0x2e) continue;
    let letters = 0;
    for (let k = i - 2; k >= from && inClass(LETTER, text.charCodeAt(k)); k--) letters++;
    if (letters >= 4) return i + 1;
  }
  return from;
}

function hasDigit(s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) if (isDigit(s.charCodeAt(i))) return true;
  return false;
}

/** Words and base scores for {@link scoreCandidate}. */
export interface ContextRule {
  /** Words that make the candidate more likely to be this kind of PII. */
  readonly positive: readonly string[];
  /** Words that make it likely to be something else. */
  readonly negative: readonly string[];
}

/**
 * Applies the scoring rule: base, plus {@link CONTEXT_BONUS} if a positive
 * word precedes the candidate, minus it if a negative word does.
 */
export function scoreCandidate(text: string, start: number, base: number, rule: ContextRule): number {
  if (start <= 0) return base;
  const from = sentenceStart(text, Math.max(0, start - CONTEXT_WINDOW), start);
  const window = text.slice(from, start).toLowerCase();
  let score = base;
  if (rule.positive.length > 0 && hasContextWord(text, from, window, rule.positive)) score += CONTEXT_BONUS;
  if (rule.negative.length > 0 && hasContextWord(text, from, window, rule.negative)) score -= CONTEXT_BONUS;
  return score;
}

/** Whether a candidate with this base score is reported in this context. */
export function reportable(text: string, start: number, base: number, rule: ContextRule): boolean {
  // A small epsilon: 0.15 + 0.35 is 0.49999999999999994 in binary floating point.
  return scoreCandidate(text, start, base, rule) >= REPORT_THRESHOLD - 1e-9;
}
