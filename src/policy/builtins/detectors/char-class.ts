/**
 * ASCII character classes as lookup tables, shared by the hand-written
 * scanners. Scanners test one code unit at a time instead of using regular
 * expressions, which keeps their running time linear by construction.
 */

/** Builds a 128-entry membership table from ranges ("az") and single characters. */
export function asciiClass(...parts: string[]): Uint8Array {
  const table = new Uint8Array(128);
  for (const part of parts) {
    if (part.length === 2 && part.charCodeAt(0) < part.charCodeAt(1)) {
      for (let c = part.charCodeAt(0); c <= part.charCodeAt(1); c++) table[c] = 1;
    } else {
      for (let i = 0; i < part.length; i++) table[part.charCodeAt(i)] = 1;
    }
  }
  return table;
}

/**
 * A table of exactly the characters of `chars`, never a range: `asciiClass`
 * reads a two-character part such as ' -' as the range U+0020–U+002D.
 */
export function asciiChars(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/** True when UTF-16 code unit `code` is ASCII and in `table`. */
export function inClass(table: Uint8Array, code: number): boolean {
  return code < 128 && table[code] === 1;
}

/** Code unit of "0". */
export const DIGIT_0 = 0x30;

/** True for the ASCII digits 0-9. */
export function isDigit(code: number): boolean {
  return code >= DIGIT_0 && code <= 0x39;
}

/** ASCII letters and digits. */
export const ALNUM = asciiClass('az', 'AZ', '09');

/** ASCII letters. */
export const LETTER = asciiClass('az', 'AZ');

/** Hexadecimal digits, either case. */
export const HEX = asciiClass('09', 'af', 'AF');

/** True for ASCII letters, digits and "_": characters that glue a token to a word. */
export function isWordChar(code: number): boolean {
  return inClass(ALNUM, code) || code === 0x5f;
}

/** True when `s` is non-empty and one character repeated ("0000", "777777777"). */
export function oneCharRepeated(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 1; i < s.length; i++) if (s.charCodeAt(i) !== s.charCodeAt(0)) return false;
  return true;
}
