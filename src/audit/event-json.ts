/**
 * One decision-log event (docs/audit.md, OPA's decision-log event format),
 * written as the UTF-8 bytes of its JSON text straight into the buffer the
 * flush hashes into the chain and appends (json-bytes.ts): no event object
 * and no string are built on the way. The event object ({@link eventObject})
 * is built only when the bundle's mask rule asks for the event.
 *
 * The bytes must be exactly those of `JSON.stringify(eventObject(parts))`,
 * because the verifier re-serialises each parsed event before hashing it
 * (test/unit/audit/event-json.test.ts checks the two against each other).
 * Parts that repeat from event to event are encoded once and reused: the
 * labels and the bundle per log and policy, the timestamp's date per second,
 * memoised decisions, and objects frozen all the way down (the
 * per-connection `input.peer`) per object.
 */
import type { Decision } from '../policy/decision.js';
import { asciiBytes, JsonBytes } from './json-bytes.js';
import { builtInErasures, captureInput, headersWithoutCredentials, type MaskedHeaders } from './mask.js';

/** What one event is made of, after masking. */
export interface EventParts {
  /**
   * The decision id: text, or the bytes of its JSON string (quotes included;
   * DecisionIds.nextJson), which the writer copies as they are and the event
   * object turns into text.
   */
  readonly decisionId: string | Uint8Array;
  /** JSON of the log's labels (serialised once per log). */
  readonly labelsJson: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The masked input; undefined when the mask rule erased it whole. */
  readonly input: Readonly<Record<string, unknown>> | undefined;
  readonly result: Decision | undefined;
  readonly erased: readonly string[];
  /** OPA's `requested_by`, "address:port": text, or the bytes of its JSON string like `decisionId` (made once per connection). */
  readonly requestedBy: string | Uint8Array;
  /** When the request finished, epoch ms; written as RFC 3339 with nanoseconds ({@link rfc3339Nanos}). */
  readonly timestampMs: number;
  readonly bundle: LoggedBundle | undefined;
  /** Nanoseconds. */
  readonly policyNs: number;
  readonly totalNs: number;
  readonly requestId: string;
  readonly outcome: string;
  readonly code: string;
  readonly status: number | undefined;
  readonly reasons: readonly string[] | undefined;
}

/** The policy revision and digest an event names, with its JSON made once per policy. */
export interface LoggedBundle {
  readonly revision: string;
  /** `<alg>:<hex>`. */
  readonly digest: string;
  readonly json: string;
}

export function loggedBundle(revision: string, digest: string): LoggedBundle {
  return { revision, digest, json: JSON.stringify({ 'enclave-gate': { revision, digest } }) };
}

/** A second that timestamps fall in: its start, and its RFC 3339 text up to the milliseconds ("2026-12-04T13:00:00."). */
interface Second {
  readonly start: number;
  readonly text: string;
  /** `,"timestamp":"` and the text, as the event writes them. */
  readonly member: Buffer;
}

/** The second the last timestamp fell in: events of one second share its text, so a date is formatted once a second. */
let lastSecond: Second = { start: Number.NaN, text: '', member: Buffer.alloc(0) };

/** Milliseconds as RFC 3339 writes them with nanoseconds: "000000000Z" … "999000000Z". */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}000000Z`);
/** The same as bytes, with the closing quote. */
const MILLIS_CLOSED = MILLIS.map((text) => Buffer.from(`${text}"`, 'latin1'));

/** The second `ms` (whole milliseconds) falls in; throws a RangeError for an invalid time, as Date does. */
function secondOf(ms: number): Second {
  const start = ms - (((ms % 1000) + 1000) % 1000);
  if (start !== lastSecond.start) {
    // toISOString ends in ".mmmZ"; throws for an invalid time (the caller drops the event).
    const text = new Date(start).toISOString().slice(0, -4);
    lastSecond = { start, text, member: Buffer.from(`,"timestamp":"${text}`, 'latin1') };
  }
  return lastSecond;
}

/**
 * Epoch milliseconds → RFC 3339 with nanoseconds, as OPA writes timestamps
 * ("2026-12-04T13:00:00.123000000Z"). Throws a RangeError for an invalid time.
 */
export function rfc3339Nanos(epochMs: number): string {
  // As Date does: a fraction of a millisecond is dropped.
  const ms = Math.trunc(epochMs);
  const second = secondOf(ms);
  return second.text + MILLIS[ms - second.start]!;
}

/** Throws the RangeError {@link rfc3339Nanos} would for an invalid time; returns the time. */
export function checkedTime(epochMs: number): number {
  secondOf(Math.trunc(epochMs));
  return epochMs;
}

/** `,"timestamp":"<rfc3339Nanos>"` as bytes, from the second's cached text: no string is built per event. */
function writeTimestamp(w: JsonBytes, epochMs: number): void {
  const ms = Math.trunc(epochMs);
  const second = secondOf(ms);
  w.bytes(second.member);
  w.bytes(MILLIS_CLOSED[ms - second.start]!);
}

/** Whether objects are frozen all the way down (then neither they nor their JSON can change). */
const deeplyFrozenObjects = new WeakMap<object, boolean>();

function deeplyFrozen(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function';
  if (depth > 16 || !Object.isFrozen(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key of Object.keys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (descriptor.get !== undefined || !deeplyFrozen(descriptor.value, depth + 1)) return false;
  }
  return true;
}

/** True when `value` is an object frozen all the way down (remembered per object). */
export function isDeeplyFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  let frozen = deeplyFrozenObjects.get(value);
  if (frozen === undefined) {
    frozen = deeplyFrozen(value);
    deeplyFrozenObjects.set(value, frozen);
  }
  return frozen;
}

function resultObject(result: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = { allow: result.allow, reasons: result.reasons };
  if (result.status !== undefined) out['status'] = result.status;
  if (result.headers !== undefined) out['headers'] = result.headers;
  if (result.rate_limit !== undefined) out['rate_limit'] = result.rate_limit;
  if (result.failure !== undefined) out['failure'] = result.failure;
  return out;
}

/** A string part as text, whether given as text or as the bytes of its JSON string. */
function stringPartText(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : (JSON.parse(Buffer.from(value).toString('utf8')) as string);
}

/** A string part, given as text or as the bytes of its JSON string (copied as they are). */
function writeStringPart(w: JsonBytes, value: string | Uint8Array): void {
  if (typeof value === 'string') w.string(value);
  else w.bytes(value);
}

/** The event as an object: what the bundle's mask rule is given. */
export function eventObject(p: EventParts): Record<string, unknown> {
  // Members assigned in the event's order, without spreading: this runs once per event when the bundle has a mask rule.
  const event: Record<string, unknown> = { decision_id: stringPartText(p.decisionId), labels: p.labels, path: 'enclave_gate/request/decision' };
  if (p.input !== undefined) event['input'] = p.input;
  if (p.result !== undefined) event['result'] = resultObject(p.result);
  if (p.erased.length > 0) event['erased'] = p.erased;
  event['requested_by'] = stringPartText(p.requestedBy);
  event['timestamp'] = rfc3339Nanos(p.timestampMs);
  if (p.bundle !== undefined) event['bundles'] = { 'enclave-gate': { revision: p.bundle.revision, digest: p.bundle.digest } };
  event['metrics'] = { timer_rego_query_eval_ns: p.policyNs, timer_server_handler_ns: p.totalNs };
  const outcome: Record<string, unknown> = { request_id: p.requestId, outcome: p.outcome, code: p.code };
  if (p.status !== undefined) outcome['status'] = p.status;
  if (p.reasons !== undefined && p.reasons.length > 0) outcome['reasons'] = p.reasons;
  event['enclave_gate'] = outcome;
  return event;
}

/**
 * UTF-8 bytes of a JSON text that repeats from event to event: `json(key)`,
 * made once per `key`. Bounded: the keys come from the log's settings and
 * the policy (labels, bundle, erased pointers), not from requests, so 64 is plenty.
 */
function repeatedBytes(cache: Map<string, Buffer>, key: string, json: (key: string) => string): Buffer {
  let bytes = cache.get(key);
  if (bytes === undefined) {
    bytes = Buffer.from(json(key), 'utf8');
    if (cache.size < 64) cache.set(key, bytes);
  }
  return bytes;
}

/** UTF-8 bytes of objects frozen all the way down (a connection's peer, a memoised decision's parts). */
const frozenBytes = new WeakMap<object, Buffer>();

/** Writes `value` as JSON.stringify would; false when it would write nothing (undefined). */
function writeMember(w: JsonBytes, value: unknown): boolean {
  if (typeof value === 'string') {
    // The input's method, path and request id: straight to the string writer.
    w.string(value);
    return true;
  }
  if (typeof value === 'object' && value !== null && Object.isFrozen(value)) {
    const known = frozenBytes.get(value);
    if (known !== undefined) {
      w.bytes(known);
      return true;
    }
    if (isDeeplyFrozen(value)) {
      const bytes = Buffer.from(JSON.stringify(value), 'utf8');
      frozenBytes.set(value, bytes);
      w.bytes(bytes);
      return true;
    }
  }
  return w.value(value);
}

/** `,"erased":[…]` of one-pointer lists, by pointer: the usual event's `["/input/body"]` and the like. */
const erasedMembers = new Map<string, Buffer>();
const erasedMember = (pointer: string): string => `,"erased":${JSON.stringify([pointer])}`;

/** The `erased` member (a list that is not empty). */
function writeErased(w: JsonBytes, erased: readonly string[]): void {
  if (erased.length === 1) return w.bytes(repeatedBytes(erasedMembers, erased[0]!, erasedMember));
  w.bytes(ERASED);
  w.value(erased);
}

/** `,"result":…` of decisions frozen all the way down: the engine's memoised ones, shared by many events. */
const resultMembers = new WeakMap<Decision, Buffer>();

/** The `result` member. */
function writeResult(w: JsonBytes, result: Decision): void {
  const known = resultMembers.get(result);
  if (known !== undefined) return w.bytes(known);
  if (!isDeeplyFrozen(result)) {
    w.bytes(RESULT);
    return void w.value(resultObject(result));
  }
  const bytes = Buffer.from(`,"result":${JSON.stringify(resultObject(result))}`, 'utf8');
  resultMembers.set(result, bytes);
  w.bytes(bytes);
}

/**
 * Writes the usual event (nothing to erase beyond the built-in mask) as
 * UTF-8 bytes: exactly `JSON.stringify(eventObject(parts))` with the `input` and `erased`
 * that mask.ts `captureInput(input, headers)` gives, which the tests check,
 * but in one pass, without the masked copy or any string built.
 * `parts.input` and `parts.erased` are not read.
 */
export function writeUsualEvent(w: JsonBytes, p: EventParts, input: Readonly<Record<string, unknown>>, headers: MaskedHeaders): void {
  writeEventStart(w, p);
  w.bytes(INPUT);
  let erased: readonly string[];
  if (typeof input['toJSON'] === 'function') {
    // JSON.stringify would write what toJSON gives of the masked copy: leave that to it.
    const captured = captureInput(input, headers);
    w.value(captured.input);
    erased = captured.erased;
  } else {
    erased = writeCapturedInput(w, input, headers);
  }
  writeEventEnd(w, p, erased);
}

/** `JSON.stringify(eventObject(parts))` written as UTF-8 bytes (the event of the general path, its input already masked). */
export function writeEvent(w: JsonBytes, p: EventParts): void {
  writeEventStart(w, p);
  const input = p.input;
  if (input !== undefined) {
    w.bytes(INPUT);
    if (typeof input['toJSON'] === 'function') w.value(input);
    else writeMembers(w, input);
  }
  writeEventEnd(w, p, p.erased);
}

/*
 * The event's fixed text, as bytes: copying a few dozen bytes costs a third
 * of writing them from a string one character at a time.
 */
const EVENT_OPEN = asciiBytes('{"decision_id":');
const INPUT = asciiBytes(',"input":');
const RESULT = asciiBytes(',"result":');
const ERASED = asciiBytes(',"erased":');
const REQUESTED_BY = asciiBytes(',"requested_by":');
const METRICS_OPEN = asciiBytes(',"metrics":{"timer_rego_query_eval_ns":');
const SERVER_TIMER = asciiBytes(',"timer_server_handler_ns":');
const ENCLAVE_GATE_OPEN = asciiBytes('},"enclave_gate":{"request_id":');
const OUTCOME = asciiBytes(',"outcome":');
const CODE = asciiBytes(',"code":');
const STATUS = asciiBytes(',"status":');
const REASONS = asciiBytes(',"reasons":');
const EVENT_CLOSE = asciiBytes('}}');
/** `,"labels":…,"path":…` by the labels' JSON (one per log), and `,"bundles":…,"metrics":{…` by the bundle's (one per policy). */
const labelsMembers = new Map<string, Buffer>();
const labelsMember = (labelsJson: string): string => `,"labels":${labelsJson},"path":"enclave_gate/request/decision"`;
const bundleMembers = new Map<string, Buffer>();
const bundleMember = (bundleJson: string): string => `,"bundles":${bundleJson},"metrics":{"timer_rego_query_eval_ns":`;

/*
 * The event's members in OPA's order, as {@link eventObject} has them, in
 * two halves around the input (written by the caller, who also says what
 * was erased from it).
 */
function writeEventStart(w: JsonBytes, p: EventParts): void {
  w.bytes(EVENT_OPEN);
  writeStringPart(w, p.decisionId);
  w.bytes(repeatedBytes(labelsMembers, p.labelsJson, labelsMember));
}

function writeEventEnd(w: JsonBytes, p: EventParts, erased: readonly string[]): void {
  if (p.result !== undefined) writeResult(w, p.result);
  if (erased.length > 0) writeErased(w, erased);
  w.bytes(REQUESTED_BY);
  writeStringPart(w, p.requestedBy);
  writeTimestamp(w, p.timestampMs);
  const bundle = p.bundle;
  w.bytes(bundle === undefined ? METRICS_OPEN : repeatedBytes(bundleMembers, bundle.json, bundleMember));
  w.number(p.policyNs);
  w.bytes(SERVER_TIMER);
  w.number(p.totalNs);
  w.bytes(ENCLAVE_GATE_OPEN);
  w.string(p.requestId);
  if (p.reasons !== undefined && p.reasons.length > 0) {
    writeOutcome(w, p);
    w.bytes(REASONS);
    w.value(p.reasons);
    w.bytes(EVENT_CLOSE);
  } else {
    writeOutcomeEnd(w, p);
  }
}

function writeOutcome(w: JsonBytes, p: EventParts): void {
  w.bytes(OUTCOME);
  w.string(p.outcome);
  w.bytes(CODE);
  w.string(p.code);
  if (p.status !== undefined) {
    w.bytes(STATUS);
    w.number(p.status);
  }
}

/**
 * The event's last members when it has no reasons, `,"outcome":…,"code":…,"status":…}}`:
 * copied from the last event's when outcome, code and status are the same
 * (under load nearly every event is allow / ok / 200), written once otherwise.
 */
let lastOutcome: { readonly outcome: string; readonly code: string; readonly status: number | undefined; readonly bytes: Buffer } | undefined;

function writeOutcomeEnd(w: JsonBytes, p: EventParts): void {
  const last = lastOutcome;
  if (last !== undefined && last.outcome === p.outcome && last.code === p.code && last.status === p.status) return w.bytes(last.bytes);
  const start = w.mark();
  writeOutcome(w, p);
  w.bytes(EVENT_CLOSE);
  // Outcomes and codes come from the proxy's own catalogue, statuses are integers: the bytes are short.
  lastOutcome = { outcome: p.outcome, code: p.code, status: p.status, bytes: w.copySince(start) };
}

/** The masked input (an open object) member by member, members frozen all the way down (the peer) from memory. */
function writeMembers(w: JsonBytes, object: Readonly<Record<string, unknown>>): void {
  let first = true;
  w.byte(0x7b);
  for (const key of Object.keys(object)) {
    const start = w.mark();
    if (!first) w.byte(0x2c);
    w.key(key);
    if (writeMember(w, object[key])) first = false;
    else w.rewind(start);
  }
  w.byte(0x7d);
}

/** `captureInput(input, headers).input` (mask.ts) written as bytes, member for member; returns its `erased`. */
function writeCapturedInput(w: JsonBytes, input: Readonly<Record<string, unknown>>, headers: MaskedHeaders): readonly string[] {
  let body = false;
  let query = false;
  let parsedQuery = false;
  let erasedHeaders: readonly string[] | undefined;
  let first = true;
  w.byte(0x7b);
  // for-in rather than Object.keys: V8 reads `input[key]` in such a loop from the object's own
  // layout, where a key from a list is a megamorphic load that shares a small global cache with
  // the rest of the proxy. Inherited members are skipped, as JSON.stringify skips them.
  for (const key in input) {
    if (!Object.hasOwn(input, key)) continue;
    if (key === 'body') {
      body = true;
      continue;
    } else if (key === 'query') {
      query = input[key] !== '';
      continue;
    } else if (key === 'parsed_query') {
      parsedQuery = input['query'] !== '' && Object.keys(input[key] as object).length > 0;
      continue;
    }
    const start = w.mark();
    if (!first) w.byte(0x2c);
    w.key(key);
    const value = input[key];
    let written: boolean;
    if (key === 'headers' && typeof value === 'object' && value !== null) {
      erasedHeaders = writeHeaders(w, value, headers, input['peer']);
      written = true;
    } else {
      written = writeMember(w, value);
    }
    if (written) first = false;
    else w.rewind(start);
  }
  w.byte(0x7d);
  // The usual lists are shared: no array per event.
  if (!query && !parsedQuery && erasedHeaders === undefined) return body ? ERASED_BODY : NOTHING_ERASED;
  return builtInErasures(headers, body, query, parsedQuery, erasedHeaders);
}

const ERASED_BODY: readonly string[] = Object.freeze(['/input/body']);
/** An empty `erased` list, shared (never changed): the parts' start, and an input with nothing to erase. */
export const NOTHING_ERASED: readonly string[] = Object.freeze([]);

/**
 * The headers last written for a connection, by its peer: proxy/input.ts
 * makes one frozen peer per connection and caller. Requests on one
 * connection mostly send the same headers (a client's fixed set; the
 * bench's four), and comparing names and values with the last ones, then
 * copying their bytes, costs a fraction of writing each one a character at
 * a time. A connection whose headers differ more than {@link HEADER_MISSES}
 * times in a row is no longer remembered: each miss copies what it wrote.
 */
interface WrittenHeaders {
  readonly masked: MaskedHeaders;
  readonly names: readonly string[];
  readonly values: readonly string[];
  readonly bytes: Buffer;
  readonly found: readonly string[] | undefined;
  /** Misses in a row before these headers were written. */
  readonly misses: number;
}

const writtenHeaders = new WeakMap<object, WrittenHeaders>();
const HEADER_MISSES = 4;

function sameHeaders(object: Readonly<Record<string, unknown>>, names: readonly string[], last: WrittenHeaders): boolean {
  if (names.length !== last.names.length) return false;
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i]!;
    if (name !== last.names[i] || object[name] !== last.values[i]) return false;
  }
  return true;
}

/**
 * `headersWithoutCredentials(value, headers).kept` (mask.ts) written as
 * JSON.stringify writes it; returns the names left out. A plain object of
 * strings (what the proxy builds) is written straight from the object,
 * without the copy, or copied from the bytes written for the same headers on
 * the same connection (`peer`); anything else goes through the copy and the
 * general writer.
 */
function writeHeaders(w: JsonBytes, value: object, headers: MaskedHeaders, peer: unknown): readonly string[] | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const object = value as Readonly<Record<string, unknown>>;
    const names = Object.keys(object);
    const connection = typeof peer === 'object' && peer !== null && Object.isFrozen(peer) ? peer : undefined;
    const last = connection === undefined ? undefined : writtenHeaders.get(connection);
    if (last !== undefined && last.masked === headers && sameHeaders(object, names, last)) {
      if (last.misses > 0) writtenHeaders.set(connection!, { ...last, misses: 0 });
      w.bytes(last.bytes);
      return last.found;
    }
    const start = w.mark();
    const found = writeStringMembers(w, object, names, headers.set);
    if (found !== NOT_STRINGS) {
      const misses = last === undefined ? 0 : last.misses + 1;
      if (connection !== undefined && misses <= HEADER_MISSES) {
        // Every member was a string (writeStringMembers checked), so `values` holds what the bytes say.
        const values = names.map((name) => object[name] as string);
        writtenHeaders.set(connection, { masked: headers, names, values, bytes: w.copySince(start), found, misses });
      }
      return found;
    }
    // A value that is not a string: take back what was written and leave it to the general writer.
    w.rewind(start);
  }
  const masked = headersWithoutCredentials(value, headers);
  w.value(masked.kept);
  return masked.found;
}

const NOT_STRINGS: string[] = [];

/** Writes an object (its member `names`) whose values are all strings, without the members named in `left`; returns their names, or NOT_STRINGS at the first value that is not a string. */
function writeStringMembers(w: JsonBytes, object: Readonly<Record<string, unknown>>, names: readonly string[], left: ReadonlySet<string>): string[] | undefined {
  let found: string[] | undefined;
  let first = true;
  w.byte(0x7b);
  for (const name of names) {
    const text = object[name];
    if (typeof text !== 'string') return NOT_STRINGS;
    if (left.has(name)) {
      (found ??= []).push(name);
      continue;
    }
    if (!first) w.byte(0x2c);
    first = false;
    w.key(name);
    w.string(text);
  }
  w.byte(0x7d);
  return found;
}
