/**
 * Splits a byte stream into lines, whatever the chunking. Works on bytes, not
 * strings: CR and LF are ASCII and never occur inside a multi-byte UTF-8
 * sequence, so cutting at them never splits a character, and each line is
 * decoded once it is complete (a chunk boundary inside "é" is harmless).
 */

/** Line terminators a splitter accepts. */
export type LineEndings = 'sse' | 'lf';

/** One complete line. */
export interface Line {
  /** The line without its terminator. */
  readonly text: Buffer;
  /** The line with its terminator, exactly as received. */
  readonly raw: Buffer;
  /** False only for a last line the input ended without terminating. */
  readonly terminated?: boolean;
}

/** Thrown when a single line grows past the limit. */
export class LineTooLongError extends Error {
  override readonly name = 'LineTooLongError';
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Incremental line splitter. `sse` accepts CRLF, LF and a lone CR (the
 * event-stream grammar); `lf` splits on LF only, and a CR before it stays in
 * `text` for the caller to trim (NDJSON).
 */
export class LineSplitter {
  readonly #endings: LineEndings;
  readonly #maxLineBytes: number;
  /** Bytes of the incomplete last line. */
  #partial: Buffer = Buffer.alloc(0);
  constructor(endings: LineEndings, maxLineBytes: number) {
    this.#endings = endings;
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#partial.length;
  }

  /**
   * Feeds a chunk and returns the lines it completes.
   * @throws LineTooLongError when a line exceeds the limit.
   */
  push(chunk: Uint8Array, out: Line[] = []): Line[] {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#partial.length > 0) data = Buffer.concat([this.#partial, data]);
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (b === LF) {
        out.push({ text: data.subarray(start, i), raw: data.subarray(start, i + 1) });
        start = i + 1;
      } else if (b === CR && this.#endings === 'sse') {
        // A CR that ends the chunk may be the first half of a CRLF: keep it
        // with the partial line until the next byte says which it is, so the
        // raw bytes passed on keep the upstream's own line endings.
        if (i + 1 === data.length) break;
        const crlf = data[i + 1] === LF;
        out.push({ text: data.subarray(start, i), raw: data.subarray(start, i + (crlf ? 2 : 1)) });
        if (crlf) i++;
        start = i + 1;
      }
    }
    // Copy: the partial line must not pin the caller's (possibly large) chunk.
    this.#partial = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
    if (this.#partial.length > this.#maxLineBytes) throw new LineTooLongError(`a line exceeds ${this.#maxLineBytes} bytes`);
    return out;
  }

  /** Ends the input; returns what is left of the last line, if anything. */
  end(): Line | undefined {
    const rest = this.#partial;
    this.#partial = Buffer.alloc(0);
    if (rest.length === 0) return undefined;
    // A deferred CR is a complete line ending after all.
    if (this.#endings === 'sse' && rest[rest.length - 1] === CR) return { text: rest.subarray(0, -1), raw: rest, terminated: true };
    return { text: rest, raw: rest, terminated: false };
  }
}
