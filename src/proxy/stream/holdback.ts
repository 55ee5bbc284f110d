/**
 * The hold-back window of one text channel: assistant text accumulates here as
 * it streams, and a prefix is *committed* (its PII findings final, free to be
 * released) only where no PII match can run from it into text still to come.
 *
 * Where that is, and why it is safe:
 *
 * 1. At least `windowChars` (W) characters are always held (and commits
 *    come in batches, so between W and W + batchChars are). Any detector whose
 *    matches, plus the context it looks at, fit in W characters finds them
 *    entirely inside the held text before any of it is released.
 * 2. The commit point is then moved back until it falls between two
 *    characters that no match of today's detectors can join ("a break"):
 *    e-mail matches are runs of [A-Za-z0-9._%+@-], card matches runs of digits
 *    with single space or hyphen separators (whose Luhn and "glued to a word"
 *    checks look at most two characters past the run). A pair is *sticky* when
 *    both characters are e-mail characters, or both are card characters and
 *    one of them is a digit, or it is a surrogate pair. At a break the two
 *    sides are scanned independently with the same result as one scan of the
 *    whole text, so the streamed findings equal the non-streamed ones exactly
 *    - however the text is split into events. That is what makes an e-mail
 *    address with a 200-character local part safe under a 64-character window.
 * 3. If the held text grows past `maxHoldChars` without a break (say a
 *    5 000-character run of letters), the window cannot decide safely and
 *    reports overflow; the stream is then ended with an error (fail closed),
 *    never released unchecked.
 *
 * Scanning: each commit rescans the held text plus CONTEXT_CHARS of
 * already-committed look-behind, so each character is scanned a small,
 * bounded number of times, whatever the stream length.
 */
import { PII_DETECTORS, type PiiDetector, type PiiType } from '../../policy/builtins/pii.js';

/** A PII span in a channel, in UTF-16 offsets from the channel's start. */
export interface ChannelSpan {
  readonly type: PiiType;
  readonly start: number;
  readonly end: number;
}

/** A committed stretch of channel text and the findings wholly inside it. */
export interface Commit {
  /** Channel offset of `text[0]`. */
  readonly start: number;
  readonly text: string;
  /** Sorted by start; may overlap when two detectors match the same characters. */
  readonly findings: readonly ChannelSpan[];
}

/** Options of a {@link HoldbackWindow}. */
export interface HoldbackOptions {
  /** Characters always held (W). */
  readonly windowChars: number;
  /** Held characters past which the window gives up (overflow). */
  readonly maxHoldChars: number;
  /**
   * Commit only once this many characters beyond W are held (default W/2),
   * so that each scan covers a batch of new text rather than one token and a
   * character is scanned about (context + W + batch) / batch times, not once
   * per event. The window then holds between W and W + batch characters.
   */
  readonly batchChars?: number;
  /** Detectors to run. Default: the PII builtin's. */
  readonly detectors?: readonly PiiDetector[];
}

/** Thrown when the held text exceeds `maxHoldChars` without a safe break. */
export class HoldbackOverflowError extends Error {
  override readonly name = 'HoldbackOverflowError';
}

/**
 * Committed characters kept as look-behind for the next scan. The card
 * detector looks two characters back; the context-scored detectors (phone,
 * SSN, NHS, ...) look for words up to 40 code units before a candidate plus
 * one more character to see a word edge (detectors/context.ts). 64 covers
 * both with room to spare, so a number committed after its context word was
 * released is judged exactly as in a one-piece scan.
 */
export const CONTEXT_CHARS = 64;

/** 1 = may be part of an e-mail match, 2 = may be part of a card match (bit flags). */
const CLASS = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._%+@') CLASS[c.charCodeAt(0)]! |= 1;
for (const c of '0123456789') CLASS[c.charCodeAt(0)]! |= 3;
CLASS[0x2d]! |= 3; // "-" is both
CLASS[0x20]! |= 2; // " " separates card groups
CLASS[0x2c]! |= 2; // "," and "." make digits part of a decimal number
CLASS[0x2e]! |= 2;

function isDigitCode(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** True when no match can contain both text[i-1] and text[i] (see the module comment). */
function sticky(a: number, b: number): boolean {
  if (a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff) return true;
  if (a >= 128 || b >= 128) return false;
  const ca = CLASS[a]!;
  const cb = CLASS[b]!;
  if (ca & cb & 1) return true;
  return (ca & cb & 2) !== 0 && (isDigitCode(a) || isDigitCode(b));
}

/** The hold-back window of one text channel. */
export class HoldbackWindow {
  readonly #options: HoldbackOptions;
  readonly #detectors: readonly PiiDetector[];
  readonly #batch: number;
  /** Text not yet committed. */
  #held = '';
  /** Up to CONTEXT_CHARS committed characters before `#held`. */
  #context = '';
  /** Channel offset of `#held[0]`. */
  #committed = 0;

  constructor(options: HoldbackOptions) {
    if (!(options.windowChars >= 1) || !(options.maxHoldChars >= options.windowChars)) {
      throw new RangeError('hold-back window needs 1 <= windowChars <= maxHoldChars');
    }
    this.#options = options;
    this.#detectors = options.detectors ?? PII_DETECTORS;
    this.#batch = Math.max(0, Math.min(options.batchChars ?? Math.floor(options.windowChars / 2), options.maxHoldChars - options.windowChars));
  }

  /** Channel offset up to which text is committed. */
  get committedEnd(): number {
    return this.#committed;
  }

  /** Channel offset of the end of the text received so far. */
  get end(): number {
    return this.#committed + this.#held.length;
  }

  /** Characters currently held. */
  get heldChars(): number {
    return this.#held.length;
  }

  /** Adds streamed text. */
  append(text: string): void {
    this.#held += text;
  }

  /**
   * Commits what is safe: everything when `final` (the channel is over),
   * otherwise up to the last break at least W characters from the end.
   * Returns undefined when nothing can be committed yet.
   *
   * @throws HoldbackOverflowError when more than maxHoldChars are held and no
   *   break allows a commit.
   */
  commit(final: boolean): Commit | undefined {
    const held = this.#held;
    if (!final && held.length < this.#options.windowChars + this.#batch) return undefined;
    let cut = final ? held.length : this.#breakBefore(held.length - this.#options.windowChars);
    if (cut <= 0) {
      if (held.length > this.#options.maxHoldChars) throw new HoldbackOverflowError(`more than ${this.#options.maxHoldChars} characters held without a safe break`);
      return undefined;
    }
    const scanned = this.#context + held;
    const offset = this.#context.length;
    const spans: ChannelSpan[] = [];
    // A finding that crosses the cut would be released half checked: move the
    // cut back to its start and rescan (cannot happen at a break with today's
    // detectors; it guards detectors added later).
    for (let again = true; again && cut > 0; ) {
      again = false;
      spans.length = 0;
      for (const detector of this.#detectors) {
        detector.scan(scanned, (start, end) => {
          const s = start - offset;
          const e = end - offset;
          if (e <= 0) return true; // wholly in already-committed context
          if (s < cut && e > cut) {
            cut = this.#breakBefore(Math.max(s, 0));
            again = true;
            return false;
          }
          // A match starting in the committed context cannot be reached at a
          // break; should a future detector produce one, redact what is left.
          if (s < cut) spans.push({ type: detector.type, start: this.#committed + Math.max(s, 0), end: this.#committed + e });
          return true;
        });
        if (again) break;
      }
    }
    if (cut <= 0) {
      if (held.length > this.#options.maxHoldChars) throw new HoldbackOverflowError(`more than ${this.#options.maxHoldChars} characters held without a safe break`);
      return undefined;
    }
    spans.sort((a, b) => a.start - b.start || a.end - b.end);
    const text = held.slice(0, cut);
    const start = this.#committed;
    this.#context = (this.#context + text).slice(-CONTEXT_CHARS);
    this.#held = held.slice(cut);
    this.#committed += cut;
    return { start, text, findings: spans };
  }

  /** The largest break position <= at within the held text (0 when none). */
  #breakBefore(at: number): number {
    const held = this.#held;
    let i = Math.min(at, held.length);
    while (i > 0 && i < held.length && sticky(held.charCodeAt(i - 1), held.charCodeAt(i))) i--;
    return Math.max(i, 0);
  }
}
