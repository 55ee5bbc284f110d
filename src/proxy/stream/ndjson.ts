/**
 * Newline-delimited JSON (application/x-ndjson, as Ollama streams it): one
 * JSON value per LF-terminated line. Incremental and bounded like sse.ts.
 */
import { LineSplitter } from './lines.js';
import { StreamSyntaxError } from './sse.js';

/** One line of an NDJSON stream. */
export interface NdjsonLine {
  /** The line with its terminator, exactly as received. */
  readonly raw: Buffer;
  /** The line's text without terminator or trailing CR; "" for a blank line. */
  readonly text: string;
  /** False for a last line the stream ended without terminating. */
  readonly terminated: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Incremental NDJSON line parser (JSON parsing is the caller's). */
export class NdjsonParser {
  readonly #lines: LineSplitter;

  constructor(maxLineBytes: number) {
    this.#lines = new LineSplitter('lf', maxLineBytes);
  }

  /** Bytes held for a line not yet complete. */
  get pendingBytes(): number {
    return this.#lines.pendingBytes;
  }

  /**
   * Feeds a chunk; returns the lines it completes.
   * @throws StreamSyntaxError for bytes that are not UTF-8, LineTooLongError for a line over the limit.
   */
  push(chunk: Uint8Array): NdjsonLine[] {
    return this.#lines.push(chunk).map((line) => ({ raw: line.raw, text: decodeLine(line.text), terminated: true }));
  }

  /** Ends the input; the unterminated last line, if any, is still a line. */
  end(): NdjsonLine[] {
    const last = this.#lines.end();
    return last === undefined ? [] : [{ raw: last.raw, text: decodeLine(last.text), terminated: false }];
  }
}

function decodeLine(bytes: Buffer): string {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new StreamSyntaxError('an NDJSON line is not valid UTF-8');
  }
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}
