/**
 * The compact policy input (src/policy/input-usage.ts): the source scanner on
 * awkward Rego, the projection, the manifest form, and - the property that
 * matters - the default policy decides exactly the same on the compact input
 * (and through the response memo) as on the whole input, for random inputs.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { scanPii } from '../../../src/policy/builtins/pii.js';
import { loadPolicy, loadPolicyBundle, type PolicyEngine } from '../../../src/policy/engine.js';
import type { RequestInput, ResponseInput } from '../../../src/policy/input.js';
import {
  analyseInputUsage,
  compactJson,
  compactPlan,
  describeInputUsage,
  deterministicSources,
  inputUsageFromJson,
  inputUsageToJson,
  projectInput,
  representative,
  WHOLE,
} from '../../../src/policy/input-usage.js';
import { readTarGz } from '../../../src/policy/tar.js';
import { tarGz } from './tar-writer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'rego/build/bundle.tar.gz');

const usageOf = (...sources: string[]): string => describeInputUsage(analyseInputUsage(sources));

describe('scanner', () => {
  it('marks each constant reference, and object.keys as the key set only', () => {
    expect(usageOf('package p\nallow if { input.method == "GET"; input.headers["content-type"] == "x" }')).toBe('method, headers.content-type');
    expect(usageOf('package p\nhas_body if "body" in object.keys(input)')).toBe('has(body)');
    expect(usageOf('package p\nx := count(object.keys(input))')).toBe('keys(.)');
    expect(usageOf('package p\nn := count(object.keys(input.headers))')).toBe('keys(headers)');
  });

  it('widens to the whole member on a computed or numeric index, or a bare reference', () => {
    expect(usageOf('package p\nx := input.messages[0].content')).toBe('messages');
    expect(usageOf('package p\nx if { some k; input.headers[k] == "a" }')).toBe('headers');
    expect(usageOf('package p\nx := count(input.pii)')).toBe('pii');
    expect(usageOf('package p\nx := walk(input)')).toBe('the whole input');
    expect(usageOf('package p\nx := object.get(input, "a", 1)')).toBe('the whole input');
    // Enumerating the key set still reads keys only.
    expect(usageOf('package p\nx := object.keys(input)[_]')).toBe('keys(.)');
  });

  it('ignores input inside strings and comments, and members named input', () => {
    expect(usageOf('package p\n# input.secret is not read\nx := "input.body"\ny := `input.peer`\nz := data.input.q')).toBe('');
  });

  it('gives up (whole input) on aliases, template strings and escaped keys it cannot bound', () => {
    expect(analyseInputUsage(['package p\nimport input.headers as h\nx := h.a'])).toBe(WHOLE);
    expect(analyseInputUsage(['package p\nx := $"{input.path}"'])).toBe(WHOLE);
    expect(usageOf('package p\nx := input["a\\u0062"]')).toBe('the whole input');
    expect(analyseInputUsage([])).toBe(WHOLE);
  });

  it('takes the union over modules, and keeps a subtree whole once anything reads it whole', () => {
    expect(usageOf('package a\nx := input.peer.tls.protocol', 'package b\ny := input.peer')).toBe('peer');
    expect(usageOf('package a\nx := input.peer.tls.protocol', 'package b\ny := input.peer.address')).toBe('peer.tls.protocol, peer.address');
  });

  it('records a key tested for presence alone, and widens to the key set on anything more', () => {
    expect(usageOf('package p\na if "body" in object.keys(input)\nb if not "pii" in object.keys(input.x)')).toBe('has(body), has(x.pii)');
    expect(usageOf('package p\na if "body" in object.keys(input) == y')).toBe('keys(.)');
    expect(usageOf('package p\na if y | "body" in object.keys(input)')).toBe('keys(.)');
    expect(usageOf('package p\na if k in object.keys(input)')).toBe('keys(.)');
    expect(usageOf('package p\na if "body" in object.keys(input)\nb := object.keys(input)')).toBe('keys(.)');
  });

  it('records a value only ever compared with number literals, and the literals', () => {
    expect(usageOf('package p\nx if input.body_size > 0')).toBe('body_size (compared with 0)');
    expect(usageOf('package p\nx if input.n == 0\ny if 1024 < input.n\nz := input.n >= -1')).toBe('n (compared with -1, 0, 1024)');
    expect(usageOf('package p\nx if input.n.m != 0.5')).toBe('n.m (compared with 0.5)');
  });

  it('reads a compared value whole as soon as anything else could see it', () => {
    for (const body of [
      'x if input.n + 1 > 0', // arithmetic on it
      'x if 0 < input.n + 1',
      'x if y - 5 < input.n', // the literal may be part of a subtraction
      'x if y < input.n > 0', // compared with a variable in one reading
      'x if input.n > 0 + y', // compared with a sum
      'x if input.n > y',
      'x if input.n == "0"',
      'x if input.n > 5-3',
      'x if input.n > 1e300', // neighbours of a huge literal round to it
      'x := f(input.n, 0)',
      'x if input.n > 0\ny := input.n', // compared here, read there
      'x if { input.n > 0; input.n.m }',
      'x if input.n > 0 with input.n as 5',
      'x if (input.n > 0)',
    ]) {
      expect(usageOf(`package p\n${body}`), body).toBe('n');
    }
    expect(usageOf('package p\nx if input.n[0] > 0')).toBe('n');
  });

  it('keeps every comparison with the literals true or false as it was, for the representative', () => {
    const ops: ((a: number, b: number) => boolean)[] = [(a, b) => a === b, (a, b) => a !== b, (a, b) => a < b, (a, b) => a <= b, (a, b) => a > b, (a, b) => a >= b];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ min: -100, max: 100, noNaN: true })), { maxLength: 5 }),
        fc.oneof(fc.integer({ min: -200, max: 200 }), fc.double({ noNaN: true })),
        (literals, value) => {
          const constants = [...new Set(literals.map((c) => (Object.is(c, -0) ? 0 : c)))].sort((a, b) => a - b);
          const stand = representative(value, constants);
          for (const c of constants) for (const op of ops) expect(op(stand, c)).toBe(op(value, c));
        },
      ),
      { numRuns: 2000, seed: Number(process.env['FC_SEED'] ?? 0x5ca1e) },
    );
  });

  it('gives integers on the same side of every literal one representative (so the memo sees one input)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: -80, max: 80 }), fc.integer({ min: -80, max: 80 }), (literals, a, b) => {
        const constants = [...literals].sort((x, y) => x - y);
        const sameCell = constants.every((c) => Math.sign(a - c) === Math.sign(b - c));
        if (sameCell) expect(representative(a, constants)).toBe(representative(b, constants));
        else expect(representative(a, constants)).not.toBe(representative(b, constants));
      }),
      { numRuns: 2000, seed: Number(process.env['FC_SEED'] ?? 0xce11) },
    );
  });

  it('knows nondeterministic builtins rule out the memo', () => {
    expect(deterministicSources(['package p\nx := input.a'])).toBe(true);
    expect(deterministicSources(['package p\nx := time.now_ns()'])).toBe(false);
    expect(deterministicSources([])).toBe(false);
  });
});

describe('projection and manifest form', () => {
  const usage = analyseInputUsage(['package p\nk := object.keys(input)\nm := input.method\nc := input.headers["content-type"]']);

  it('keeps what is read, nulls keys only observed, leaves out the rest', () => {
    const input = { method: 'POST', body: { secret: 'x' }, headers: { 'content-type': 'a', cookie: 'c' }, extra: undefined };
    expect(projectInput(input, usage)).toEqual({ method: 'POST', body: null, headers: { 'content-type': 'a' } });
    // A member read by name that is not an object stays as it is.
    expect(projectInput({ method: 'GET', headers: 'odd' }, usage)).toEqual({ method: 'GET', headers: 'odd' });
  });

  it('writes exactly JSON.stringify of the projection, on random values and usages', () => {
    const usages = [
      usage,
      WHOLE,
      analyseInputUsage(['package p\nx := input.a.b\ny := object.keys(input.a)\nz := input.c']),
      analyseInputUsage(['package p\nx := object.keys(input)\ny := input["we\\"ird"]']),
      analyseInputUsage(['package p\nk := object.keys(input)\nx if input.a > 3\ny if input.c == 0\nz if -2 <= input.z']),
      analyseInputUsage(['package p\nb if "body" in object.keys(input)\nz if "z" in object.keys(input)\nx := input.z.q\nm := input.method']),
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('method', 'body', 'headers', 'a', 'c', 'we"ird', 'z'), fc.jsonValue({ maxDepth: 3 })), fc.nat(usages.length - 1), (value, u) => {
        const chosen = usages[u]!;
        expect(compactJson(value, compactPlan(chosen))).toBe(JSON.stringify(projectInput(value, chosen)));
      }),
      { numRuns: 500, seed: Number(process.env['FC_SEED'] ?? 0xc0de) },
    );
  });

  it('never runs a getter for a member only its key is observed of', () => {
    let ran = 0;
    const input = {
      method: 'GET',
      get parsed_query() {
        ran++;
        return { q: ['1'] };
      },
    };
    expect(compactJson(input, compactPlan(usage))).toBe('{"method":"GET","parsed_query":null}');
    const presence = analyseInputUsage(['package p\nq if "parsed_query" in object.keys(input)\nm := input.method']);
    expect(compactJson(input, compactPlan(presence))).toBe('{"method":"GET","parsed_query":null}');
    expect(ran).toBe(0);
  });

  it('round-trips through JSON and refuses malformed metadata', () => {
    const json = inputUsageToJson(usage);
    expect(inputUsageToJson(inputUsageFromJson(JSON.parse(JSON.stringify(json))))).toEqual(json);
    expect(() => inputUsageFromJson({ keys: 'yes', members: {} })).toThrow(/must be "whole"/);
    expect(() => inputUsageFromJson({ keys: false, members: { a: 3 } })).toThrow(/input_usage\.a/);
    const presence = inputUsageToJson(analyseInputUsage(['package p\nb if "body" in object.keys(input)\nm := input.method']));
    expect(presence).toEqual({ keys: false, present: ['body'], members: { method: 'whole' } });
    expect(inputUsageToJson(inputUsageFromJson(JSON.parse(JSON.stringify(presence))))).toEqual(presence);
    expect(() => inputUsageFromJson({ keys: false, present: 'body', members: {} })).toThrow(/present must be/);
    const compared = inputUsageToJson(analyseInputUsage(['package p\nx if input.n > 0\ny if input.n < 100']));
    expect(compared).toEqual({ keys: false, members: { n: { compared: [0, 100] } } });
    expect(inputUsageToJson(inputUsageFromJson(JSON.parse(JSON.stringify(compared))))).toEqual(compared);
    for (const bad of [{ compared: [3, 1] }, { compared: ['0'] }, { compared: [2 ** 60] }, { compared: [0], keys: false }]) {
      expect(() => inputUsageFromJson({ keys: false, members: { n: bad } })).toThrow(/input_usage\.n\.compared/);
    }
  });
});

describe('the default policy: compact input and memo decide as the whole input does', () => {
  let compact: PolicyEngine;
  let whole: PolicyEngine;
  beforeAll(async () => {
    execFileSync('bash', [join(ROOT, 'rego/toolchain/build.sh')], { stdio: 'pipe' });
    compact = await loadPolicy(BUNDLE);
    whole = await loadPolicy(BUNDLE, { compactInput: false });
  });

  it('carries the input usage the build found in the real sources', () => {
    // body_format is read only by the response decision rule itself, which
    // opa build strips from the bundle's copy of the sources: proof that the
    // usage comes from the real sources.
    expect(describeInputUsage(compact.inputUsage)).toContain('body_format');
    expect(compact.reads('body')).toBe(false);
    expect(compact.reads('pii')).toBe(true);
    expect(whole.reads('body')).toBe(true);
  });

  const paths = ['/v1/chat/completions', '/v1/completions', '/v1/models', '/v1/models/llama3:8b', '/inference', '/raw_customer_data', '/v1/messages', '/', '/api/chat'];
  const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/vnd.api+json', undefined];
  const text = fc.oneof(
    fc.string(),
    fc.constantFrom('mail bob@example.com', 'card 4111 1111 1111 1111', 'call +44 20 7946 0958', 'hello there', 'ssn 123-45-6789'),
  );
  const body = fc.oneof(
    fc.record({ model: fc.string(), messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: text }), { maxLength: 3 }) }),
    text,
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const requestInput = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'post'),
    path: fc.constantFrom(...paths),
    contentType: fc.constantFrom(...contentTypes),
    body: fc.option(body, { nil: undefined }),
    findings: fc.constantFrom('scan', 'none', 'garbage'),
    bodySize: fc.nat({ max: 5000 }),
    extraHeader: fc.string(),
  });

  const toRequest = (r: typeof requestInput extends fc.Arbitrary<infer T> ? T : never): RequestInput => {
    const findings = r.body === undefined || r.findings === 'none' ? undefined : r.findings === 'garbage' ? 'weird' : scanPii(r.body);
    return {
      request_id: 'r',
      method: r.method,
      path: r.path,
      parsed_path: r.path.split('/').filter(Boolean),
      query: '',
      parsed_query: {},
      headers: { ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }), 'x-extra': r.extraHeader },
      ...(r.body === undefined ? {} : { body: r.body }),
      ...(findings === undefined ? {} : { pii: findings as RequestInput['pii'] }),
      body_size: r.body === undefined ? r.bodySize : JSON.stringify(r.body).length,
      peer: { address: '127.0.0.1', port: 1, tls: { protocol: 'TLSv1.3', cipher: null, alpn: null, servername: null } },
    };
  };

  it('request decisions are identical on 400 random inputs, asked twice (the second from the memo)', () => {
    fc.assert(
      fc.property(requestInput, (r) => {
        const input = toRequest(r);
        const expected = whole.evaluateRequest(input);
        expect(compact.evaluateRequest(input)).toEqual(expected);
        expect(compact.evaluateRequest(input)).toEqual(expected);
      }),
      { numRuns: 400, seed: Number(process.env['FC_SEED'] ?? 0x5eed) },
    );
  });

  const responseInput = fc.record({
    path: fc.constantFrom(...paths),
    status: fc.constantFrom(200, 404, 500),
    format: fc.constantFrom('json', 'event-stream', 'ndjson', 'opaque', 'none', undefined),
    body: fc.option(body, { nil: undefined }),
    findings: fc.constantFrom('scan', 'none', 'garbage'),
    event: fc.option(fc.array(fc.record({ type: fc.constantFrom('email', 'phone'), path: fc.constantFrom('stream:choices.0.content', '/id'), start: fc.nat(20), end: fc.integer({ min: 20, max: 40 }), key: fc.option(fc.constant(true as const), { nil: undefined }) }), { maxLength: 3 }), { nil: undefined }),
  });

  it('response decisions are identical on 400 random inputs, asked twice (the second from the memo)', () => {
    fc.assert(
      fc.property(responseInput, (r) => {
        const findings = r.body === undefined || r.findings === 'none' ? undefined : r.findings === 'garbage' ? 'weird' : scanPii(r.body);
        const input: ResponseInput = {
          request: { method: 'POST', path: r.path, parsed_path: [], request_id: 'r' },
          status: r.status,
          headers: { 'content-type': 'application/json' },
          ...(r.format === undefined ? {} : { body_format: r.format }),
          ...(r.body === undefined ? {} : { body: r.body }),
          ...(findings === undefined ? {} : { pii: findings as ResponseInput['pii'] }),
          ...(r.event === undefined ? {} : { event: { protocol: 'openai-chat', index: 0, findings: r.event.map((f) => (f.key ? f : { type: f.type, path: f.path, start: f.start, end: f.end })) } }),
        };
        const expected = whole.evaluateResponse(input);
        expect(compact.evaluateResponse(input)).toEqual(expected);
        expect(compact.evaluateResponse(input)).toEqual(expected);
      }),
      { numRuns: 400, seed: Number(process.env['FC_SEED'] ?? 0x5eed) },
    );
  });

  it('hands out memoised decisions frozen, so no request can change another one', () => {
    const input: ResponseInput = { request: { method: 'POST', path: '/v1/chat/completions', parsed_path: [], request_id: 'a' }, status: 200, headers: {}, body_format: 'json', body: {}, pii: [] };
    const first = compact.evaluateResponse(input);
    expect(compact.evaluateResponse({ ...input, request: { ...input.request, request_id: 'b' } })).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.reasons)).toBe(true);
  });
});

describe('bundles', () => {
  it('refuses a bundle whose input-usage metadata does not parse', async () => {
    const files = readTarGz(await import('node:fs/promises').then((fs) => fs.readFile(BUNDLE)));
    const manifest = JSON.parse(new TextDecoder().decode(files.get('/.manifest')!)) as { metadata: { enclave_gate: { input_usage: unknown } } };
    manifest.metadata.enclave_gate.input_usage = { keys: 1 };
    const entries = [...files].map(([name, data]) => ({ name, data: name === '/.manifest' ? JSON.stringify(manifest) : data }));
    await expect(loadPolicyBundle(tarGz(entries))).rejects.toThrow(/input_usage must be/);
  });

  it('gives a bundle without our metadata the whole input', async () => {
    const files = readTarGz(await import('node:fs/promises').then((fs) => fs.readFile(BUNDLE)));
    const manifest = JSON.parse(new TextDecoder().decode(files.get('/.manifest')!)) as { metadata?: unknown };
    delete manifest.metadata;
    const entries = [...files].map(([name, data]) => ({ name, data: name === '/.manifest' ? JSON.stringify(manifest) : data }));
    const engine = await loadPolicyBundle(tarGz(entries));
    expect(engine.inputUsage).toBe(WHOLE);
    expect(engine.reads('body')).toBe(true);
  });
});

describe('the log mask rule: compact event and memo answer as the whole event does', () => {
  it('erases the same pointers for random events, asked twice (the second from the memo)', async () => {
    const compact = await loadPolicy(BUNDLE);
    const whole = await loadPolicy(BUNDLE, { compactInput: false });
    expect(describeInputUsage(compact.inputUsage)).not.toContain('jwt');
    const peer = fc.record(
      {
        address: fc.constant('127.0.0.1'),
        jwt: fc.record({ sub: fc.string(), email: fc.option(fc.emailAddress(), { nil: undefined }), name: fc.option(fc.string(), { nil: undefined }) }, { requiredKeys: ['sub'] }),
        certificate: fc.record({ subject: fc.string(), fingerprint: fc.string() }, { requiredKeys: ['fingerprint'] }),
      },
      { requiredKeys: ['address'] },
    );
    fc.assert(
      fc.property(peer, fc.jsonValue({ maxDepth: 2 }), (p, extra) => {
        const event = { decision_id: 'd', path: 'enclave_gate/request/decision', input: { method: 'POST', path: '/v1/chat/completions', peer: JSON.parse(JSON.stringify(p)) as unknown, extra }, result: { allow: true, reasons: [] } };
        const expected = whole.evaluateLogMask(event);
        expect(compact.evaluateLogMask(event)).toEqual(expected);
        expect(compact.evaluateLogMask(event)).toEqual(expected);
      }),
      { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? 0x10c) },
    );
  });
});
