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

/** What one event is made of, after masking. */
export interface EventParts {
  readonly decisionId: string;
  /** JSON of the log's labels (serialised once per log). */
  readonly labelsJson: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The masked input; undefined when the mask rule erased it whole. */
  readonly input: Readonly<Record<string, unknown>> | undefined;
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

let lastMs = Number.NaN;
let lastStamp = '';

/** "2026-12-04T13:00:00.123Z" → RFC 3339 with nanoseconds, as OPA writes timestamps; the last one is remembered (events come in bursts). */
export function rfc3339Nanos(ms: number): string {
  if (ms === lastMs) return lastStamp;
  const iso = new Date(ms).toISOString();
  lastStamp = `${iso.slice(0, 23)}000000Z`;
  lastMs = ms;
  return lastStamp;
}

/** Member names as JSON strings: the input has few distinct ones, and quoting each every time is a call and a string. */
const quotedKeys = new Map<string, string>();

function quoted(key: string): string {
  let json = quotedKeys.get(key);
  if (json === undefined) {
    json = JSON.stringify(key);
    // Bounded: a hostile input must not grow it without end.
    if (quotedKeys.size < 1024) quotedKeys.set(key, json);
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

/** `JSON.stringify(value)`, remembered for objects frozen all the way down. */
function memberJson(value: unknown): string | undefined {
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

/** A plain object, not frozen, that JSON.stringify would write member by member. */
function isOpenObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.isFrozen(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** A number as JSON writes it (non-finite ones become null). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

function resultJson(result: Decision): string {
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
  let out = `{"decision_id":${JSON.stringify(p.decisionId)},"labels":${p.labelsJson},"path":"enclave_gate/request/decision"`;
  if (p.input !== undefined) out += `,"input":${objectJson(p.input, 0)}`;
  if (p.result !== undefined) out += `,"result":${resultJson(p.result)}`;
  if (p.erased.length > 0) out += `,"erased":${JSON.stringify(p.erased)}`;
  out += `,"requested_by":${JSON.stringify(p.requestedBy)},"timestamp":"${p.timestamp}"`;
  if (p.bundle !== undefined) out += `,"bundles":${p.bundle.json}`;
  out += `,"metrics":{"timer_rego_query_eval_ns":${num(p.policyNs)},"timer_server_handler_ns":${num(p.totalNs)}}`;
  // What the proxy did in the end, which the request decision alone does not say
  // (a response withheld, a rate limit, an upstream failure).
  out += `,"enclave_gate":{"request_id":${JSON.stringify(p.requestId)},"outcome":${JSON.stringify(p.outcome)},"code":${JSON.stringify(p.code)}`;
  if (p.status !== undefined) out += `,"status":${num(p.status)}`;
  if (p.reasons !== undefined && p.reasons.length > 0) out += `,"reasons":${JSON.stringify(p.reasons)}`;
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
