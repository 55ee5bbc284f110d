/**
 * The streaming response policy: upstream bytes in, client bytes out, one
 * event at a time, holding back per text channel only the text that could
 * still become a PII match (holdback.ts; in prose, the last word).
 *
 * For every upstream event (an SSE event or an NDJSON line):
 * 1. its assistant text (adapters.ts) is appended to the channel's window and
 *    every other string in it is scanned on the spot;
 * 2. whatever is now decided is committed and, if it may hold PII, scanned
 *    (holdback.ts);
 * 3. if there are findings, the response decision is asked about them
 *    (`input.event`); a deny or a failure ends the stream with the protocol's
 *    error event and nothing held is released;
 * 4. committed text is redacted as the decision says and written back into the
 *    events it came from - the placeholder in the event where the span starts;
 * 5. events leave in arrival order once all their text is committed, so an
 *    event without text never overtakes held text (for OpenAI chat and
 *    Ollama a text event may overtake held text of *another* channel; see
 *    #release). Untouched events leave as the exact bytes that came in;
 *    changed ones are re-serialised.
 *
 * This class is synchronous and knows no streams: stream.ts wraps it with
 * backpressure. It fails closed: unparseable events, invalid UTF-8, oversized
 * events and an overflowing window end the stream with an error event.
 */
import type { ErrorCode } from '../../errors.js';
import type { Decision } from '../../policy/decision.js';
import type { StreamEventInput, StreamFinding, StreamProtocol } from '../../policy/input.js';
import { REDACTED_KEY_TOKEN, scanPii, type PiiFinding } from '../../policy/builtins/pii.js';
import { parseRedactions, placeholder, redactJson, RedactionError, type Redaction } from '../redact.js';
import { closedChannels, errorEvent, protocolFromEvent, textSlots, type TextSlot } from './adapters.js';
import { HoldbackOverflowError, HoldbackWindow, type Commit } from './holdback.js';
import { LineTooLongError } from './lines.js';
import { NdjsonParser, type NdjsonLine } from './ndjson.js';
import { serializeSse, SseParser, StreamSyntaxError, type SseEvent } from './sse.js';

/** Wire format of a stream. */
export type StreamFormat = 'sse' | 'ndjson';

/**
 * Default fixed window in UTF-16 code units held on top of the open candidate
 * (holdback.ts): none, text leaves as soon as it is decided (docs/streaming.md).
 */
export const DEFAULT_WINDOW_CHARS = 0;
/** Default cap on one channel's held text without a safe break. */
export const DEFAULT_MAX_HOLD_CHARS = 4096;
/** Default cap on one event, and on the bytes of events waiting for held text. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/** Options of a {@link StreamPolicy}. */
export interface StreamPolicyOptions {
  readonly format: StreamFormat;
  /** Protocol guessed from the request path; events can refine an 'unknown'. */
  readonly protocol: StreamProtocol;
  readonly requestId: string;
  /** Asks the response decision about findings; must not throw. */
  readonly decide: (event: StreamEventInput) => Decision;
  /** Characters always held on top of the open candidate (default 0; holdback.ts). */
  readonly windowChars?: number;
  readonly maxHoldChars?: number;
  readonly maxEventBytes?: number;
  /** Bytes of events that may wait behind held text. Default: maxEventBytes. */
  readonly maxQueuedBytes?: number;
}

/** How a stream ended, for logs and metrics. */
export interface StreamOutcome {
  readonly code: ErrorCode | 'ok';
  readonly decision: 'allow' | 'deny' | 'error';
  readonly reasons: readonly string[];
  /** Spans replaced by placeholders over the whole stream. */
  readonly redactions: number;
}

/** A text field of a queued event and what it will say once released. */
interface SlotRef {
  readonly channel: Channel;
  readonly tokens: readonly (string | number)[];
  readonly original: string;
  /** Channel offsets of this field's text. */
  readonly start: number;
  readonly end: number;
  /** Redacted text built up as commits cover [start, end). */
  out: string;
}

interface Channel {
  readonly id: string;
  readonly window: HoldbackWindow;
  /** Slots not yet fully committed, in channel order. */
  readonly open: SlotRef[];
}

interface Queued {
  readonly raw: Buffer;
  readonly json: unknown;
  readonly sse: SseEvent | undefined;
  readonly slots: readonly SlotRef[];
  dirty: boolean;
}

/** A stream-ending condition. */
class StreamStop extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly decision: 'deny' | 'error',
    readonly reasons: readonly string[],
    message: string,
  ) {
    super(message);
  }
}

/** Scan results kept per stream (strings repeated across events); cleared when full. */
const SCAN_CACHE_ENTRIES = 256;
/** Longer strings are scanned every time rather than kept. */
const SCAN_CACHE_MAX_STRING = 256;

/** Prefix of text-channel paths in findings and redactions. */
const CHANNEL_PREFIX = 'stream:';

/** RFC 6901 pointer of reference tokens. */
function pointer(tokens: readonly (string | number)[]): string {
  return tokens.map((t) => `/${String(t).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function setAt(root: unknown, tokens: readonly (string | number)[], value: string): void {
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < tokens.length - 1; i++) node = node[tokens[i]!] as Record<string | number, unknown>;
  node[tokens[tokens.length - 1]!] = value;
}

/** The streaming policy of one response. */
export class StreamPolicy {
  readonly #o: StreamPolicyOptions;
  readonly #sse: SseParser | undefined;
  readonly #ndjson: NdjsonParser | undefined;
  readonly #channels = new Map<string, Channel>();
  readonly #queue: Queued[] = [];
  readonly #windowChars: number;
  readonly #maxHoldChars: number;
  readonly #maxQueuedBytes: number;
  #queuedBytes = 0;
  readonly #scanCache = new Map<string, readonly PiiFinding[]>();
  #protocol: StreamProtocol;
  #index = 0;
  #redactions = 0;
  #finished = false;
  #outcome: StreamOutcome = { code: 'ok', decision: 'allow', reasons: [], redactions: 0 };

  constructor(options: StreamPolicyOptions) {
    this.#o = options;
    this.#protocol = options.protocol;
    this.#windowChars = options.windowChars ?? DEFAULT_WINDOW_CHARS;
    this.#maxHoldChars = options.maxHoldChars ?? DEFAULT_MAX_HOLD_CHARS;
    const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? maxEventBytes;
    if (options.format === 'sse') this.#sse = new SseParser({ maxLineBytes: maxEventBytes, maxEventBytes });
    else this.#ndjson = new NdjsonParser(maxEventBytes);
    // Validates the window options now rather than at the first text.
    new HoldbackWindow({ windowChars: this.#windowChars, maxHoldChars: this.#maxHoldChars });
  }

  /** True once the stream has ended (normally or with an error event). */
  get finished(): boolean {
    return this.#finished;
  }

  /** How the stream went so far. */
  get outcome(): StreamOutcome {
    return { ...this.#outcome, redactions: this.#redactions };
  }

  /** Bytes the policy holds: queued events plus incomplete input. */
  get bufferedBytes(): number {
    return this.#queuedBytes + (this.#sse?.pendingBytes ?? this.#ndjson?.pendingBytes ?? 0);
  }

  /** Feeds upstream bytes; returns what may go to the client now. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.#finished) return [];
    const out: Buffer[] = [];
    try {
      if (this.#sse) for (const event of this.#sse.push(chunk)) this.#event(event.data, event, event.raw, out);
      else for (const line of this.#ndjson!.push(chunk)) this.#line(line, out);
    } catch (err) {
      this.#stop(err, out);
    }
    return out;
  }

  /** Ends the upstream stream; returns the rest for the client. */
  end(): Buffer[] {
    if (this.#finished) return [];
    const out: Buffer[] = [];
    try {
      if (this.#sse) {
        // An event left without its blank line is dropped, never released.
        for (const event of this.#sse.end().events) this.#event(event.data, event, event.raw, out);
      } else {
        for (const line of this.#ndjson!.end()) this.#line(line, out);
      }
      this.#commitAndDecide(new Map([...this.#channels.values()].map((c) => [c, true])), [], undefined);
      this.#release(out);
      if (this.#queue.length > 0) throw new Error('events left after the final commit');
      this.#finished = true;
    } catch (err) {
      this.#stop(err, out);
    }
    return out;
  }

  #line(line: NdjsonLine, out: Buffer[]): void {
    if (line.text.trim() === '') {
      this.#enqueue({ raw: line.raw, json: undefined, sse: undefined, slots: [], dirty: false }, out);
      return;
    }
    this.#event(line.text, undefined, line.terminated ? line.raw : Buffer.concat([line.raw, Buffer.from('\n')]), out);
  }

  /** Handles one event whose payload is `data` (undefined: an SSE event without data). */
  #event(data: string | undefined, sse: SseEvent | undefined, raw: Buffer, out: Buffer[]): void {
    const index = this.#index++;
    let json: unknown;
    const payload = data !== undefined && data.trim() !== '' && data !== '[DONE]';
    if (payload) {
      try {
        json = JSON.parse(data);
      } catch {
        throw new StreamStop('EG_UPSTREAM_INVALID_JSON', 'error', ['stream_event_unparseable'], 'the model server sent a stream event that is not JSON');
      }
      if (this.#protocol === 'unknown') this.#protocol = protocolFromEvent(json, this.#o.format) ?? 'unknown';
    }
    const slots: SlotRef[] = [];
    const touched = new Map<Channel, boolean>();
    const eventFindings: StreamFinding[] = [];
    if (payload) {
      const found = textSlots(json);
      const slotPaths = new Set(found.map((s) => pointer(s.tokens)));
      for (const slot of found) slots.push(this.#append(slot, touched));
      // Strings that are not streamed text are complete within this event.
      this.#scanEvent(json, slotPaths, eventFindings);
    }
    const closes = closedChannels(json, data);
    for (const channel of this.#channels.values()) {
      const closed = closes === 'all' || closes.some((p) => channel.id === p || (p.endsWith('.') && channel.id.startsWith(p)));
      if (closed) touched.set(channel, true);
    }
    const queued: Queued = { raw, json, sse, slots, dirty: sse?.hasComments ?? false };
    this.#commitAndDecide(touched, eventFindings, queued, index);
    this.#enqueue(queued, out);
  }

  /**
   * Scans every string value and key of an event except the text slots. Most
   * of them (ids, model names, object types, key names) repeat in every event
   * of a stream, so results are cached per stream by string: a repeat costs a
   * map lookup instead of a pass of every detector.
   */
  #scanEvent(json: unknown, skip: ReadonlySet<string>, out: StreamFinding[]): void {
    const visit = (value: unknown, path: string): void => {
      if (typeof value === 'string') {
        if (skip.has(path)) return;
        for (const f of this.#spansOf(value)) out.push({ type: f.type, path, start: f.start, end: f.end });
      } else if (Array.isArray(value)) {
        value.forEach((v, i) => visit(v, `${path}/${i}`));
      } else if (typeof value === 'object' && value !== null) {
        for (const [key, v] of Object.entries(value)) {
          const spans = this.#spansOf(key);
          // As in scanPii: a key holding PII never appears in a pointer.
          const token = spans.length > 0 ? REDACTED_KEY_TOKEN : key.replaceAll('~', '~0').replaceAll('/', '~1');
          for (const f of spans) out.push({ type: f.type, path: `${path}/${token}`, start: f.start, end: f.end, key: true });
          visit(v, `${path}/${token}`);
        }
      }
    };
    visit(json, '');
  }

  #spansOf(text: string): readonly PiiFinding[] {
    if (text.length === 0) return [];
    const cached = this.#scanCache.get(text);
    if (cached !== undefined) return cached;
    const found = scanPii(text);
    if (text.length <= SCAN_CACHE_MAX_STRING) {
      if (this.#scanCache.size >= SCAN_CACHE_ENTRIES) this.#scanCache.clear();
      this.#scanCache.set(text, found);
    }
    return found;
  }

  #append(slot: TextSlot, touched: Map<Channel, boolean>): SlotRef {
    let channel = this.#channels.get(slot.channel);
    if (channel === undefined) {
      channel = { id: slot.channel, window: new HoldbackWindow({ windowChars: this.#windowChars, maxHoldChars: this.#maxHoldChars }), open: [] };
      this.#channels.set(slot.channel, channel);
    }
    const start = channel.window.end;
    channel.window.append(slot.text);
    const ref: SlotRef = { channel, tokens: slot.tokens, original: slot.text, start, end: start + slot.text.length, out: '' };
    channel.open.push(ref);
    if (!touched.has(channel)) touched.set(channel, false);
    return ref;
  }

  /**
   * Commits the touched channels (finally, when their flag is true), asks the
   * decision about new findings and applies its redactions.
   */
  #commitAndDecide(touched: Map<Channel, boolean>, eventFindings: StreamFinding[], queued: Queued | undefined, index = this.#index): void {
    const commits: Array<{ channel: Channel; commit: Commit }> = [];
    for (const [channel, final] of touched) {
      let commit: Commit | undefined;
      try {
        commit = channel.window.commit(final);
      } catch (err) {
        if (err instanceof HoldbackOverflowError) {
          throw new StreamStop('EG_RESPONSE_DENIED', 'deny', ['stream_holdback_overflow'], 'the response text could not be checked within the hold-back limit');
        }
        throw err;
      }
      if (commit !== undefined) commits.push({ channel, commit });
    }
    const findings: StreamFinding[] = [...eventFindings];
    for (const { channel, commit } of commits) {
      for (const f of commit.findings) findings.push({ type: f.type, path: CHANNEL_PREFIX + channel.id, start: f.start, end: f.end });
    }
    let redactions: Redaction[] = [];
    if (findings.length > 0) redactions = this.#decide(findings, index);
    const byPath = new Map<string, Redaction[]>();
    for (const r of redactions) {
      const list = byPath.get(r.path);
      if (list) list.push(r);
      else byPath.set(r.path, [r]);
    }
    for (const { channel, commit } of commits) this.#distribute(channel, commit, byPath.get(CHANNEL_PREFIX + channel.id) ?? []);
    const eventRedactions = redactions.filter((r) => !r.path.startsWith(CHANNEL_PREFIX));
    if (eventRedactions.length > 0 && queued !== undefined) {
      redactJson(queued.json, eventRedactions);
      queued.dirty = true;
    }
  }

  /** Asks the policy; returns the validated redactions or throws a stop. */
  #decide(findings: StreamFinding[], index: number): Redaction[] {
    const decision = this.#o.decide({ protocol: this.#protocol, index, findings });
    if (decision.failure !== undefined) {
      throw new StreamStop('EG_POLICY_FAILURE', 'error', decision.reasons, `policy evaluation failed (${decision.failure}); denied`);
    }
    if (!decision.allow) throw new StreamStop('EG_RESPONSE_DENIED', 'deny', decision.reasons, 'response withheld by policy');
    if (decision.redact === undefined) return [];
    let redactions: Redaction[];
    try {
      redactions = parseRedactions(decision.redact);
    } catch (err) {
      throw new StreamStop('EG_POLICY_FAILURE', 'error', ['policy_malformed_redact'], `policy evaluation failed (${(err as Error).message}); denied`);
    }
    // In a stream the policy can only redact what it was shown: every entry
    // must be one of this event's findings, span for span.
    const known = new Set(findings.filter((f) => !f.key).map((f) => `${f.path}\u0000${f.start}\u0000${f.end}`));
    for (const r of redactions) {
      if (!known.has(`${r.path}\u0000${r.start}\u0000${r.end}`)) {
        throw new StreamStop('EG_POLICY_FAILURE', 'error', ['policy_malformed_redact'], 'policy evaluation failed (a redact entry matches no finding); denied');
      }
    }
    this.#redactions += redactions.length;
    return redactions;
  }

  /** Writes a commit's text, redacted, into the slots it covers. */
  #distribute(channel: Channel, commit: Commit, spans: readonly Redaction[]): void {
    const from = commit.start;
    const to = commit.start + commit.text.length;
    const text = (a: number, b: number): string => commit.text.slice(a - from, b - from);
    let done = 0;
    for (const ref of channel.open) {
      if (ref.start > to) break;
      const lo = Math.max(ref.start, from);
      const hi = Math.min(ref.end, to);
      if (lo < hi) {
        let pos = lo;
        for (const span of spans) {
          if (span.end <= lo || span.start >= hi) continue;
          // The placeholder goes where the span starts; the rest of a span
          // that runs on into later events is simply left out of them.
          if (span.start >= lo) ref.out += text(pos, span.start) + placeholder(span.type);
          pos = Math.max(pos, Math.min(span.end, hi));
        }
        ref.out += text(pos, hi);
      }
      if (ref.end <= to) done++;
      else break;
    }
    channel.open.splice(0, done);
  }

  #enqueue(queued: Queued, out: Buffer[]): void {
    this.#queue.push(queued);
    this.#queuedBytes += queued.raw.length;
    this.#release(out);
    if (this.#queuedBytes > this.#maxQueuedBytes) {
      throw new StreamStop('EG_RESPONSE_DENIED', 'deny', ['stream_holdback_overflow'], 'too many events wait behind held response text');
    }
  }

  /**
   * Sends queued events whose text is all committed, in order. Where the
   * protocol's clients accumulate every text channel on its own (OpenAI chat
   * completions, Ollama), a text event may also overtake events that wait for
   * text held in *other* channels: without that, the last word of a
   * reasoning channel, held until the stream's end because no event closes
   * it, would hold back the whole answer that follows in the content channel.
   * Events within one channel, and events without text, keep their order.
   */
  #release(out: Buffer[]): void {
    const queue = this.#queue;
    const ready = (q: Queued): boolean => q.slots.every((s) => s.end <= s.channel.window.committedEnd);
    while (queue.length > 0 && ready(queue[0]!)) this.#send(queue.shift()!, out);
    if (queue.length < 2 || (this.#protocol !== 'openai-chat' && this.#protocol !== 'ollama')) return;
    const blocked = new Set<Channel>();
    for (let i = 0; i < queue.length; ) {
      const q = queue[i]!;
      if (i > 0 && q.slots.length > 0 && ready(q) && q.slots.every((s) => !blocked.has(s.channel))) {
        queue.splice(i, 1);
        this.#send(q, out);
        continue;
      }
      for (const slot of q.slots) blocked.add(slot.channel);
      i++;
    }
  }

  #send(q: Queued, out: Buffer[]): void {
    this.#queuedBytes -= q.raw.length;
    out.push(this.#serialize(q));
  }

  #serialize(q: Queued): Buffer {
    let dirty = q.dirty;
    for (const slot of q.slots) {
      if (slot.out !== slot.original) {
        setAt(q.json, slot.tokens, slot.out);
        dirty = true;
      }
    }
    // Ollama's final /api/generate line carries `context`, the token ids of
    // prompt and answer: once anything was redacted they would spell it out.
    const json = q.json as Record<string, unknown> | undefined;
    if (this.#redactions > 0 && this.#o.format === 'ndjson' && typeof json === 'object' && json !== null && 'context' in json) {
      delete json['context'];
      dirty = true;
    }
    if (!dirty) return q.raw;
    const data = q.json === undefined ? undefined : JSON.stringify(q.json);
    if (q.sse) return serializeSse(q.sse, q.sse.data === undefined ? undefined : data ?? q.sse.data);
    return Buffer.from(`${data}\n`, 'utf8');
  }

  /** Ends the stream with the protocol's error event; nothing held is released. */
  #stop(err: unknown, out: Buffer[]): void {
    let stop: StreamStop;
    if (err instanceof StreamStop) stop = err;
    else if (err instanceof LineTooLongError || (err instanceof StreamSyntaxError && /exceeds/.test(err.message))) {
      stop = new StreamStop('EG_UPSTREAM_RESPONSE_TOO_LARGE', 'error', ['stream_event_too_large'], 'the model server sent a stream event over the size limit');
    } else if (err instanceof StreamSyntaxError) {
      stop = new StreamStop('EG_UPSTREAM_INVALID_JSON', 'error', ['stream_event_unparseable'], 'the model server sent a malformed stream');
    } else if (err instanceof RedactionError) {
      stop = new StreamStop('EG_POLICY_FAILURE', 'error', ['policy_malformed_redact'], `policy evaluation failed (${err.message}); denied`);
    } else {
      stop = new StreamStop('EG_INTERNAL', 'error', ['stream_internal_error'], 'internal error while checking the response stream');
    }
    this.#finished = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#outcome = { code: stop.code, decision: stop.decision, reasons: stop.reasons, redactions: this.#redactions };
    out.push(
      errorEvent(this.#protocol, this.#o.format, { code: stop.code, message: stop.message, requestId: this.#o.requestId, reasons: stop.reasons, sequence: this.#index }),
    );
  }
}
