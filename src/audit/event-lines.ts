/**
 * The `event` records of one batch (docs/audit.md, "File format"), written
 * into one buffer as they are chained: each event's JSON text (UTF-8, as
 * `record()` encoded it) is copied in, hashed from those bytes, and the
 * buffer is what the file sink appends. No line strings are built, joined,
 * measured and encoded again.
 *
 * The chain hash is wire/audit-log.ts `chainHash`: SHA-256 over
 * `prev "\n" seq "\n"` and the event's text. The record's head
 * (`{"type":"event","seq":N,"hash":"<64 hex>","event":`) is longer than that
 * prefix, so the prefix is written into the head's place, right before the
 * event's bytes, hashed together with them in one call, and then
 * overwritten by the head, which holds the hash.
 *
 * Everything but the hash itself is a copy of bytes already at hand: the
 * previous hash from the record before (a 64-byte move; as a string only for
 * the batch's first event), the head's fixed text from buffers made once, the
 * sequence number and the new hash's hex digit by digit. Each of those was a
 * string write through `Buffer#write` (some 60 ns apiece); together they cost
 * two thirds as much as hashing the kilobyte of the event.
 */
import { hash } from 'node:crypto';
import { asciiBytes, HEX_DIGITS, JsonBytes, type ByteSink } from './json-bytes.js';

/** Where an event record is in the batch's bytes. */
export interface LinedEvent {
  readonly seq: number;
  /** Chain hash after this event, hex. */
  readonly hash: string;
  /** Byte offsets of the event's JSON text (what the hash covers) in {@link EventLines.bytes}. */
  readonly start: number;
  readonly end: number;
}

const SEQ_OPEN = asciiBytes('{"type":"event","seq":');
const HASH_OPEN = asciiBytes(',"hash":"');
const EVENT_OPEN = asciiBytes('","event":');
const HASH_HEX = 64;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;

/** Decimal digits of a sequence number (a positive safe integer). */
function digitCount(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  return digits;
}

/** Writes `n` in decimal so that its last digit is right before `end`. */
function writeDigits(buf: Buffer, end: number, n: number): void {
  let at = end;
  let rest = n;
  while (rest >= 10) {
    const tens = Math.floor(rest / 10);
    buf[--at] = DIGIT_0 + rest - tens * 10;
    rest = tens;
  }
  buf[--at] = DIGIT_0 + rest;
}

export class EventLines {
  #buf: Buffer;
  #at = 0;
  /** The first event's sequence number: the batch's are consecutive. */
  #firstSeq = 0;
  /** Offset of each event's JSON text, and of its end, in `#buf`. */
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  /** The chain hash before the first event, hex; after it, the last event's hash is read from the buffer. */
  readonly #prev: string;
  #events: LinedEvent[] | undefined;

  /**
   * `prev`: the chain hash before this batch (64 hex digits). `bytes`: the
   * expected size; the buffer grows when needed. `spare`: the buffer of an
   * earlier batch that its sinks are done with, used when it is large enough.
   * A fresh buffer of a few hundred KiB per batch costs a page fault per 4 KiB
   * the first time it is written; a reused one is already mapped.
   */
  constructor(prev: string, bytes: number, spare?: Buffer) {
    // The prefix written into the head's room fits only for a 64-digit previous hash (SHA-256, hex).
    if (prev.length !== HASH_HEX) throw new Error(`decision log chain: previous hash of ${prev.length} characters`);
    this.#prev = prev;
    const size = Math.max(bytes, 1024);
    this.#buf = spare !== undefined && spare.length >= size ? spare : Buffer.allocUnsafe(size);
  }

  /** Events appended. */
  get count(): number {
    return this.#starts.length;
  }

  /**
   * Appends the record of event `seq` (the first one's, or the one after the
   * last) with JSON text `source[start..end)` (UTF-8), chained on the hash
   * before it. The text is copied from `source` without a view made per event.
   */
  append(seq: number, source: Buffer, start = 0, end = source.length): void {
    const count = this.#starts.length;
    if (count === 0) this.#firstSeq = seq;
    else if (seq !== this.#firstSeq + count) throw new Error(`decision log chain: event ${seq} after ${this.#firstSeq + count - 1}`);
    const digits = digitCount(seq);
    const length = end - start;
    const headLength = SEQ_OPEN.length + digits + HASH_OPEN.length + HASH_HEX + EVENT_OPEN.length;
    this.#reserve(headLength + length + 2);
    const buf = this.#buf;
    const recordStart = this.#at;
    const jsonStart = recordStart + headLength;
    source.copy(buf, jsonStart, start, end);
    const jsonEnd = jsonStart + length;
    // The prefix `prev \n seq \n`, all ASCII, in the head's room right before the text.
    const prefixStart = jsonStart - (HASH_HEX + digits + 2);
    if (count === 0) buf.write(this.#prev, prefixStart, 'latin1');
    else {
      const prevHash = this.#starts[count - 1]! - EVENT_OPEN.length - HASH_HEX;
      buf.copyWithin(prefixStart, prevHash, prevHash + HASH_HEX);
    }
    buf[prefixStart + HASH_HEX] = NEWLINE;
    writeDigits(buf, jsonStart - 1, seq);
    buf[jsonStart - 1] = NEWLINE;
    // The digest's 32 bytes as a one-byte string (no hex string made and then copied): its hex goes straight into the head.
    const digest = hash('sha256', buf.subarray(prefixStart, jsonEnd), 'binary');
    // The head over the prefix: {"type":"event","seq":N,"hash":"<digest>","event":
    buf.set(SEQ_OPEN, recordStart);
    let at = recordStart + SEQ_OPEN.length + digits;
    writeDigits(buf, at, seq);
    buf.set(HASH_OPEN, at);
    at += HASH_OPEN.length;
    for (let i = 0; i < 32; i += 1) {
      const byte = digest.charCodeAt(i);
      buf[at++] = HEX_DIGITS[byte >> 4]!;
      buf[at++] = HEX_DIGITS[byte & 15]!;
    }
    buf.set(EVENT_OPEN, at);
    buf[jsonEnd] = CLOSE_BRACE;
    buf[jsonEnd + 1] = NEWLINE;
    this.#at = jsonEnd + 2;
    this.#starts.push(jsonStart);
    this.#ends.push(jsonEnd);
  }

  /** The chain hash after the last event (before the first, when there is none), hex. */
  get head(): string {
    const count = this.#starts.length;
    return count === 0 ? this.#prev : this.#hashAt(count - 1);
  }

  /** Each event's place in the chain and in {@link bytes}; made when first asked for (the HTTP sink asks). */
  get events(): readonly LinedEvent[] {
    if (this.#events === undefined) {
      this.#events = this.#starts.map((start, i) => ({ seq: this.#firstSeq + i, hash: this.#hashAt(i), start, end: this.#ends[i]! }));
    }
    return this.#events;
  }

  #hashAt(i: number): string {
    const at = this.#starts[i]! - EVENT_OPEN.length - HASH_HEX;
    return this.#buf.toString('latin1', at, at + HASH_HEX);
  }

  /** The records so far, one per line, each ending in "\n". */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }

  /** The whole buffer, for a later batch to reuse once nothing reads these records any more. */
  get buffer(): Buffer {
    return this.#buf;
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(grown, 0, 0, this.#at);
    this.#buf = grown;
  }
}

const PENDING_START_BYTES = 256 * 1024;
/** A waiting-events buffer larger than this is let go once it empties (after a burst or a long sink outage). */
const PENDING_KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Events waiting for their batch: their JSON texts, UTF-8, back to back in
 * one buffer that is reused from batch to batch. Each event is written
 * straight into it (json-bytes.ts); a buffer or a string per event would be
 * an allocation, and an object per waiting event for the garbage collector
 * to move.
 */
export class PendingEvents {
  #buf: Buffer = Buffer.allocUnsafe(PENDING_START_BYTES);
  /** End offset of each waiting event, from index `#first`; an event starts where the one before it ends. */
  #ends: number[] = [];
  #first = 0;
  /** Where the first waiting event starts, and where the next one goes. */
  #start = 0;
  #at = 0;

  get length(): number {
    return this.#ends.length - this.#first;
  }

  /** Lets a writer grow the buffer without losing the event it is writing (bytes `#at`..`at`). */
  readonly #sink: ByteSink = { grow: (at: number, need: number) => this.#grow(at, need) };
  /** The one writer, set up anew by each {@link begin}: no writer object or closure per event. */
  readonly #writer = new JsonBytes(this.#buf, 0, this.#sink);

  /**
   * The writer for the next event, positioned after the waiting ones. The
   * event counts once {@link commit} is called; an event whose writing throws
   * before that is not added (the next `begin` starts over where it started).
   */
  begin(): JsonBytes {
    const w = this.#writer;
    w.buf = this.#buf;
    w.at = this.#at;
    return w;
  }

  /** Adds the event written since {@link begin}. */
  commit(w: JsonBytes): void {
    // The buffer may have grown (and moved) while the event was written.
    this.#buf = w.buf;
    this.#at = w.at;
    this.#ends.push(this.#at);
  }

  /** Adds the event `write` writes (begin, write, commit); when `write` throws, nothing is added and the error goes to the caller. */
  pushWith(write: (w: JsonBytes) => void): void {
    const w = this.begin();
    write(w);
    this.commit(w);
  }

  /** Forgets the oldest `n` events (drop-oldest); returns how many went. */
  drop(n: number): number {
    const k = Math.min(n, this.length);
    if (k > 0) this.#start = this.#ends[this.#first + k - 1]!;
    this.#first += k;
    this.#settle();
    return k;
  }

  /** Hands the oldest `n` events to `each` (their bytes are `buf[start..end)`), in order, and forgets them; the bytes are valid only during the call. */
  take(n: number, each: (buf: Buffer, start: number, end: number) => void): void {
    const k = Math.min(n, this.length);
    for (let i = 0; i < k; i += 1) {
      const end = this.#ends[this.#first]!;
      each(this.#buf, this.#start, end);
      this.#start = end;
      this.#first += 1;
    }
    this.#settle();
  }

  /** Starts over at the front once nothing waits. */
  #settle(): void {
    if (this.length > 0) return;
    this.#ends = [];
    this.#first = 0;
    this.#start = 0;
    this.#at = 0;
    if (this.#buf.length > PENDING_KEEP_BYTES) this.#buf = Buffer.allocUnsafe(PENDING_START_BYTES);
  }

  /**
   * Room for `n` bytes after `end`, the end of the event being written
   * (which starts at `#at`): what still waits, up to `end`, moves to the
   * front, of a bigger buffer if that is not enough. Returns the buffer and
   * where `end` went.
   */
  #grow(end: number, n: number): { buf: Buffer; at: number } {
    const waiting = end - this.#start;
    const target = waiting + n <= this.#buf.length && this.#start > 0 ? this.#buf : Buffer.allocUnsafe(Math.max(this.#buf.length * 2, waiting + n));
    this.#buf.copy(target, 0, this.#start, end);
    const shift = this.#start;
    const ends = this.#ends.slice(this.#first).map((e) => e - shift);
    this.#buf = target;
    this.#ends = ends;
    this.#first = 0;
    this.#start = 0;
    this.#at -= shift;
    return { buf: target, at: end - shift };
  }
}
