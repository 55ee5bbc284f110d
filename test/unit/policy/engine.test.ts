import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isErrorCode } from '../../../src/errors.js';
import { compilePolicyDirectory } from '../../../src/policy/compile.js';
import { loadPolicy, loadPolicyBundle, type PolicyEngine } from '../../../src/policy/engine.js';
import type { RequestInput, ResponseInput } from '../../../src/policy/input.js';
import { scanPii } from '../../../src/policy/builtins/pii.js';
import { tarGz } from './tar-writer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'rego/build/bundle.tar.gz');
const POLICY_DIR = join(ROOT, 'rego/policy');
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

// As the pipeline does: the body goes in with the proxy's own scan of it.
const chat = (body: unknown, overrides: Partial<RequestInput> = {}): RequestInput => ({
  request_id: 'req-1',
  method: 'POST',
  path: '/v1/chat/completions',
  parsed_path: ['v1', 'chat', 'completions'],
  query: '',
  parsed_query: {},
  headers: { 'content-type': 'application/json', host: 'enclave.example' },
  body,
  pii: scanPii(body),
  body_size: 64,
  peer: {
    address: '192.0.2.10',
    port: 50_123,
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: 'http/1.1', servername: 'enclave.example' },
  },
  ...overrides,
});

const userSays = (content: string): unknown => ({ model: 'llama3', messages: [{ role: 'user', content }] });

const get = (path: string): RequestInput => {
  const { body: _body, pii: _pii, ...rest } = chat(null, { method: 'GET', path, parsed_path: path.split('/').slice(1) });
  return { ...rest, headers: {}, body_size: 0 };
};

const completion = (content: string): ResponseInput => {
  const body = { id: 'c-1', choices: [{ index: 0, message: { role: 'assistant', content } }] };
  return {
    request: { method: 'POST', path: '/v1/chat/completions', parsed_path: ['v1', 'chat', 'completions'], request_id: 'r' },
    status: 200,
    headers: { 'content-type': 'application/json' },
    body_format: 'json',
    body,
    pii: scanPii(body),
  };
};

async function loadError(promise: Promise<unknown>): Promise<Error> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isErrorCode(err, 'EG_POLICY_LOAD_FAILED'), String(err)).toBe(true);
  return err as Error;
}

let engine: PolicyEngine;

beforeAll(async () => {
  // The real artefact the proxy ships, built by the project's own script.
  execFileSync('bash', [join(ROOT, 'rego/toolchain/build.sh')], { stdio: 'pipe' });
  engine = await loadPolicy(BUNDLE);
});

describe('request decision (rego/policy compiled to wasm)', () => {
  it('allows a clean chat completion', () => {
    expect(engine.evaluateRequest(chat(userSays('What is the capital of France?')))).toEqual({
      allow: true,
      reasons: [],
    });
  });

  it('allows the other OpenAI-compatible routes', () => {
    for (const path of ['/v1/completions', '/v1/embeddings', '/inference']) {
      expect(engine.evaluateRequest(chat({ input: 'hi' }, { path })).allow, path).toBe(true);
    }
    for (const path of ['/v1/models', '/v1/models/llama3:8b', '/v1/models/meta-llama/Llama-3-8B']) {
      expect(engine.evaluateRequest(get(path)).allow, path).toBe(true);
    }
  });

  it('denies a path outside the allow-list', () => {
    expect(engine.evaluateRequest(get('/raw_customer_data'))).toEqual({
      allow: false,
      reasons: ['path_not_allowed'],
    });
    expect(engine.evaluateRequest(get('/v1/models/..%2Fraw_customer_data')).reasons).toEqual(['path_not_allowed']);
  });

  it('denies a known path with the wrong method (405 + allow header)', () => {
    expect(engine.evaluateRequest(get('/v1/chat/completions'))).toEqual({
      allow: false,
      status: 405,
      reasons: ['method_not_allowed'],
      headers: { allow: 'POST' },
    });
  });

  it('denies a POST that is not JSON (415), but accepts charset parameters', () => {
    const body = userSays('hi');
    expect(engine.evaluateRequest(chat(body, { headers: { 'content-type': 'text/plain' } }))).toEqual({
      allow: false,
      status: 415,
      reasons: ['content_type_not_json'],
    });
    const withCharset = chat(body, { headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(engine.evaluateRequest(withCharset).allow).toBe(true);
  });

  it('denies an e-mail address in the body, naming type and pointer only', () => {
    const decision = engine.evaluateRequest(chat(userSays('Please write to alice.smith@example.com today')));
    expect(decision).toEqual({ allow: false, reasons: ['pii_detected:email:/messages/0/content'] });
    expect(JSON.stringify(decision)).not.toContain('alice');
  });

  it('denies a card number that passes Luhn and allows one that does not', () => {
    expect(engine.evaluateRequest(chat(userSays('my card is 4111 1111 1111 1111')))).toEqual({
      allow: false,
      reasons: ['pii_detected:payment_card:/messages/0/content'],
    });
    expect(engine.evaluateRequest(chat(userSays('order 4111 1111 1111 1112 shipped'))).allow).toBe(true);
  });

  it('lists every finding, sorted', () => {
    const body = { messages: [{ content: '4111111111111111' }, { content: 'bob@example.com' }], user: 'x@y.example' };
    expect(engine.evaluateRequest(chat(body)).reasons).toEqual([
      'pii_detected:email:/messages/1/content',
      'pii_detected:email:/user',
      'pii_detected:payment_card:/messages/0/content',
    ]);
  });

  it('denies a body the proxy did not hand over', () => {
    const { body: _body, pii: _pii, ...withoutBody } = chat(userSays('hi'));
    expect(engine.evaluateRequest(withoutBody)).toEqual({ allow: false, reasons: ['body_not_inspected'] });
  });
});

describe('response decision', () => {
  it('allows a clean response and one without a JSON body', () => {
    expect(engine.evaluateResponse(completion('Paris.'))).toEqual({ allow: true, reasons: [] });
    const { body: _body, pii: _pii, ...noBody } = completion('');
    expect(engine.evaluateResponse(noBody).allow).toBe(true);
  });

  it('redacts PII in a response (the default policy asks for every finding)', () => {
    const decision = engine.evaluateResponse(completion('Her card is 5555-5555-5555-4444, mail bob@example.com'));
    expect(decision.allow).toBe(true);
    expect(decision.redact).toEqual(
      expect.arrayContaining([
        { path: '/choices/0/message/content', start: 12, end: 31, type: 'payment_card' },
        { path: '/choices/0/message/content', start: 38, end: 53, type: 'email' },
      ]),
    );
  });
});

describe('fail closed', () => {
  // The default policy reads the proxy's findings and never calls the builtin;
  // the with-data fixture does (over the whole input).
  it('denies with failure "error" when a builtin throws, without leaking its message', async () => {
    const throwing = await loadPolicy(join(FIXTURES, 'with-data'), {
      builtins: {
        'enclave_gate.pii.scan': () => {
          throw new Error('cannot scan bob@example.com');
        },
      },
    });
    const decision = throwing.evaluateRequest(get('/ok'));
    expect(decision).toMatchObject({ allow: false, reasons: ['policy_error'], failure: 'error' });
    expect(decision.detail).toMatch(/enclave_gate\.pii\.scan failed/);
    expect(decision.detail).not.toContain('bob');
    // The instance stays usable after an aborted evaluation.
    expect(throwing.evaluateRequest(get('/no'))).toEqual({ allow: false, reasons: ['from_data'] });
  });

  it('denies with failure "error" when a builtin throws a string, as opa-wasm itself does', async () => {
    const throwing = await loadPolicy(join(FIXTURES, 'with-data'), {
      builtins: {
        'enclave_gate.pii.scan': () => {
          throw 'plain string';
        },
      },
    });
    expect(throwing.evaluateRequest(get('/ok'))).toMatchObject({ allow: false, failure: 'error' });
  });

  it('denies with failure "error" when the input outgrows the memory cap, and recovers', async () => {
    // The whole input, body included: the compact one would leave the body out.
    const small = await loadPolicy(BUNDLE, { memory: { initialPages: 8, maximumPages: 64 }, compactInput: false });
    const huge = chat(userSays('lorem ipsum '.repeat(400_000)));
    const decision = small.evaluateRequest(huge);
    expect(decision).toMatchObject({ allow: false, reasons: ['policy_error'], failure: 'error' });
    expect(decision.detail).not.toContain('lorem');
    expect(small.evaluateRequest(chat(userSays('hi'))).allow).toBe(true);
  });

  it('denies input that cannot be serialised', async () => {
    // In a member the policy reads, so the compact input has to carry it.
    const decision = engine.evaluateRequest(chat(userSays('hi'), { headers: { 'content-type': 1n as unknown as string } }));
    expect(decision).toMatchObject({ allow: false, failure: 'error' });
    const whole = await loadPolicy(BUNDLE, { compactInput: false });
    expect(whole.evaluateRequest(chat({ n: 1n }))).toMatchObject({ allow: false, failure: 'error' });
  });

  it('denies a deeply nested body one way or another, without throwing', async () => {
    let deep: unknown = 'bob@example.com';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    // Too deep for the scanner's recursion: the proxy hands no findings, and
    // a body without findings is refused. With the whole input, wasm refuses it.
    expect(engine.evaluateRequest(chat(null, { body: deep, pii: undefined })).allow).toBe(false);
    const whole = await loadPolicy(BUNDLE, { compactInput: false });
    expect(whole.evaluateRequest(chat(null, { body: deep, pii: undefined })).allow).toBe(false);
  });

  it('denies every malformed decision, and a runtime conflict as an error', async () => {
    const malformed = await loadPolicy(join(FIXTURES, 'malformed'));
    for (const kind of [
      'not_an_object',
      'allow_string',
      'no_reasons',
      'reason_not_string',
      'status_out_of_range',
      'deny_with_success_status',
      'unknown_key',
      'header_injection',
    ]) {
      expect(malformed.evaluateRequest({ ...get('/'), case: kind } as RequestInput), kind).toMatchObject({
        allow: false,
        reasons: ['policy_malformed_decision'],
        failure: 'malformed',
      });
    }
    expect(malformed.evaluateResponse(completion('x'))).toMatchObject({ allow: false, failure: 'malformed' });
    const conflict = malformed.evaluateRequest({ ...get('/'), case: 'conflict' } as RequestInput);
    expect(conflict).toMatchObject({ allow: false, reasons: ['policy_error'], failure: 'error' });
    expect(conflict.detail).toMatch(/conflict/);
    expect(malformed.evaluateRequest({ ...get('/'), case: 'with_redact' } as RequestInput)).toEqual({
      allow: true,
      reasons: [],
      redact: [{ path: '/a' }],
    });
  });

  it('denies an undefined decision', async () => {
    const undef = await loadPolicy(join(FIXTURES, 'undefined'));
    expect(undef.evaluateRequest(get('/v1/models'))).toMatchObject({
      allow: false,
      reasons: ['policy_undefined'],
      failure: 'undefined',
    });
    expect(undef.evaluateResponse(completion('x'))).toMatchObject({ allow: false, failure: 'undefined' });
  });
});

describe('loading', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'enclave-gate-policy-test-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('gives the same digest for every build of the same source', async () => {
    const fromDirectory = await loadPolicy(POLICY_DIR);
    const again = await loadPolicy(POLICY_DIR);
    expect(fromDirectory.digest.hex).toBe(engine.digest.hex);
    expect(again.digest.hex).toBe(engine.digest.hex);
    expect(engine.digest.alg).toBe('sha-384');
    expect(engine.digest.hex).toMatch(/^[0-9a-f]{96}$/);
    expect(engine.revision).toBe('');
  });

  it('loads bundle data and calls the builtin from a compiled directory', async () => {
    const withData = await loadPolicy(join(FIXTURES, 'with-data'));
    expect(withData.evaluateRequest({ ...get('/ok') })).toEqual({ allow: true, reasons: ['from_data'] });
    expect(withData.evaluateRequest({ ...get('/no') })).toEqual({ allow: false, reasons: ['from_data'] });
    expect(withData.evaluateRequest({ ...get('/ok'), query: 'bob@example.com' }).allow).toBe(false);
  });

  it('rejects a missing source, a non-bundle file and a broken directory', async () => {
    expect((await loadError(loadPolicy(join(scratch, 'nope')))).message).toMatch(/cannot be read/);
    const text = join(scratch, 'policy.txt');
    await writeFile(text, 'x');
    expect((await loadError(loadPolicy(text))).message).toMatch(/neither a directory nor a \.tar\.gz/);
    const broken = join(scratch, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'p.rego'), 'package enclave_gate.request\n\ndecision := {\n');
    expect((await loadError(loadPolicy(broken))).message).toMatch(/opa build failed: .*rego_parse_error/s);
  });

  it('refuses a policy calling a builtin the wasm runtime lacks, at build time', async () => {
    const dir = join(scratch, 'time');
    await mkdir(dir);
    await writeFile(
      join(dir, 'p.rego'),
      'package enclave_gate.request\n\ndecision := {"allow": time.now_ns() > 0, "reasons": []}\n',
    );
    expect((await loadError(loadPolicy(dir))).message).toMatch(/undefined function time\.now_ns/);
  });

  it('explains a missing OPA CLI', async () => {
    const err = await loadError(loadPolicy(POLICY_DIR, { opaPath: join(scratch, 'no-opa') }));
    expect(err.message).toMatch(/OPA CLI not found .*install-opa\.sh/);
  });

  it('rejects a bundle without one of the entrypoints', async () => {
    const partial = await compilePolicyDirectory(POLICY_DIR, { entrypoints: ['enclave_gate/request/decision'] });
    expect((await loadError(loadPolicyBundle(partial))).message).toMatch(/no wasm module for entrypoint/);
  });

  it('rejects a bundle whose module is not wasm, and a bundle file that is truncated', async () => {
    const fake = tarGz([{ name: '/policy.wasm', data: 'not wasm' }]);
    expect((await loadError(loadPolicyBundle(fake))).message).toMatch(/does not load/);
    const cut = join(scratch, 'cut.tar.gz');
    await writeFile(cut, (await readFile(BUNDLE)).subarray(0, 2000));
    expect((await loadError(loadPolicy(cut))).message).toMatch(/gzip stream is corrupt or truncated/);
  });

  it('rejects invalid memory limits', async () => {
    await loadError(loadPolicy(BUNDLE, { memory: { initialPages: 10, maximumPages: 5 } }));
  });
});
