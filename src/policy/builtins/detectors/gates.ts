/**
 * Which detectors can find anything in a string, decided in one pass over its
 * digit runs, so that scanPii runs only those.
 *
 * Ordinary text is full of short numbers ("2024-03-15", "12.5 kg", "10:30")
 * that no detector reports but that every digit-based detector would
 * otherwise walk around, one walk per detector. Each gate below is a
 * *necessary* condition for its detector to report anything: a shape that
 * every match of that detector contains (a digit group of a given length, a
 * chain of groups with enough digits, two capitals before a digit run, …).
 * A detector whose gate is closed cannot report in that string, so skipping
 * it never changes the findings; a gate that is open only means the detector
 * runs as before. A differential test (test/unit/policy/pii-gates.test.ts)
 * compares gated and ungated scans on random inputs.
 *
 * Linear time: each run is visited once, and each look at its neighbours is
 * a constant number of characters.
 */
import type { DigitRuns } from './digit-runs.js';

/** A payment card: groups joined by single " " or "-" with 13 or more digits. */
export const GATE_CARD = 1;
/** A phone number: see {@link computeGates}. */
export const GATE_PHONE = 2;
/** A US SSN: a nine-digit group, or groups of 3, 2, 4 joined by single " " or "-". */
export const GATE_SSN = 4;
/** An IBAN: a digit run of two or more right after two capitals. */
export const GATE_IBAN = 8;
/** An IP address: four digit runs joined by single dots, or two colons at most five apart. */
export const GATE_IP = 16;
/** An ABA routing number: a nine-digit group, or groups of 4, 4, 1 joined by single "-". */
export const GATE_ABA = 32;
/** An NHS number: a ten-digit group, or groups of 3, 3, 4 joined by single " " or "-". */
export const GATE_NHS = 64;
/** A wallet address: a word of 26 or more ASCII letters and digits that holds a digit. */
export const GATE_WALLET = 128;

/** Shortest wallet address (crypto-wallet.ts). */
const MIN_WALLET = 26;

const SPACE = 0x20;
const HYPHEN = 0x2d;
const DOT = 0x2e;
const PLUS = 0x2b;
const OPEN = 0x28;
const CLOSE = 0x29;

function isAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isUpper(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}

/** Whether a "+" or "+(" stands right before `start`: the chain may be an international number. */
function plusBefore(text: string, start: number): boolean {
  const before = start > 0 ? text.charCodeAt(start - 1) : -1;
  return before === PLUS || (before === OPEN && start > 1 && text.charCodeAt(start - 2) === PLUS);
}

/** Characters a phone candidate may have between two of its groups (phone.ts joins with at most two). */
function isPhoneGap(code: number): boolean {
  return code === SPACE || code === HYPHEN || code === DOT || code === OPEN || code === CLOSE;
}

/**
 * The gates (GATE_* bits) that are open for `text`, whose digit runs are
 * `runs`.
 *
 * Phone: a candidate's groups are joined by at most two characters from
 * " -.()" (phone.ts), so its digits lie in one *chain* of runs with gaps of at
 * most three such characters; it needs 10 or more digits, or 8 or more after
 * "+". A "+" is not a gap character, so a "+" candidate's first group starts
 * a chain: the gate is open when some chain has 10 digits, or 8 and a "+"
 * (or "+(") right before it.
 */
export function computeGates(text: string, runs: DigitRuns): number {
  const { count, starts, ends } = runs;
  const n = text.length;
  let gates = 0;
  if (count === 0) return gates;
  // Chains of groups joined by one " " or "-" (cards, SSN, NHS): digits so far.
  let joinedDigits = 0;
  // Phone chains: digits so far and where the chain's first run starts.
  let phoneDigits = 0;
  let phoneStart = 0;
  // IPv4: number of runs joined by single dots so far.
  let dotted = 0;
  // Wallets: end of the last word of letters and digits measured.
  let wordEnd = 0;
  for (let r = 0; r < count; r++) {
    const s = starts[r]!;
    const e = ends[r]!;
    const len = e - s;
    // The characters on either side of the run, read once for every gate.
    const prev = s > 0 ? text.charCodeAt(s - 1) : -1;
    const next = e < n ? text.charCodeAt(e) : -1;
    // Joined to the previous run by one character?
    const gap = r > 0 ? s - ends[r - 1]! : -1;
    const sep = gap === 1 ? prev : -1;
    const joined = sep === SPACE || sep === HYPHEN;

    if (len === 9) gates |= GATE_SSN | GATE_ABA;
    else if (len === 10) gates |= GATE_NHS;

    joinedDigits = joined ? joinedDigits + len : len;
    if (joinedDigits >= 13) gates |= GATE_CARD;

    if (joined && r >= 2 && starts[r - 1]! - ends[r - 2]! === 1 && text.charCodeAt(ends[r - 2]!) === sep) {
      const a = ends[r - 2]! - starts[r - 2]!;
      const b = ends[r - 1]! - starts[r - 1]!;
      if (a === 3 && b === 2 && len === 4) gates |= GATE_SSN;
      if (a === 3 && b === 3 && len === 4) gates |= GATE_NHS;
      if (a === 4 && b === 4 && len === 1 && sep === HYPHEN) gates |= GATE_ABA;
    }

    let phoneJoined = gap >= 1 && gap <= 3 && isPhoneGap(prev);
    for (let i = s - gap; phoneJoined && i < s - 1; i++) phoneJoined = isPhoneGap(text.charCodeAt(i));
    if (phoneJoined) {
      phoneDigits += len;
    } else {
      phoneDigits = len;
      phoneStart = s;
    }
    if (phoneDigits >= 10 || (phoneDigits >= 8 && plusBefore(text, phoneStart))) gates |= GATE_PHONE;

    if (len >= 2 && isUpper(prev) && s >= 2 && isUpper(text.charCodeAt(s - 2))) gates |= GATE_IBAN;

    dotted = sep === DOT ? dotted + 1 : 1;
    if (dotted >= 4) gates |= GATE_IP;

    // The word of letters and digits around the run, measured once per word:
    // most runs stand alone ("2024", "12.5"), and a run inside a word
    // already measured is skipped.
    if (s >= wordEnd && (gates & GATE_WALLET) === 0) {
      let a = s;
      if (isAlnum(prev)) while (a > wordEnd && isAlnum(text.charCodeAt(a - 1))) a--;
      let b = e;
      if (isAlnum(next)) while (b < n && isAlnum(text.charCodeAt(b))) b++;
      wordEnd = b;
      if (b - a >= MIN_WALLET) gates |= GATE_WALLET;
    }
  }
  if ((gates & GATE_IP) === 0) {
    // IPv6 always holds two colons at most five characters apart ("::", or a
    // group of one to four hex digits between two).
    for (let at = text.indexOf(':'); at !== -1; at = text.indexOf(':', at + 1)) {
      const next = text.indexOf(':', at + 1);
      if (next === -1) break;
      if (next - at <= 5) {
        gates |= GATE_IP;
        break;
      }
      at = next - 1;
    }
  }
  return gates;
}
