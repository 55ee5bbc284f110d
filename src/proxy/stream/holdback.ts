/**
 * The hold-back of one text channel: assistant text accumulates here as it
 * streams, and a prefix is *committed* (its PII findings final, free to be
 * released) as soon as no PII match can run from it into text still to come
 * and no detector needs more text to decide about it.
 *
 * Where that is, and why it is safe:
 *
 * 1. The release point comes from `policy/builtins/candidates.ts`, which knows
 *    the detectors' shapes: everything before the *open candidate* at the end
 *    of the held text (a word that may yet be an e-mail local part, a digit
 *    run, an IBAN-shaped prefix, an IPv6-looking run, ...) is committed; the
 *    candidate is held until a character that no match can join ends it.
 *    Ordinary prose therefore leaves at the next word boundary. At such a
 *    break the text before and after scans independently with the same
 *    result as one scan of the whole text, so the streamed findings equal
 *    the non-streamed ones exactly, however the text is split into events.
 * 2. Optionally (`windowChars` > 0) at least that many characters are also
 *    held, for custom stream rules that want a fixed amount of text after a
 *    finding before it is released; the commit point then moves back to the
 *    nearest break.
 * 3. A finding that still crosses the commit point moves it back to a break
 *    before the finding's start (a guard for detectors added later whose
 *    shapes candidates.ts does not know yet).
 * 4. If the held text grows past `maxHoldChars` without a break (say a
 *    5 000-character run of letters), the window cannot decide safely and
 *    reports overflow; the stream is then ended with an error (fail closed),
 *    never released unchecked.
 *
 * Scanning: a commit whose text holds no digit and no "@" cannot contain a
 * finding and is not scanned (most prose). Otherwise the held text is scanned
 * with LOOK_BEHIND_CHARS of already-committed text before it, so context
 * words and "glued to a word" checks see what a scan of the whole text sees.
 */
import { breakAtOrBefore, LOOK_BEHIND_CHARS, mayHoldFinding, releasePoint, settled } from '../../policy/builtins/candidates.js';
import { PII_DETECTORS, scanText, type PiiDetector, type PiiType } from '../../policy/builtins/pii.js';

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
  /**
   * Characters always held on top of the open candidate (0: none, the
   * default). For custom stream rules that need a fixed amount of text after
   * a finding; it delays every token by about this many characters.
   */
  readonly windowChars?: number;
  /** Held characters past which the window gives up (overflow). */
  readonly maxHoldChars: number;
  /** Detectors to run. Default: the PII builtin's. */
  readonly detectors?: readonly PiiDetector[];
}

/** Thrown when the held text exceeds `maxHoldChars` without a safe break. */
export class HoldbackOverflowError extends Error {
  override readonly name = 'HoldbackOverflowError';
}

/**
 * Committed characters kept as look-behind for the next scan: the card
 * detector looks two characters back, an identifier check 48, the
 * context-scored detectors (phone, SSN, NHS, ...) up to 40 plus one for a
 * word edge (detectors/context.ts). candidates.ts owns the number.
 */
export const CONTEXT_CHARS = LOOK_BEHIND_CHARS;

/** The hold-back of one text channel. */
export class HoldbackWindow {
  readonly #maxHold: number;
  readonly #window: number;
  readonly #detectors: readonly PiiDetector[];
  /** Text not yet committed. */
  #held = '';
  /** Up to CONTEXT_CHARS committed characters before `#held`. */
  #context = '';
  /** Channel offset of `#held[0]`. */
  #committed = 0;
  /** Boundaries at the start of `#held` already known to be joined (candidates.settled). */
  #settled = 0;

  constructor(options: HoldbackOptions) {
    const window = options.windowChars ?? 0;
    if (!(window >= 0) || !Number.isInteger(window) || !(options.maxHoldChars >= 1) || !(options.maxHoldChars >= window)) {
      throw new RangeError('hold-back window needs 0 <= windowChars <= maxHoldChars and maxHoldChars >= 1');
    }
    this.#maxHold = options.maxHoldChars;
    this.#window = window;
    this.#detectors = options.detectors ?? PII_DETECTORS;
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
   * otherwise the text before the open candidate (and before the fixed
   * window, if one is set). Returns undefined when nothing can be committed.
   *
   * @throws HoldbackOverflowError when more than maxHoldChars are held and no
   *   break allows a commit.
   */
  commit(final: boolean): Commit | undefined {
    const held = this.#held;
    if (held.length === 0) return undefined;
    const open = releasePoint(held, final, this.#settled);
    let cut = open;
    if (!final && this.#window > 0) cut = Math.min(cut, breakAtOrBefore(held, held.length - this.#window));
    const spans: ChannelSpan[] = [];
    if (cut > 0 && mayHoldFinding(held, 0, cut)) cut = this.#scan(held, cut, spans);
    if (cut <= 0) {
      this.#settled = open === 0 ? settled(held.length) : 0;
      if (held.length > this.#maxHold) throw new HoldbackOverflowError(`more than ${this.#maxHold} characters held without a safe break`);
      return undefined;
    }
    const text = held.slice(0, cut);
    const start = this.#committed;
    this.#context = (this.#context + text).slice(-CONTEXT_CHARS);
    this.#held = held.slice(cut);
    this.#committed += cut;
    // All that is left was found joined by releasePoint, unless less was
    // committed than it allowed.
    this.#settled = cut === open && !final ? settled(this.#held.length) : 0;
    return { start, text, findings: spans };
  }

  /**
   * Scans the held text with its look-behind and collects the findings that
   * start before `cut`; returns the cut, moved back when a finding crosses it.
   */
  #scan(held: string, cut: number, spans: ChannelSpan[]): number {
    const scanned = this.#context + held;
    const offset = this.#context.length;
    // A finding that crosses the cut would be released half checked: move the
    // cut back to a break before its start and rescan (cannot happen at a
    // release point with today's detectors; it guards detectors added later).
    for (let again = true; again && cut > 0; ) {
      again = false;
      spans.length = 0;
      scanText(scanned, this.#detectors, (detector, digits) => {
        detector.scan(
          scanned,
          (start, end) => {
            const s = start - offset;
            const e = end - offset;
            if (e <= 0) return true; // wholly in already-committed context
            if (s < cut && e > cut) {
              cut = breakAtOrBefore(held, Math.max(s, 0));
              again = true;
              return false;
            }
            // A match starting in the committed context cannot be reached at a
            // break; should a future detector produce one, redact what is left.
            if (s < cut) spans.push({ type: detector.type, start: this.#committed + Math.max(s, 0), end: this.#committed + e });
            return true;
          },
          digits,
        );
        return !again;
      });
    }
    spans.sort((a, b) => a.start - b.start || a.end - b.end);
    return cut;
  }
}
