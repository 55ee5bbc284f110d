/**
 * Server-sent events (text/event-stream) parsing and writing, per the WHATWG
 * HTML "event stream interpretation": lines of `field: value`, comments
 * starting with ":", an event dispatched at a blank line, `data` lines joined
 * with "\n". Parsing is incremental and bounded; each event keeps the exact
 * bytes it arrived as, so an event the policy leaves alone is passed on byte
 * for byte.
 */
import { LineSplitter, type Line } from './lines.js';

/** One field line of an event, in order. Comments have name ":". */
export interface SseField {
  readonly name: string;
  readonly value: string;
}

/** One parsed event. */
export interface SseEvent {
  /** Every line of the event, terminators and the closing blank line included. */
  readonly raw: Buffer;
  /** Field lines in order (comments as name ":"). */
  readonly fields: readonly SseField[];
  /** The `data` lines joined with "\n"; undefined when the event has none. */
  readonly data: string | undefined;
  /** The `event` field (last one wins), if any. */
  readonly type: string | undefined;
  /** True when the event holds comment lines. */
  readonly hasComments: boolean;
}

/** Thrown for input that is not a well-formed event stream. */
export class StreamSyntaxError extends Error {
  override readonly name = 'StreamSyntaxError';
}

/** Limits of an {@link SseParser}. */
export interface SseLimits {
  /** Longest line. */
  readonly maxLineBytes: number;
  /** Largest event (all its lines). */
  readonly maxEventBytes: number;
}

// fatal: an event stream is UTF-8 by definition; bytes that are not are a
// broken or hostile upstream, and replacing them would hide what was sent.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decode(bytes: Buffer): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new StreamSyntaxError('an event stream line is not valid UTF-8');
  }
}

/** Splits one line into field name and value (one leading space of the value dropped). */
function parseField(line: string): SseField {
  if (line.startsWith(':')) return { name: ':', value: line.slice(1) };
  const colon = line.indexOf(':');
  if (colon === -1) return { name: line, value: '' };
  const value = line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
  return { name: line.slice(0, colon), value };
}

/** Incremental event-stream parser. */
export class SseParser {
  readonly #lines: LineSplitter;
  readonly #maxEventBytes: number;
  #raw: Buffer[] = [];
  #rawBytes = 0;
  #fields: SseField[] = [];
  #first = true;

  constructor(limits: SseLimits) {
    this.#lines = new LineSplitter('sse', limits.maxLineBytes);
    this.#maxEventBytes = limits.maxEventBytes;
  }

  /** Bytes held for an event not yet complete. */
  get pendingBytes(): number {
    return this.#rawBytes + this.#lines.pendingBytes;
  }

  /**
   * Feeds a chunk; returns the events it completes.
   * @throws StreamSyntaxError, or LineTooLongError for a line over the limit.
   */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    for (const line of this.#lines.push(chunk)) this.#line(line, events);
    return events;
  }

  /**
   * Ends the input. An event without its closing blank line is discarded, as
   * the standard says; it is returned so the caller can tell (it is never to
   * be passed on: a client following the standard would ignore it too).
   */
  end(): { events: SseEvent[]; discarded: boolean } {
    const events: SseEvent[] = [];
    const last = this.#lines.end();
    if (last !== undefined) this.#line(last, events);
    const discarded = this.#fields.length > 0 || this.#rawBytes > 0;
    this.#raw = [];
    this.#rawBytes = 0;
    this.#fields = [];
    return { events, discarded };
  }

  #line(line: Line, events: SseEvent[]): void {
    this.#raw.push(line.raw);
    this.#rawBytes += line.raw.length;
    if (this.#rawBytes > this.#maxEventBytes) throw new StreamSyntaxError(`an event exceeds ${this.#maxEventBytes} bytes`);
    let text = decode(line.text);
    // A byte order mark may open the stream, and only there.
    if (this.#first) {
      this.#first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.length > 0) {
      this.#fields.push(parseField(text));
      return;
    }
    const raw = Buffer.concat(this.#raw, this.#rawBytes);
    const fields = this.#fields;
    this.#raw = [];
    this.#rawBytes = 0;
    this.#fields = [];
    let data: string | undefined;
    let type: string | undefined;
    let hasComments = false;
    for (const f of fields) {
      if (f.name === 'data') data = data === undefined ? f.value : `${data}\n${f.value}`;
      else if (f.name === 'event') type = f.value;
      else if (f.name === ':') hasComments = true;
    }
    events.push({ raw, fields, data, type, hasComments });
  }
}

/**
 * Writes an event back out with `data` replaced: other fields keep their order
 * and value, comments are dropped (they are not part of what clients read, and
 * an upstream could hide anything in them), and the data becomes one line at
 * the place of the first data line. `data` must not contain CR or LF
 * (JSON.stringify output never does).
 */
export function serializeSse(event: SseEvent, data: string | undefined): Buffer {
  let out = '';
  let wroteData = false;
  for (const f of event.fields) {
    if (f.name === ':') continue;
    if (f.name === 'data') {
      if (!wroteData && data !== undefined) out += `data: ${data}\n`;
      wroteData = true;
      continue;
    }
    out += `${f.name}: ${f.value}\n`;
  }
  if (!wroteData && data !== undefined) out += `data: ${data}\n`;
  // A comment-only event (a keep-alive) stays a comment, now an empty one.
  if (out === '' && event.hasComments) out = ':\n';
  return Buffer.from(`${out}\n`, 'utf8');
}

/** Formats a new event from scratch (for the proxy's own error events). */
export function formatSse(data: string, type?: string): Buffer {
  return Buffer.from(`${type === undefined ? '' : `event: ${type}\n`}data: ${data}\n\n`, 'utf8');
}
