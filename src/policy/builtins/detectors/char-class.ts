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
