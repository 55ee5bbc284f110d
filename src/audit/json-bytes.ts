/**
 * JSON text written as UTF-8 bytes straight into a buffer, for the decision
 * log's usual event (event-json.ts `writeUsualEvent`). Building the event as
 * a JS string costs a rope of some sixty pieces, its flattening, a UTF-8
 * encoding and the garbage of all three, on every request; this writer copies
 * each character once. What it writes is byte for byte
 * `Buffer.from(JSON.stringify(value))` (test/unit/audit/json-bytes.test.ts):
 * printable ASCII strings are copied as they are, anything else goes through
 * `JSON.stringify` itself, as do values that are not plain data (a `toJSON`,
 * a class instance, a BigInt, a cycle).
 */

/** ASCII text as bytes made once: fixed pieces of JSON that writers copy rather than write a character at a time. */
export const asciiBytes = (text: string): Buffer => Buffer.from(text, 'latin1');
/** The hex digits' bytes, by value (0–15). */
export const HEX_DIGITS = asciiBytes('0123456789abcdef');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30;
/**
 * 1 for the characters a JSON string holds as they are: printable ASCII but
 * the quote and the backslash. One table look-up per character instead of
 * four comparisons; the strings of an event are some 400 characters.
 */
const VERBATIM = new Uint8Array(0x80);
for (let c = 0x20; c < 0x7f; c += 1) VERBATIM[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;
/** Past this nesting a value is handed to JSON.stringify whole (which also reports a cycle). */
const MAX_DEPTH = 24;

/** Where a writer's bytes go: a buffer it may ask to grow. */
export interface ByteSink {
  /**
   * Room for `need` more bytes after `at`: a buffer holding what was
   * written so far and where it now ends (the bytes may have moved).
   */
  grow(at: number, need: number): { readonly buf: Buffer; readonly at: number };
}

export class JsonBytes {
  buf: Buffer;
  at: number;
  readonly #sink: ByteSink;
  /** How far what was written has moved towards the front as the buffer grew (a sink may drop what is before it). */
  #moved = 0;

  constructor(buf: Buffer, at: number, sink: ByteSink) {
    this.buf = buf;
    this.at = at;
    this.#sink = sink;
  }

  #room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = this.#sink.grow(this.at, n);
    this.#moved += this.at - grown.at;
    this.buf = grown.buf;
    this.at = grown.at;
  }

  /**
   * The current position as a mark that stays right when the buffer grows
   * and its bytes move: what {@link offsetOf} and {@link rewind} take. A
   * plain offset kept across a write can point past the bytes it meant.
   */
  mark(): number {
    return this.at + this.#moved;
  }

  /** Where a {@link mark} is in `buf` now. */
  offsetOf(mark: number): number {
    return mark - this.#moved;
  }

  /** A copy of what was written since `mark` (to be written again later from memory). */
  copySince(mark: number): Buffer {
    return Buffer.from(this.buf.subarray(this.offsetOf(mark), this.at));
  }

  /** Takes back what was written since `mark`. */
  rewind(mark: number): void {
    this.at = mark - this.#moved;
  }

  /** Bytes already encoded (a cached fragment). */
  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /** Text known to be printable ASCII that needs no escaping (member names of our own, numbers). */
  ascii(text: string): void {
    this.#room(text.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < text.length; i += 1) buf[at++] = text.charCodeAt(i);
    this.at = at;
  }

  /** JSON text of any content, UTF-8 encoded. */
  text(json: string): void {
    this.#room(json.length * 3);
    this.at += this.buf.write(json, this.at, 'utf8');
  }

  /** A string as a JSON string. */
  string(s: string): void {
    this.#room(s.length + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = QUOTE;
    for (let i = 0; i < s.length; i += 1) {
      const c = s.charCodeAt(i);
      // Control characters, quotes, backslashes and anything beyond ASCII: JSON.stringify's own escaping and UTF-8.
      if (c > 0x7e || VERBATIM[c] === 0) return this.text(JSON.stringify(s));
      buf[at++] = c;
    }
    buf[at++] = QUOTE;
    this.at = at;
  }

  /** A number as JSON writes it (non-finite ones become null). */
  number(n: number): void {
    // Sizes, statuses and durations in ns: their digits straight into the buffer, no string on the way.
    if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) this.#uint(n);
    else this.ascii(numberJson(n));
  }

  /** An integer from 0 to 2^31 - 1, in decimal (0 for -0, as JSON writes it). */
  #uint(n: number): void {
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    this.#room(digits);
    const buf = this.buf;
    let at = this.at + digits;
    this.at = at;
    let rest = n | 0;
    while (rest >= 10) {
      const tens = (rest / 10) | 0;
      buf[--at] = DIGIT_0 + rest - tens * 10;
      rest = tens;
    }
    buf[--at] = DIGIT_0 + rest;
  }

  byte(b: number): void {
    this.#room(1);
    this.buf[this.at++] = b;
  }

  /** `"name":` for a member name. */
  key(name: string): void {
    this.string(name);
    this.byte(COLON);
  }

  /**
   * `value` as JSON.stringify writes it; false (nothing written) where
   * JSON.stringify gives undefined (undefined, a function, a symbol).
   * Throws where it throws.
   */
  value(value: unknown, depth = 0): boolean {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return true;
      case 'number':
        this.number(value);
        return true;
      case 'boolean':
        this.ascii(value ? 'true' : 'false');
        return true;
      case 'object':
        if (value === null) {
          this.ascii('null');
          return true;
        }
        return this.#object(value, depth);
      default: {
        const json = JSON.stringify(value);
        if (json === undefined) return false;
        this.text(json);
        return true;
      }
    }
  }

  #object(value: object, depth: number): boolean {
    const proto: unknown = Object.getPrototypeOf(value);
    const isArray = Array.isArray(value);
    if (depth >= MAX_DEPTH || (isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      const json = JSON.stringify(value);
      if (json === undefined) return false;
      this.text(json);
      return true;
    }
    if (isArray) {
      const list = value as readonly unknown[];
      this.byte(OPEN_BRACKET);
      for (let i = 0; i < list.length; i += 1) {
        if (i > 0) this.byte(COMMA);
        if (!this.value(list[i], depth + 1)) this.ascii('null');
      }
      this.byte(CLOSE_BRACKET);
      return true;
    }
    this.byte(OPEN_BRACE);
    let first = true;
    for (const key of Object.keys(value)) {
      const start = this.mark();
      if (!first) this.byte(COMMA);
      this.key(key);
      if (this.value((value as Record<string, unknown>)[key], depth + 1)) first = false;
      // A member JSON leaves out: take back its name.
      else this.rewind(start);
    }
    this.byte(CLOSE_BRACE);
    return true;
  }
}

/** A number as JSON writes it (non-finite ones become null). */
export function numberJson(n: number): string {
  // Integers within 32 bits (durations in ns up to 2 s, statuses) go through the small-integer path.
  if ((n | 0) === n) return String(n | 0);
  return Number.isFinite(n) ? String(n) : 'null';
}
