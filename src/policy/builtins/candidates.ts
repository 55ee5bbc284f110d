/**
 * Where streamed text can be released: the detectors' shapes, seen from the
 * right-hand end of text that is still arriving.
 *
 * A streaming scanner may release a prefix of its held text once no PII match
 * of any detector can run from that prefix into text still to come, and no
 * detector would judge a match inside the prefix differently once more text
 * arrives. This module finds the largest such prefix. It knows the detectors
 * in `detectors/` by the characters their matches are made of and by what
 * each one reads past a match's end; it never runs them.
 *
 * The model is a relation on adjacent characters: two neighbours are *joined*
 * when some detector's match may contain both, or when a detector reads the
 * right one to decide about a match that ends with the left one. A boundary
 * between two characters that are not joined is a *break*. The held text's
 * tail after its last break is the *open candidate*: it may still grow into,
 * or be decided as, a match, so it is held; everything before the break is
 * released. When the last character cannot be joined to anything that may
 * follow (a "!", a line break, a space after a lower-case word), nothing is
 * held at all.
 *
 * Why that is enough. At a break the text left of it and the text right of it
 * scan independently with the same findings as one scan of the whole text,
 * provided each later scan sees enough already-released text to its left
 * ({@link LOOK_BEHIND_CHARS}): what the detectors read to the LEFT of a
 * candidate (context words, "glued to a word" checks, the start of an
 * identifier) is bounded, while everything they read to the RIGHT of a match
 * is reached through joined pairs only, so it lies inside the open candidate.
 *
 * Per class of detector, what is held and why:
 *
 * - **E-mail** (`email.ts`): a match is a run of [A-Za-z0-9._%+-] with one
 *   "@", and the local part can be any length, so any word still being
 *   written may yet be the local part of an address ("bob" → "bob@x.org"):
 *   the trailing run of these characters is held until a character outside
 *   them (a space, ",", "!", "'") ends it. This is why ordinary prose leaves
 *   at the next word boundary, one token late. "_" is joined too: the card
 *   and wallet checks treat it as part of a word.
 * - **Payment cards** (`payment-card.ts`): digit groups joined by one space
 *   or "-", 13–19 digits; a longer run changes which window wins, a letter,
 *   "_" or a decimal mark followed by a digit right after the run makes it no
 *   card, and a hyphenated identifier may reach 48 characters to the right.
 *   Digits, letters, "-" and "_" are joined (as above); a space is joined
 *   between digits, and a mark after a digit (",", ".", "/", ":", ")", and
 *   for the NHS detector any of !"#$%&'()*+,) is joined to it and, when a
 *   digit follows, to that digit.
 * - **Phone numbers** (`phone.ts`): "+", "(", digits, ")" and groups joined
 *   by one " ", "-" or "."; a match may drop up to four trailing groups and
 *   is not one when a word, or [./,:] and a digit, follows. So "(" before a
 *   digit, ")" after one, ")" before a separator or digit, and a space after
 *   a digit or ")" before a digit or "(" are joined; ":" after a digit is
 *   (see IP addresses).
 * - **US SSN, NHS, ABA routing** (`us-ssn.ts`, `uk-nhs.ts`, `aba-routing.ts`
 *   via `digit-groups.ts`): fixed digit shapes joined by " " or "-", judged
 *   by the word and decimal checks above and by context words *before* the
 *   number. Context words need no holding: a number still held is scanned
 *   with {@link LOOK_BEHIND_CHARS} of released text before it, which covers
 *   the 40-character context window (`context.ts`) and its word-edge check.
 * - **IBAN** (`iban.ts`): two capitals, two digits, then the account number
 *   compact or in blocks of four separated by one space; blocks may be all
 *   letters ("GB82 WEST 1234 …", "… 90AB CDEF G"). A space after a block of
 *   four capitals or digits that starts a word is joined to a capital or
 *   digit after it, so an IBAN-shaped prefix is held until a lower-case
 *   word, punctuation or a second space ends it. (Not after any capital: a
 *   long run of shouted words would then never break and overflow the hold.)
 * - **IP addresses** (`ip-address.ts`): runs of hex digits, "." and ":"
 *   ("fe80::1", "::ffff:10.0.0.1", "10.1.2.3:8080"); ":" is joined to every
 *   such neighbour, and a trailing ":" may still start or continue one.
 * - **Crypto wallets** (`crypto-wallet.ts`): one run of letters and digits
 *   (Base58, Bech32, "0x" hex) of 26–90 characters; joined as a word.
 * - **Surrogate pairs** are never split, so no event carries half a character.
 *
 * Linear time: {@link releasePoint} reads the held text from its end back to
 * the last break, and a caller that keeps what it learnt ({@link settled})
 * reads only text that is new since its previous call.
 */

/** Released characters a later scan must see to the left of held text (see the module comment). */
export const LOOK_BEHIND_CHARS = 64;

/** Class bits per ASCII code unit. */
const WORD = 1; // joined to any other WORD character: e-mail, wallet, IBAN, card-identifier runs
const IP_RUN = 2; // hex digits, "." and ":" - the IP address candidate run
const DIGIT = 4;
const BLOCK = 8; // a character of a printed IBAN block: digits, capitals
const SPACE_RIGHT = 16; // may stand right of a space inside a match: digits, capitals, "("
const NUMBER_MARK = 32; // read right after a number: decimal marks, "/", ":", ")" and the NHS joiners (below)
const IDENT = 64; // a word character to the IBAN detector: letters, digits, "_"

const CLASS = new Uint8Array(128);
function mark(chars: string, bits: number): void {
  for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)]! |= bits;
}
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';
mark(LOWER + UPPER + DIGITS + '._%+@-_', WORD);
mark(DIGITS + 'abcdefABCDEF.:', IP_RUN);
mark(DIGITS, DIGIT);
mark(DIGITS + UPPER, BLOCK);
mark(LOWER + UPPER + DIGITS + '_', IDENT);
mark(DIGITS + UPPER + '(', SPACE_RIGHT);
// Every character from "!" to "/", and ":". The NHS detector's group
// separators are written ' -', which asciiClass reads as the range U+0020 to
// U+002D, so for it any of !"#$%&'()*+, between two digit groups joins them;
// the others are decimal marks and "/" (continuesNumber, the card and phone
// glue checks), ")" (phone groups) and ":" (a port, a time).
mark('!"#$%&\'()*+,-./:', NUMBER_MARK);

const SPACE = 0x20;
const COLON = 0x3a;
const OPEN = 0x28;
const CLOSE = 0x29;
const HYPHEN = 0x2d;
const DOT = 0x2e;
const PLUS = 0x2b;

function cls(code: number): number {
  return code >= 0 && code < 128 ? CLASS[code]! : 0;
}

function isDigitCode(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** The code unit at i, or -1 outside the text. */
function at(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

/**
 * Whether the space at `s` may sit inside a match, judged from its left: after
 * a digit or ")" (card, phone and national-number groups), or after a block of
 * exactly four capitals or digits that starts a word (a printed IBAN's blocks
 * are four characters). Capitals alone are not enough: a long run of shouted
 * words would otherwise never break and overflow the hold.
 */
function spaceJoinsLeft(text: string, s: number): boolean {
  const left = at(text, s - 1);
  if (isDigitCode(left) || left === CLOSE) return true;
  for (let k = s - 4; k < s; k++) if (!(cls(at(text, k)) & BLOCK)) return false;
  return !(cls(at(text, s - 5)) & IDENT);
}

/**
 * Whether the last character of `text[0, end)` may be joined to a character
 * that has not arrived yet. When it cannot, nothing needs holding.
 */
function openRight(text: string, end: number): boolean {
  const a = at(text, end - 1);
  if (a >= 0xd800 && a <= 0xdbff) return true;
  const c = cls(a);
  if (c & WORD) return true;
  if (a === COLON || a === OPEN) return true;
  if (a === SPACE) return spaceJoinsLeft(text, end - 1);
  if (c & NUMBER_MARK) return isDigitCode(at(text, end - 2));
  return false;
}

/**
 * Whether text[i-1] and text[i] are joined (0 < i < end). `end` is how much
 * of the text has arrived: a space that is the last character arrived is
 * judged by its left neighbour alone.
 */
function joined(text: string, i: number, end: number): boolean {
  const a = text.charCodeAt(i - 1);
  const b = text.charCodeAt(i);
  if (a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff) return true;
  const ca = cls(a);
  const cb = cls(b);
  if (ca & cb & WORD) return true;
  if ((a === COLON || b === COLON) && ca & cb & IP_RUN) return true;
  if (b === SPACE) return spaceJoinsLeft(text, i) && (i + 1 >= end || (cls(at(text, i + 1)) & SPACE_RIGHT) !== 0);
  if (a === SPACE) return (cb & SPACE_RIGHT) !== 0 && spaceJoinsLeft(text, i - 1);
  // A mark after a digit decides a number's fate, and between digits may join groups.
  if (cb & NUMBER_MARK && ca & DIGIT) return true;
  if (ca & NUMBER_MARK && cb & DIGIT && isDigitCode(at(text, i - 2))) return true;
  // Phone groups: "(415", "415)555", "415)-555", "-(415", "+(44".
  if (a === OPEN && cb & DIGIT) return true;
  if (a === CLOSE && (cb & DIGIT || b === HYPHEN || b === DOT) && isDigitCode(at(text, i - 2))) return true;
  if (b === OPEN && (a === HYPHEN || a === DOT || a === PLUS)) return true;
  return false;
}

/**
 * How many leading UTF-16 code units of `text` may be released: everything
 * before the open candidate at its end (see the module comment); all of it
 * when `ended` (no more text will come).
 *
 * `settled` lets a caller skip work it has done: when it is k > 0, the caller
 * asserts that `text[0, k + 2)` is unchanged since a call that returned 0 for
 * it, i.e. that boundaries 1..k are known to be joined. Use {@link settled}
 * to compute it.
 */
export function releasePoint(text: string, ended: boolean, settledBoundaries = 0): number {
  const n = text.length;
  if (ended || n === 0 || !openRight(text, n)) return n;
  let i = n - 1;
  while (i > settledBoundaries && joined(text, i, n)) i--;
  return i <= settledBoundaries ? 0 : i;
}

/**
 * The `settledBoundaries` for the next {@link releasePoint} call after one
 * that returned 0 for text of this length: a boundary's judgement is final
 * once the character after its right neighbour has arrived.
 */
export function settled(heldLength: number): number {
  return Math.max(0, heldLength - 2);
}

/**
 * The largest break at or before `limit` (0 when there is none), judged with
 * all of `text` known. For callers that must release less than
 * {@link releasePoint} allows (a fixed window, a finding that crosses).
 */
export function breakAtOrBefore(text: string, limit: number): number {
  let i = Math.min(limit, text.length);
  if (i >= text.length) return releasePoint(text, false);
  while (i > 0 && joined(text, i, text.length)) i--;
  return i;
}

/**
 * Whether text[start, end) may contain a finding of any detector: every
 * match holds an ASCII digit (card, phone, SSN, NHS, ABA, the IBAN check
 * digits, the decimal digit an IP address needs, the "1", "3" or "0" of a
 * wallet) or an "@" (e-mail). Text without either needs no scan.
 */
export function mayHoldFinding(text: string, start = 0, end = text.length): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || c === 0x40) return true;
  }
  return false;
}
