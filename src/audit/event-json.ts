/**
 * One decision-log event (docs/audit.md, OPA's decision-log event format),
 * written straight to its JSON text: the text a flush hashes into the chain
 * and appends, with no event object built on the way (that object is only
 * built when the bundle's mask rule asks for it, {@link eventObject}).
 *
 * The text must be exactly what `JSON.stringify` gives for the event object,
 * because the verifier re-serialises each parsed event before hashing it
 * (test/unit/audit/event-json.test.ts checks the two against each other).
 * Parts that repeat from event to event are serialised once and reused: the
 * labels and the bundle per log and policy, the timestamp per millisecond,
 * and objects frozen all the way down (the per-connection `input.peer`) per
 * object.
 */
import type { Decision } from '../policy/decision.js';
import type { MaskedHeaders } from './mask.js';

/** What one event is made of, after masking. */
export interface EventParts {
  readonly decisionId: string;
  /** JSON of the log's labels (serialised once per log). */
  readonly labelsJson: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The masked input; undefined when the mask rule erased it whole. */
  readonly input: Readonly<Record<string, unknown>> | undefined;
  /** The masked input's JSON text, when already written ({@link capturedInputJson}); then `input` is not read. */
  readonly inputJson?: string;
  readonly result: Decision | undefined;
  readonly erased: readonly string[];
  readonly requestedBy: string;
  /** RFC 3339 with nanoseconds ({@link rfc3339Nanos}). */
  readonly timestamp: string;
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

/** The start of the second the last timestamp fell in, and its text up to the milliseconds ("2026-12-04T13:00:00."). */
let secondStart = Number.NaN;
let secondText = '';
/** Milliseconds as RFC 3339 writes them with nanoseconds: "000000000Z" … "999000000Z". */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}000000Z`);

/**
 * Epoch milliseconds → RFC 3339 with nanoseconds, as OPA writes timestamps
 * ("2026-12-04T13:00:00.123000000Z"). Events of one second share its text
 * up to the milliseconds, so a date is formatted once a second, not per event.
 */
export function rfc3339Nanos(epochMs: number): string {
  // As Date does: a fraction of a millisecond is dropped.
  const ms = Math.trunc(epochMs);
  const start = ms - (((ms % 1000) + 1000) % 1000);
  if (start !== secondStart) {
    // toISOString ends in ".mmmZ"; throws for an invalid time (the caller drops the event).
    secondText = new Date(start).toISOString().slice(0, -4);
    secondStart = start;
  }
  return secondText + MILLIS[ms - start]!;
}

/**
 * Strings of a small set (member names, outcomes, error codes, erased
 * pointers, reasons) as JSON: there are few distinct ones, and quoting each
 * every time is a call and a string.
 */
const quotedStrings = new Map<string, string>();

function quoted(text: string): string {
  let json = quotedStrings.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    // Bounded: a hostile input must not grow it without end.
    if (quotedStrings.size < 1024) quotedStrings.set(text, json);
  }
  return json;
}

/** JSON of objects frozen all the way down (they cannot change, so neither can their text); `false`: not deeply frozen. */
const frozenJson = new WeakMap<object, string | false>();

function deeplyFrozen(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function';
  if (depth > 16 || !Object.isFrozen(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key of Object.keys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (descriptor.get !== undefined || !deeplyFrozen(descriptor.value, depth + 1)) return false;
  }
  return true;
}

/**
 * `JSON.stringify(s)` for a string. Most strings here (ids, addresses,
 * paths, pointers) are printable ASCII without a quote or a backslash, and
 * are then written as they are, without a call into JSON.stringify.
 */
function jsonString(s: string): string {
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** `JSON.stringify(list)` for a list of strings (`erased`, `reasons`). */
function stringsJson(list: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < list.length; i += 1) {
    const item = list[i];
    // A hole or anything else than a string: as JSON.stringify has it.
    if (typeof item !== 'string') return JSON.stringify(list);
    out += i === 0 ? quoted(item) : `,${quoted(item)}`;
  }
  return `${out}]`;
}

/** `JSON.stringify(value)`, remembered for objects frozen all the way down. */
function memberJson(value: unknown): string | undefined {
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'number') return num(value);
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return JSON.stringify(value);
  const known = frozenJson.get(value);
  if (typeof known === 'string') return known;
  const json = JSON.stringify(value);
  if (known === undefined) frozenJson.set(value, deeplyFrozen(value) ? json : false);
  return json;
}

/**
 * `JSON.stringify(object)` for a plain object, member by member so frozen
 * members come from memory. `input.peer` is taken apart too: it is the
 * connection's frozen peer, or (with a caller identity) a fresh object per
 * request made of frozen parts (TLS facts, JWT claims cached per token).
 */
function objectJson(object: Readonly<Record<string, unknown>>, depth: number): string {
  let out = '{';
  for (const key of Object.keys(object)) {
    const value = object[key];
    const json = depth === 0 && key === 'peer' && isOpenObject(value) ? objectJson(value, 1) : memberJson(value);
    if (json === undefined) continue;
    out += out.length === 1 ? `${quoted(key)}:${json}` : `,${quoted(key)}:${json}`;
  }
  return `${out}}`;
}

/** True when `value` is an object frozen all the way down (remembered per object, as its JSON is). */
export function isDeeplyFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  const known = frozenJson.get(value);
  if (known !== undefined) return known !== false;
  const frozen = deeplyFrozen(value);
  if (frozen) frozenJson.set(value, JSON.stringify(value));
  else frozenJson.set(value, false);
  return frozen;
}

/**
 * The JSON text of what `captureInput` (mask.ts) makes of `input`, and the
 * pointers it erases, in one pass and without the copy:
 * `JSON.stringify(captureInput(input, headers).input)` and its `erased`,
 * member for member (test/unit/audit/event-json.test.ts compares the two).
 * For an event no further pointer is erased from, which is the usual one.
 */
export function capturedInputJson(input: Readonly<Record<string, unknown>>, headers: MaskedHeaders): { json: string; erased: string[] } {
  let out = '';
  let body = false;
  let query = false;
  let parsedQuery = false;
  let erasedHeaders: string[] | undefined;
  for (const key of Object.keys(input)) {
    let json: string | undefined;
    if (key === 'body') {
      body = true;
      continue;
    } else if (key === 'query') {
      query = input[key] !== '';
      continue;
    } else if (key === 'parsed_query') {
      parsedQuery = input['query'] !== '' && Object.keys(input[key] as object).length > 0;
      continue;
    } else if (key === 'headers') {
      const value = input[key];
      if (typeof value !== 'object' || value === null) {
        json = memberJson(value);
      } else {
        let copy: Record<string, unknown> | undefined;
        const names = Object.keys(value);
        for (let i = 0; i < names.length; i += 1) {
          if (!headers.set.has(names[i]!)) continue;
          // A credential header: the rest is copied without it (rare, so only then).
          copy = Object.create(null) as Record<string, unknown>;
          for (const name of names) {
            if (headers.set.has(name)) (erasedHeaders ??= []).push(name);
            else copy[name] = (value as Record<string, unknown>)[name];
          }
          break;
        }
        // A plain object writes as its copy would; anything else is copied as captureInput copies it.
        const proto: unknown = Object.getPrototypeOf(value);
        json = JSON.stringify(copy ?? (proto === Object.prototype || proto === null ? value : Object.assign(Object.create(null) as object, value)));
      }
    } else {
      const value = input[key];
      json = key === 'peer' && isOpenObject(value) ? objectJson(value, 1) : memberJson(value);
    }
    if (json === undefined) continue;
    out += out.length === 0 ? `{${quoted(key)}:${json}` : `,${quoted(key)}:${json}`;
  }
  const erased: string[] = [];
  if (body) erased.push('/input/body');
  if (query) erased.push('/input/query');
  if (parsedQuery) erased.push('/input/parsed_query');
  if (erasedHeaders !== undefined) {
    for (const name of headers.names) if (erasedHeaders.includes(name)) erased.push(headers.pointers.get(name)!);
  }
  return { json: out.length === 0 ? '{}' : `${out}}`, erased };
}

/** A plain object, not frozen, that JSON.stringify would write member by member. */
function isOpenObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.isFrozen(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** A number as JSON writes it (non-finite ones become null). */
function num(n: number): string {
  // Integers within 32 bits (durations in ns up to 2 s, statuses) go through the small-integer path.
  if ((n | 0) === n) return String(n | 0);
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Text of decisions frozen all the way down: the engine's memoised ones, shared by many events. */
const resultTexts = new WeakMap<Decision, string>();

function resultJson(result: Decision): string {
  const known = resultTexts.get(result);
  if (known !== undefined) return known;
  const json = writeResult(result);
  if (isDeeplyFrozen(result)) resultTexts.set(result, json);
  return json;
}

function writeResult(result: Decision): string {
  let out = `{"allow":${JSON.stringify(result.allow)},"reasons":${JSON.stringify(result.reasons)}`;
  if (result.status !== undefined) out += `,"status":${JSON.stringify(result.status)}`;
  if (result.headers !== undefined) out += `,"headers":${JSON.stringify(result.headers)}`;
  if (result.rate_limit !== undefined) out += `,"rate_limit":${JSON.stringify(result.rate_limit)}`;
  if (result.failure !== undefined) out += `,"failure":${JSON.stringify(result.failure)}`;
  return `${out}}`;
}

function resultObject(result: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = { allow: result.allow, reasons: result.reasons };
  if (result.status !== undefined) out['status'] = result.status;
  if (result.headers !== undefined) out['headers'] = result.headers;
  if (result.rate_limit !== undefined) out['rate_limit'] = result.rate_limit;
  if (result.failure !== undefined) out['failure'] = result.failure;
  return out;
}

/** The event's JSON text; equal to `JSON.stringify(eventObject(parts))`. */
export function eventJson(p: EventParts): string {
  let out = `{"decision_id":${jsonString(p.decisionId)},"labels":${p.labelsJson},"path":"enclave_gate/request/decision"`;
  if (p.inputJson !== undefined) out += `,"input":${p.inputJson}`;
  else if (p.input !== undefined) out += `,"input":${objectJson(p.input, 0)}`;
  if (p.result !== undefined) out += `,"result":${resultJson(p.result)}`;
  if (p.erased.length > 0) out += `,"erased":${stringsJson(p.erased)}`;
  out += `,"requested_by":${jsonString(p.requestedBy)},"timestamp":"${p.timestamp}"`;
  if (p.bundle !== undefined) out += `,"bundles":${p.bundle.json}`;
  out += `,"metrics":{"timer_rego_query_eval_ns":${num(p.policyNs)},"timer_server_handler_ns":${num(p.totalNs)}}`;
  // What the proxy did in the end, which the request decision alone does not say
  // (a response withheld, a rate limit, an upstream failure).
  out += `,"enclave_gate":{"request_id":${jsonString(p.requestId)},"outcome":${quoted(p.outcome)},"code":${quoted(p.code)}`;
  if (p.status !== undefined) out += `,"status":${num(p.status)}`;
  if (p.reasons !== undefined && p.reasons.length > 0) out += `,"reasons":${stringsJson(p.reasons)}`;
  return `${out}}}`;
}

/** The event as an object: what the bundle's mask rule is given. */
export function eventObject(p: EventParts): Record<string, unknown> {
  // Members assigned in the event's order, without spreading: this runs once per event when the bundle has a mask rule.
  const event: Record<string, unknown> = { decision_id: p.decisionId, labels: p.labels, path: 'enclave_gate/request/decision' };
  if (p.input !== undefined) event['input'] = p.input;
  if (p.result !== undefined) event['result'] = resultObject(p.result);
  if (p.erased.length > 0) event['erased'] = p.erased;
  event['requested_by'] = p.requestedBy;
  event['timestamp'] = p.timestamp;
  if (p.bundle !== undefined) event['bundles'] = { 'enclave-gate': { revision: p.bundle.revision, digest: p.bundle.digest } };
  event['metrics'] = { timer_rego_query_eval_ns: p.policyNs, timer_server_handler_ns: p.totalNs };
  const outcome: Record<string, unknown> = { request_id: p.requestId, outcome: p.outcome, code: p.code };
  if (p.status !== undefined) outcome['status'] = p.status;
  if (p.reasons !== undefined && p.reasons.length > 0) outcome['reasons'] = p.reasons;
  event['enclave_gate'] = outcome;
  return event;
}
