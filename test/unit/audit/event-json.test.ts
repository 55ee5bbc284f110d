/**
 * The decision log's hand-written serialisation (src/audit/event-json.ts,
 * event-lines.ts, mask.ts captureInput) against the plain ways of doing the
 * same: `JSON.stringify` of the event object, the verifier's re-serialisation
 * of a parsed event, wire/audit-log.ts `chainHash` over the event text,
 * `maskInput`, and `Date.prototype.toISOString`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventObject, isDeeplyFrozen, loggedBundle, rfc3339Nanos, writeEvent, writeUsualEvent, type EventParts } from '../../../src/audit/event-json.js';
import { EventLines, PendingEvents } from '../../../src/audit/event-lines.js';
import { JsonBytes } from '../../../src/audit/json-bytes.js';
import { captureInput, maskedHeadersOf, maskInput } from '../../../src/audit/mask.js';
import type { Decision } from '../../../src/policy/decision.js';
import { chainHash, genesisHash } from '../../../src/wire/audit-log.js';

/**
 * A writer whose buffer grows a few bytes at a time, so every write crosses a
 * growth, and which, like the buffer of waiting events, moves what it holds
 * to the front as it grows: the 64 bytes in front of the text (earlier
 * events, since taken) lose one byte at each growth. `text()` is what was written.
 */
function shiftingWriter(): { w: JsonBytes; text: () => Buffer } {
  let front = 64;
  let buf = Buffer.alloc(front + 3, 0x2e);
  const w = new JsonBytes(buf, front, {
    grow: (at, need) => {
      const drop = front > 0 ? 1 : 0;
      front -= drop;
      const grown = Buffer.alloc(at - drop + need + 1);
      buf.copy(grown, 0, drop, at);
      buf = grown;
      return { buf, at: at - drop };
    },
  });
  return { w, text: () => w.buf.subarray(front, w.at) };
}

/** Bytes a writer wrote, through a {@link shiftingWriter}. */
function written(write: (w: JsonBytes) => void): Buffer {
  const { w, text } = shiftingWriter();
  write(w);
  return text();
}

/** The text writeEvent writes for `parts`. */
const eventJson = (parts: EventParts): string => written((w) => writeEvent(w, parts)).toString('utf8');

const labels = Object.freeze({ id: 'i-1', app: 'enclave-gate', team: 'risk "ops"' });
const base: EventParts = {
  decisionId: '9b3c7e58-4c1e-4f7e-9d61-0d0c8c1f1a2b',
  labelsJson: JSON.stringify(labels),
  labels,
  input: { method: 'GET', path: '/v1/models', peer: { address: '10.0.0.7', port: 50000 } },
  result: undefined,
  erased: [],
  requestedBy: '10.0.0.7:50000',
  timestampMs: Date.UTC(2026, 11, 4, 13, 2, 11, 123),
  bundle: undefined,
  policyNs: 21000,
  totalNs: 1830000,
  requestId: 'r-1',
  outcome: 'allow',
  code: 'ok',
  status: undefined,
  reasons: undefined,
};

const tls = Object.freeze({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: null, servername: 'localhost' });
const connectionPeer = Object.freeze({ address: '::1', port: 443, tls });
const claims = Object.freeze({ sub: 'ann', party: 'bank-a', roles: Object.freeze(['a', 'b']), note: 'line\nbreak "quoted" \u2028 \ud800 é 😀' });
const denied: Decision = Object.freeze({
  allow: false,
  reasons: Object.freeze(['rate_limited']),
  status: 429,
  headers: Object.freeze({ 'retry-after': '1' }),
  rate_limit: { key: 'bank-a', limit: 10, remaining: 0, reset_seconds: 1 } as unknown as Decision['rate_limit'],
  failure: 'error',
} as Decision);

const cases: [string, Partial<EventParts>][] = [
  ['a minimal event', {}],
  ['a full event', { result: denied, erased: ['/input/body', '/input/headers/authorization'], bundle: loggedBundle('r1', 'sha-384:00'), status: 429, reasons: ['rate_limited'] }],
  ['an allowed event with an empty reasons list', { result: { allow: true, reasons: [] }, status: 200, reasons: [] }],
  ['no input (erased whole by the mask rule)', { input: undefined, erased: ['/input'] }],
  ['non-finite timings', { policyNs: Number.NaN, totalNs: Number.POSITIVE_INFINITY }],
  ['escapes and non-ASCII text in every string', { requestId: 'r "1"\t\u0000', code: 'é', input: { path: '/ü/"x"', headers: { 'user-agent': 'a\\b\u007f' }, peer: { address: '::1', port: 1, jwt: claims } } }],
  ['the connection peer, frozen, shared by events', { input: { method: 'GET', peer: connectionPeer } }],
  ['the connection peer merged with JWT claims (an open object of frozen parts)', { input: { method: 'GET', peer: { ...connectionPeer, jwt: claims } } }],
  ['members JSON drops (undefined, functions) and arrays with holes', { input: { a: undefined, f: () => 1, list: [1, undefined, 3], nested: { u: undefined }, peer: { x: undefined, tls } } }],
  ['large integers and negative zero', { input: { n: 2 ** 60, z: -0, e: 1e-7 }, status: 0 }],
  [
    'integers at every digit count, and at the ends of 32 bits',
    { policyNs: 2 ** 31 - 1, totalNs: 2 ** 31, status: 9, input: { n: [0, 9, 10, 99, 100, 999, 1000, 99999, 100000, 999999999, 1000000000, -1, -(2 ** 31), 0.5, -0] } },
  ],
  ['a timestamp in another second, with a fraction of a millisecond', { timestampMs: Date.UTC(1999, 11, 31, 23, 59, 59, 999) + 0.75 }],
  ['a timestamp before 1970', { timestampMs: -1001 }],
  ['an input with its own toJSON', { input: { method: 'GET', toJSON: () => ({ replaced: true }) } }],
];

describe('writeEvent', () => {
  it.each(cases)('is JSON.stringify of the event object, and what the verifier re-serialises: %s', (_, change) => {
    const parts = { ...base, ...change };
    const json = eventJson(parts);
    expect(json).toBe(JSON.stringify(eventObject(parts)));
    expect(JSON.stringify(JSON.parse(json))).toBe(json);
    // Twice: the second time frozen members come from memory.
    expect(eventJson(parts)).toBe(json);
  });

  it('keeps OPA’s member order and names', () => {
    const parts = { ...base, ...cases[1]![1] };
    expect(Object.keys(JSON.parse(eventJson(parts)) as object)).toEqual(['decision_id', 'labels', 'path', 'input', 'result', 'erased', 'requested_by', 'timestamp', 'bundles', 'metrics', 'enclave_gate']);
    expect(JSON.parse(eventJson(parts))).toMatchObject({ path: 'enclave_gate/request/decision', bundles: { 'enclave-gate': { revision: 'r1', digest: 'sha-384:00' } }, metrics: { timer_rego_query_eval_ns: 21000 } });
  });

  it('does not reuse the text of a frozen object whose insides can still change', () => {
    const inner = { sub: 'ann' };
    const peer = Object.freeze({ address: '::1', port: 1, jwt: inner });
    const parts = { ...base, input: { peer } };
    expect(eventJson(parts)).toContain('"sub":"ann"');
    inner.sub = 'bob';
    expect(eventJson(parts)).toContain('"sub":"bob"');
    expect(eventJson(parts)).toBe(JSON.stringify(eventObject(parts)));
  });

  it('reuses the text of a decision frozen all the way down, and only of such a one', () => {
    const shared: Decision = Object.freeze({ allow: false, reasons: Object.freeze(['pii:email']), status: 403 });
    const first = eventJson({ ...base, result: shared });
    expect(eventJson({ ...base, result: shared })).toBe(first);
    expect(first).toBe(JSON.stringify(eventObject({ ...base, result: shared })));
    // `denied` is frozen, but its rate_limit is not: a change there must show.
    const limit = denied.rate_limit as unknown as { remaining: number };
    const before = eventJson({ ...base, result: denied });
    limit.remaining = 7;
    const after = eventJson({ ...base, result: denied });
    expect(after).not.toBe(before);
    expect(after).toBe(JSON.stringify(eventObject({ ...base, result: denied })));
    limit.remaining = 0;
  });

  it('writes lists of strings as JSON.stringify does, holes and other values included', () => {
    const odd = ['/input/body', undefined, 3] as unknown as string[];
    const holes = new Array<string>(2);
    for (const list of [odd, holes, ['é', 'a"b', 'rate_limited']]) {
      const parts = { ...base, erased: list, reasons: list, status: 403 };
      expect(eventJson(parts)).toBe(JSON.stringify(eventObject(parts)));
    }
  });
});

describe('rfc3339Nanos', () => {
  it('writes OPA’s nanosecond timestamps, the same for the same millisecond', () => {
    const ms = Date.UTC(2026, 11, 4, 13, 2, 11, 123);
    expect(rfc3339Nanos(ms)).toBe('2026-12-04T13:02:11.123000000Z');
    expect(rfc3339Nanos(ms)).toBe('2026-12-04T13:02:11.123000000Z');
    expect(rfc3339Nanos(ms + 1)).toBe('2026-12-04T13:02:11.124000000Z');
    expect(rfc3339Nanos(ms)).toBe('2026-12-04T13:02:11.123000000Z');
  });

  it('is toISOString with six more digits, for any millisecond of years 0000 to 9999, in any order', () => {
    const iso = (ms: number): string => `${new Date(Math.trunc(ms)).toISOString().slice(0, -1)}000000Z`;
    const year0 = new Date('0000-01-01T00:00:00.000Z').getTime();
    const year9999 = new Date('9999-12-31T23:59:59.999Z').getTime();
    const stamp = fc.oneof(fc.integer({ min: year0, max: year9999 }), fc.double({ min: year0, max: year9999, noNaN: true }), fc.constantFrom(0, -1, 999, 1000, -1000, -1001, year0, year9999));
    fc.assert(
      fc.property(fc.array(stamp, { minLength: 1, maxLength: 8 }), (stamps) => {
        for (const ms of stamps) expect(rfc3339Nanos(ms)).toBe(iso(ms));
      }),
      { numRuns: 500, seed: Number(process.env['FC_SEED'] ?? 0x3339) },
    );
    expect(() => rfc3339Nanos(Number.NaN)).toThrow(RangeError);
  });
});

describe('EventLines', () => {
  it('writes each event record as the file format has it, with the chain hash of its exact text', () => {
    const texts = ['{"a":1}', JSON.stringify({ s: 'é😀\u2028"\\', n: [1, 2] }), JSON.stringify({ big: 'x'.repeat(5000) }), JSON.stringify({ z: 'ü'.repeat(3000) })];
    // A small first buffer, so it has to grow along the way.
    const genesis = genesisHash('i-1');
    const lines = new EventLines(genesis, 16);
    expect(lines.head).toBe(genesis);
    let head = genesis;
    let expected = '';
    const placed: { seq: number; hash: string; text: string }[] = [];
    // Sequence numbers across a change in their digit count.
    for (const [i, text] of texts.entries()) {
      const seq = 998 + i;
      lines.append(seq, Buffer.from(text, 'utf8'));
      const hash = chainHash(head, seq, text);
      expect(lines.head).toBe(hash);
      expected += `${JSON.stringify({ type: 'event', seq, hash, event: JSON.parse(text) as unknown })}\n`;
      placed.push({ seq, hash, text });
      head = hash;
    }
    const bytes = lines.bytes();
    expect(bytes.toString('utf8')).toBe(expected);
    expect(lines.count).toBe(texts.length);
    expect(lines.events.map((e) => ({ seq: e.seq, hash: e.hash, text: bytes.toString('utf8', e.start, e.end) }))).toEqual(placed);
  });

  it('takes an event from the middle of a larger buffer, and refuses a sequence number out of order', () => {
    const text = '{"n":1}';
    const source = Buffer.from(`xx${text}yy`, 'utf8');
    const lines = new EventLines(genesisHash('i-2'), 1024);
    lines.append(7, source, 2, 2 + text.length);
    expect(lines.head).toBe(chainHash(genesisHash('i-2'), 7, text));
    expect(() => lines.append(9, source, 2, 2 + text.length)).toThrow(/event 9 after 7/);
    expect(() => new EventLines('abc', 16)).toThrow(/previous hash of 3 characters/);
  });
});

describe('PendingEvents', () => {
  it('gives back each waiting event as written, oldest first, through drops, partial takes, compaction, growth and failed writes', () => {
    const pending = new PendingEvents();
    const texts: string[] = [];
    const taken: string[] = [];
    const take = (n: number) => pending.take(n, (buf, start, end) => taken.push(buf.toString('utf8', start, end)));
    let next = 0;
    const push = (n: number) => {
      for (let i = 0; i < n; i += 1) {
        // Sizes vary from a few bytes to 40 KB, ASCII and not, so the 256 KB buffer fills, compacts and grows.
        const text = JSON.stringify({ n: next, s: (next % 3 === 0 ? 'é😀' : 'x').repeat((next * 7919) % 20_000) });
        next += 1;
        texts.push(text);
        // Written piece by piece, so the buffer grows and compacts in the middle of an event.
        pending.pushWith((w) => {
          // Not between the two halves of a surrogate pair.
          let half = text.length >> 1;
          if (/[\ud800-\udbff]/.test(text[half - 1] ?? '')) half += 1;
          w.text(text.slice(0, half));
          w.text(text.slice(half));
        });
        if (next % 9 === 0) {
          // A write that fails halfway adds nothing.
          expect(() => pending.pushWith((w) => (w.text('{"broken":"'.repeat(5000)), w.value(1n)))).toThrow(TypeError);
        }
      }
    };
    const expected: string[] = [];
    push(10);
    take(4);
    expected.push(...texts.slice(0, 4));
    expect(pending.drop(3)).toBe(3);
    push(40);
    take(20);
    expected.push(...texts.slice(7, 27));
    expect(pending.length).toBe(23);
    expect(pending.drop(100)).toBe(23);
    push(5);
    take(99);
    expected.push(...texts.slice(50, 55));
    expect(pending.length).toBe(0);
    expect(taken).toEqual(expected);
  });
});

describe('captureInput', () => {
  it('erases what maskInput erases, in the same order, reading each lazy member at most once', () => {
    const reads: Record<string, number> = {};
    const counted = <T>(name: string, value: T) => () => {
      reads[name] = (reads[name] ?? 0) + 1;
      return value;
    };
    const make = (query: string) => {
      const input = {
        request_id: 'r',
        method: 'POST',
        path: '/v1/x',
        query,
        body: { secret: 1 },
        body_size: 12,
        peer: { address: '::1', port: 1, jwt: { sub: 'a', email: 'a@b.c' } },
      };
      Object.defineProperty(input, 'parsed_path', { get: counted('parsed_path', ['v1', 'x']), enumerable: true });
      Object.defineProperty(input, 'parsed_query', { get: counted('parsed_query', query === '' ? {} : { q: ['1'] }), enumerable: true });
      Object.defineProperty(input, 'headers', { get: counted('headers', { authorization: 'Bearer t', 'x-key': 'k', accept: '*/*', cookie: 'c' }), enumerable: true });
      return input as Record<string, unknown>;
    };
    const options = { headers: ['x-key'] };
    const withQuery = captureInput(make('q=1'), maskedHeadersOf(options));
    expect(withQuery.input).toEqual({ request_id: 'r', method: 'POST', path: '/v1/x', body_size: 12, peer: { address: '::1', port: 1, jwt: { sub: 'a', email: 'a@b.c' } }, parsed_path: ['v1', 'x'], headers: { accept: '*/*' } });
    expect(withQuery.erased).toEqual(maskInput(make('q=1'), options).erased);
    expect(withQuery.erased).toEqual(['/input/body', '/input/query', '/input/parsed_query', '/input/headers/authorization', '/input/headers/cookie', '/input/headers/x-key']);
    for (const key of Object.keys(reads)) delete reads[key];
    const noQuery = captureInput(make(''), maskedHeadersOf(options));
    expect(noQuery.erased).toEqual(['/input/body', '/input/headers/authorization', '/input/headers/cookie', '/input/headers/x-key']);
    expect(reads).toEqual({ parsed_path: 1, headers: 1 });
  });
});

describe('writeUsualEvent', () => {
  const credentials = maskedHeadersOf({ headers: ['x-key'] });
  const header = fc.constantFrom('accept', 'authorization', 'cookie', 'x-key', 'x-api-key', 'content-type', 'user-agent', '__proto__', 'toJSON', '0');
  const peer = fc.oneof(
    fc.constant(connectionPeer),
    fc.record({ address: fc.string(), port: fc.integer(), tls: fc.constant(tls) }).map((p) => Object.freeze(p)),
    fc.record({ address: fc.string(), port: fc.integer(), jwt: fc.constant(claims), note: fc.constantFrom(undefined, 'x') }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const input = fc.record(
    {
      request_id: fc.string(),
      method: fc.constantFrom('GET', 'POST', 'DELETE'),
      path: fc.string({ unit: 'binary' }),
      parsed_path: fc.array(fc.string(), { maxLength: 4 }),
      query: fc.constantFrom('', 'a=1', 'token=secret&b'),
      parsed_query: fc.oneof(fc.constant({}), fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 2 }), { maxKeys: 2 })),
      headers: fc.oneof(fc.dictionary(header, fc.string({ unit: 'grapheme' }), { maxKeys: 6 }), fc.jsonValue({ maxDepth: 1 })),
      body: fc.jsonValue({ maxDepth: 2 }),
      body_size: fc.oneof(fc.nat(), fc.double()),
      pii: fc.oneof(fc.constant(Object.freeze([])), fc.array(fc.record({ type: fc.constantFrom('email', 'iban'), path: fc.string(), start: fc.nat(), end: fc.nat() }), { maxLength: 2 })),
      peer,
      extra: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
    },
    { requiredKeys: [] },
  );
  const parts = fc.record({
    // As text, or as the bytes of its JSON string (what DecisionIds.nextJson gives the writer).
    decisionId: fc.oneof(fc.uuid(), fc.string(), fc.oneof(fc.uuid(), fc.string()).map((id) => Buffer.from(JSON.stringify(id), 'utf8'))),
    requestId: fc.string({ unit: 'binary' }),
    requestedBy: fc.oneof(fc.string(), fc.string().map((by) => Buffer.from(JSON.stringify(by), 'utf8'))),
    outcome: fc.constantFrom('allow', 'deny', 'error'),
    code: fc.constantFrom('ok', 'EG_POLICY_DENIED', 'é'),
    status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
    reasons: fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
    policyNs: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(2 ** 31 - 1, 2 ** 31, -(2 ** 31), -0)),
    totalNs: fc.oneof(fc.nat(), fc.double()),
    timestampMs: fc.oneof(fc.integer({ min: 0, max: 253402300799999 }), fc.double({ min: -62167219200000, max: 253402300799999, noNaN: true })),
    result: fc.constantFrom<Decision | undefined>(undefined, denied, Object.freeze({ allow: true, reasons: Object.freeze([]) }) as Decision, { allow: false, reasons: ['pii:email'], status: 403 }),
    bundle: fc.constantFrom(undefined, loggedBundle('r1', 'sha-384:00'), loggedBundle('ü', 'sha-384:ff')),
  });

  it('writes the event of what captureInput keeps, erased pointers included, byte for byte, for random events', () => {
    fc.assert(
      fc.property(input, parts, (value, change) => {
        const p: EventParts = { ...base, ...change };
        const captured = captureInput(value as Record<string, unknown>, credentials);
        const expected = Buffer.from(JSON.stringify(eventObject({ ...p, input: captured.input, erased: captured.erased })), 'utf8');
        expect(written((w) => writeUsualEvent(w, p, value as Record<string, unknown>, credentials)).equals(expected)).toBe(true);
        // Again: frozen members and decisions now come from memory.
        expect(written((w) => writeUsualEvent(w, p, value as Record<string, unknown>, credentials)).equals(expected)).toBe(true);
      }),
      { numRuns: 1000, seed: Number(process.env['FC_SEED'] ?? 0xc0de) },
    );
  });

  it('writes each request of a connection with its own headers, whether they repeat or not, under either mask', () => {
    // One connection (one frozen peer), requests whose headers come from a small pool: the same set again, a value
    // changed, a header more, one in another order, a credential; and two logs that mask different headers.
    const peer = Object.freeze({ address: '10.0.0.9', port: 40000 });
    const pool: Record<string, string>[] = [
      { host: 'a', 'content-type': 'application/json', 'content-length': '12' },
      { host: 'a', 'content-type': 'application/json', 'content-length': '13' },
      { host: 'a', 'content-type': 'application/json', 'content-length': '12', 'x-key': 'k' },
      { 'content-type': 'application/json', host: 'a', 'content-length': '12' },
      { host: 'a', authorization: 'Bearer t', 'content-length': '12' },
      { host: 'é "quoted"', 'content-length': '12' },
    ];
    const masks = [credentials, maskedHeadersOf(undefined)];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(pool.length - 1), fc.nat(masks.length - 1)), { minLength: 1, maxLength: 40 }), (requests) => {
        for (const [which, maskIndex] of requests) {
          // A fresh headers object each time, as the proxy builds one per request.
          const value = { request_id: 'r', method: 'POST', headers: { ...pool[which]! }, peer };
          const mask = masks[maskIndex]!;
          const captured = captureInput(value, mask);
          const expected = JSON.stringify(eventObject({ ...base, input: captured.input, erased: captured.erased }));
          expect(written((w) => writeUsualEvent(w, base, value, mask)).toString('utf8')).toBe(expected);
        }
      }),
      { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? 0x4ead) },
    );
  });

  it('leaves an input with its own toJSON to JSON.stringify', () => {
    const input = { method: 'GET', body: { secret: 1 }, toJSON(): unknown {
      return { seen: Object.keys(this) };
    } };
    const captured = captureInput(input, credentials);
    const bytes = written((w) => writeUsualEvent(w, base, input, credentials));
    expect(bytes.toString('utf8')).toBe(JSON.stringify(eventObject({ ...base, input: captured.input, erased: captured.erased })));
    expect(bytes.toString('utf8')).not.toContain('secret');
  });

  it('keeps the body, the query and credential headers out of the bytes', () => {
    const bytes = written((w) =>
      writeUsualEvent(w, base, { method: 'POST', query: 'token=hunter2', parsed_query: { token: ['hunter2'] }, headers: { authorization: 'Bearer hunter2', accept: '*/*' }, body: { card: 'hunter2' }, peer: connectionPeer }, credentials),
    );
    const event = JSON.parse(bytes.toString('utf8')) as { erased: string[] };
    expect(bytes.toString('utf8')).not.toContain('hunter2');
    expect(event.erased).toEqual(['/input/body', '/input/query', '/input/parsed_query', '/input/headers/authorization']);
  });
});

describe('JsonBytes', () => {
  it('writes what JSON.stringify writes, as UTF-8, for any value', () => {
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const odd = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), Number.NaN, -0, Number.POSITIVE_INFINITY, 2 ** 60, 1e21, 5e-7, new Date(0), new Map([[1, 2]]), { toJSON: () => 'x' }, Object.assign(Object.create(null) as object, { a: 1 }), sparse, Object.freeze({ f: 'frozen' }), new String('boxed'), '\u2028\ud800', 'é😀', 'é', 'a\u007fb');
    const value = fc.letrec((tie) => ({
      any: fc.oneof({ depthSize: 'small' }, fc.jsonValue(), fc.string({ unit: 'binary' }), odd, fc.array(tie('any'), { maxLength: 3 }), fc.dictionary(fc.string({ unit: 'binary' }), tie('any'), { maxKeys: 3 })),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        const expected = JSON.stringify(v);
        // The buffer moves while members that JSON leaves out (undefined, a function) are taken back.
        const { w, text } = shiftingWriter();
        const wrote = w.value(v);
        if (expected === undefined) expect(wrote).toBe(false);
        else expect(text().toString('utf8')).toBe(expected);
      }),
      { numRuns: 2000, seed: Number(process.env['FC_SEED'] ?? 0xb17e) },
    );
  });

  it('throws where JSON.stringify throws: a BigInt, a cycle', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = { inner: cyclic };
    for (const v of [{ n: 1n }, cyclic]) {
      const w = new JsonBytes(Buffer.alloc(1 << 16), 0, { grow: () => expect.unreachable('no growth for these') });
      expect(() => w.value(v)).toThrow(TypeError);
    }
  });
});

describe('isDeeplyFrozen', () => {
  it('is true only when every level is frozen, and stays right when asked again', () => {
    expect(isDeeplyFrozen(connectionPeer)).toBe(true);
    expect(isDeeplyFrozen(connectionPeer)).toBe(true);
    const shallow = Object.freeze({ address: '::1', tls: { protocol: 'TLSv1.3' } });
    expect(isDeeplyFrozen(shallow)).toBe(false);
    expect(isDeeplyFrozen(shallow)).toBe(false);
    expect(isDeeplyFrozen({ address: '::1' })).toBe(false);
  });
});
