/**
 * Deterministic text embeddings for the demo `/v1/embeddings` endpoint: a
 * signed, hashed bag of words, L2-normalised.
 *
 * Not a semantic model, but it has the properties a demo needs: the same text
 * always maps to the same vector, texts sharing words have a positive cosine
 * similarity, and the vectors look like real embeddings to a client (fixed
 * dimension, unit length).
 */

/** Default (and maximum) embedding dimension. */
export const EMBEDDING_DIMENSIONS = 64;

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Murmur3's finaliser: decorrelates the sign bit from the bucket index, which
// both come from the same FNV hash.
function mix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Lower-cased letter/digit runs; the unit the bag of words counts. */
export function tokenize(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * Embeds one text. Each token adds ±1 to one bucket; the random sign keeps
 * hash collisions from systematically inflating similarity. Text without any
 * letters or digits (e.g. "?!") is hashed as a single token so that every
 * non-empty input still gets a unit vector.
 */
export function embed(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const tokens = tokenize(text);
  if (tokens.length === 0) tokens.push(text.trim());
  for (const token of tokens) {
    const h = fnv1a(token);
    const sign = (mix(h) & 0x80000000) === 0 ? 1 : -1;
    vector[h % dimensions] = (vector[h % dimensions] ?? 0) + sign;
  }
  const norm = Math.hypot(...vector);
  if (norm === 0) {
    // Every token cancelled out in its bucket (e.g. two tokens of opposite
    // sign colliding): fall back to a one-hot vector so the result stays unit.
    vector[fnv1a(text) % dimensions] = 1;
    return vector;
  }
  return vector.map((v) => v / norm + 0);
}

/** Encodes a vector as little-endian float32 bytes in base64 (OpenAI's `encoding_format: "base64"`). */
export function toBase64Float32(vector: readonly number[]): string {
  const bytes = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((v, i) => bytes.setFloat32(i * 4, v, true));
  return Buffer.from(bytes.buffer).toString('base64');
}
