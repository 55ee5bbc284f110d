/**
 * E-mail address detector: `local@domain.tld` with an ASCII local part and a
 * dotted ASCII host name whose last label looks like a top-level domain.
 *
 * It is a hand-written scanner, not a regular expression: it starts from each
 * "@" and extends left over local-part characters and right over host-name
 * characters. "@" belongs to neither class, so the left and the right
 * extensions of different "@"s never cover the same character twice and the
 * scan is linear in the string length, even for inputs such as "a@a@a@…".
 */
import { asciiClass, inClass } from './char-class.js';
import type { PiiDetector, ReportSpan } from './detector.js';

/**
 * Local-part characters: the subset of RFC 5322 atext that real addresses use
 * (as in the HTML e-mail input type). Leaving out quotes, slashes and braces
 * keeps spans tight around the address inside prose and markup.
 */
const LOCAL = asciiClass('az', 'AZ', '09', '._%+-');
/** Host-name characters (LDH rule plus the label dot). */
const DOMAIN = asciiClass('az', 'AZ', '09', '.-');
const LETTER = asciiClass('az', 'AZ');
const DOT = 0x2e;
const HYPHEN = 0x2d;
const AT = '@';
/** RFC 1035 label length limit. */
const MAX_LABEL = 63;

/**
 * End of the longest run of whole labels in text[from, to) that forms a host
 * name: at least two labels, each 1–63 LDH characters not starting or ending
 * with "-", and a last label that is a plausible TLD. -1 when there is none.
 */
function hostEnd(text: string, from: number, to: number): number {
  let best = -1;
  let labels = 0;
  let labelStart = from;
  for (let i = from; i <= to; i++) {
    if (i < to && text.charCodeAt(i) !== DOT) continue;
    const length = i - labelStart;
    if (length === 0 || length > MAX_LABEL) break;
    if (text.charCodeAt(labelStart) === HYPHEN || text.charCodeAt(i - 1) === HYPHEN) break;
    labels++;
    if (labels >= 2 && isTld(text, labelStart, i)) best = i;
    labelStart = i + 1;
  }
  return best;
}

/** A TLD is two or more letters, or an IDN A-label ("xn--…"). */
function isTld(text: string, start: number, end: number): boolean {
  if (end - start < 2) return false;
  if (end - start > 4 && text.startsWith('xn--', start)) return true;
  for (let i = start; i < end; i++) if (!inClass(LETTER, text.charCodeAt(i))) return false;
  return true;
}

function scan(text: string, report: ReportSpan): void {
  // No span may start before `floor`: the end of the previous finding, or the
  // character after the previous "@". This keeps findings disjoint and every
  // character inside at most one left extension.
  let floor = 0;
  for (let at = text.indexOf(AT); at !== -1; at = text.indexOf(AT, Math.max(at + 1, floor))) {
    let start = at;
    while (start > floor && inClass(LOCAL, text.charCodeAt(start - 1))) start--;
    // A local part neither starts nor ends with a dot; leading dots are
    // usually sentence punctuation, so skip them rather than give up.
    while (start < at && text.charCodeAt(start) === DOT) start++;

    let to = at + 1;
    while (to < text.length && inClass(DOMAIN, text.charCodeAt(to))) to++;
    // Trailing dots and hyphens are punctuation after the address ("…@x.org.").
    while (to > at + 1 && (text.charCodeAt(to - 1) === DOT || text.charCodeAt(to - 1) === HYPHEN)) to--;

    const end = start < at && text.charCodeAt(at - 1) !== DOT ? hostEnd(text, at + 1, to) : -1;
    if (end === -1) {
      floor = at + 1;
      continue;
    }
    if (!report(start, end)) return;
    floor = end;
  }
}

/** Finds e-mail addresses. */
export const emailDetector: PiiDetector = { type: 'email', scan };
