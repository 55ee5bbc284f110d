/**
 * What the client libraries people use show for enclave-gate's errors: the
 * real OpenAI, Anthropic and Ollama Python clients (PyPI, in the test venv)
 * and the `openai` and `ollama` npm packages, over real TLS that trusts exactly the gateway's
 * certificate, against the real default policy and a real upstream. Three
 * failures an application meets: a request denied for PII (403 before the
 * model is asked), a response withheld (PII the policy cannot redact), and a
 * stream cut by the same policy mid-way. Each must surface as the SDK's own
 * exception carrying our message and our stable code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/proxy/gateway.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { runPython } from '../helpers/python.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;
let agent: Dispatcher;
let dir: string;

const sse = (data: unknown, type?: string): string => `${type ? `event: ${type}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

/** PII in an object key cannot be redacted, so the default policy withholds the answer. */
const UNREDACTABLE = { 'bob@example.com': 1 };

function answerChat(body: Buffer, res: ServerResponse): void {
  if ((JSON.parse(body.toString()) as { stream?: boolean }).stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: object): string => sse({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] });
    res.write(chunk({ role: 'assistant', content: 'Hello' }));
    res.end(sse({ choices: [], ...UNREDACTABLE }) + chunk({ content: 'never sent' }) + 'data: [DONE]\n\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], ...UNREDACTABLE }));
}

function answerOllamaChat(body: Buffer, res: ServerResponse): void {
  const line = (o: object): string => `${JSON.stringify(o)}\n`;
  if ((JSON.parse(body.toString()) as { stream?: boolean }).stream !== false) {
    // Ollama streams by default (NDJSON).
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(line({ model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: 'Hello' }, done: false }));
    res.end(line({ model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: 'x' }, done: false, ...UNREDACTABLE }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: 'hi' }, done: true, ...UNREDACTABLE }));
}

function answerMessages(body: Buffer, res: ServerResponse): void {
  if ((JSON.parse(body.toString()) as { stream?: boolean }).stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sse({ type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } }, 'message_start'));
    res.end(sse({ type: 'ping', ...UNREDACTABLE }, 'ping'));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 }, ...UNREDACTABLE }));
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/chat/completions', (_req, body, res) => answerChat(body, res));
  upstream.route('/v1/messages', (_req, body, res) => answerMessages(body, res));
  upstream.route('/api/chat', (_req, body, res) => answerOllamaChat(body, res));
  // A model answer that is not JSON although it says so: 502, and the same again on every retry.
  upstream.route('/v1/completions', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"choices": [');
  });
  gateway = await startTestGateway(upstream.url);
  agent = trustingAgent(gateway);
  dir = mkdtempSync(join(tmpdir(), 'eg-sdk-'));
  writeFileSync(join(dir, 'gateway.pem'), gateway.certificate.certPem);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface SdkError {
  exception: string | null;
  message?: string;
  status?: number | null;
  code?: string | null;
  body?: Record<string, unknown> | string | null;
}

describe('Python clients (openai, anthropic, ollama from PyPI) raise our message and code', () => {
  let report: Record<'openai' | 'anthropic' | 'ollama', Record<'denied' | 'withheld' | 'stream', SdkError>> & { retry: { unparsable_answer: SdkError } };

  beforeAll(async () => {
    const out = await runPython('test/clients/python/sdk_errors.py', [gateway.url, join(dir, 'gateway.pem')], 90_000);
    report = JSON.parse(out) as typeof report;
  }, 120_000);

  it('openai: a request with PII is PermissionDeniedError with EG_POLICY_DENIED and the reason', () => {
    const e = report.openai.denied;
    expect(e.exception).toBe('PermissionDeniedError');
    expect(e.status).toBe(403);
    expect(e.code).toBe('EG_POLICY_DENIED');
    expect(e.message).toContain('request denied by policy: pii_detected:email:/messages/0/content');
    expect(e.message).not.toContain('alice@example.com');
  });

  it('openai: a withheld response is PermissionDeniedError with EG_RESPONSE_DENIED', () => {
    const e = report.openai.withheld;
    expect(e.exception).toBe('PermissionDeniedError');
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toMatch(/response withheld by policy: pii_in_response:email/);
    expect(e.message).not.toContain('bob@example.com');
  });

  it('openai: a stream cut mid-way raises APIError with EG_RESPONSE_DENIED while iterating', () => {
    const e = report.openai.stream;
    expect(e.exception).toBe('APIError');
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toBe('response withheld by policy');
    expect((e.body as Record<string, unknown>)['reasons']).toEqual([expect.stringMatching(/^pii_in_response:email/)]);
  });

  it('anthropic: a request with PII is PermissionDeniedError; error_code is EG_POLICY_DENIED', () => {
    const e = report.anthropic.denied;
    expect(e.exception).toBe('PermissionDeniedError');
    expect(e.status).toBe(403);
    expect(e.code).toBe('EG_POLICY_DENIED');
    expect(e.message).toContain('request denied by policy: pii_detected:email:/messages/0/content');
    const body = e.body as { type: string; error: { type: string }; request_id: string };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('permission_error');
    expect(e.message).toContain(`request_id: ${body.request_id}`);
  });

  it('anthropic: a withheld response is PermissionDeniedError with EG_RESPONSE_DENIED', () => {
    const e = report.anthropic.withheld;
    expect(e.exception).toBe('PermissionDeniedError');
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toMatch(/response withheld by policy: pii_in_response:email/);
  });

  it('anthropic: a stream cut mid-way raises the SDK status error with EG_RESPONSE_DENIED', () => {
    const e = report.anthropic.stream;
    expect(e.exception).not.toBeNull();
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toContain('response withheld by policy');
  });

  it('openai: a 502 that a retry cannot fix is not retried (x-should-retry: false), so the model is called once', () => {
    const e = report.retry.unparsable_answer;
    expect(e.exception).toBe('InternalServerError');
    expect(e.status).toBe(502);
    expect(e.code).toBe('EG_UPSTREAM_INVALID_JSON');
    expect(upstream.received.filter((r) => r.url === '/v1/completions')).toHaveLength(1);
  });

  it('ollama: a request with PII is ResponseError whose error starts with EG_POLICY_DENIED', () => {
    const e = report.ollama.denied;
    expect(e.exception).toBe('ResponseError');
    expect(e.status).toBe(403);
    expect(e.body).toBe('EG_POLICY_DENIED: request denied by policy: pii_detected:email:/messages/0/content');
  });

  it('ollama: a withheld response is ResponseError with EG_RESPONSE_DENIED', () => {
    const e = report.ollama.withheld;
    expect(e.exception).toBe('ResponseError');
    expect(e.body).toMatch(/^EG_RESPONSE_DENIED: response withheld by policy: pii_in_response:email/);
  });

  it('ollama: a stream cut mid-way raises ResponseError from the error line', () => {
    const e = report.ollama.stream;
    expect(e.exception).toBe('ResponseError');
    expect(e.body).toBe('EG_RESPONSE_DENIED: response withheld by policy');
  });
});

describe('openai npm package raises our message and code', () => {
  const client = (): OpenAI =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      // The client trusts exactly the gateway's certificate (no -k).
      fetch: ((url: string, init?: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher: agent })) as unknown as typeof fetch,
    });

  async function thrown(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }

  it('a request with PII is PermissionDeniedError with EG_POLICY_DENIED and the reason', async () => {
    const e = await thrown(() => client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'mail alice@example.com' }] }));
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(e.status).toBe(403);
    expect(e.code).toBe('EG_POLICY_DENIED');
    expect(e.message).toBe('403 request denied by policy: pii_detected:email:/messages/0/content');
    expect(e.requestID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a withheld response is PermissionDeniedError with EG_RESPONSE_DENIED', async () => {
    const e = await thrown(() => client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] }));
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toMatch(/^403 response withheld by policy: pii_in_response:email/);
  });

  it('a stream cut mid-way throws APIError with EG_RESPONSE_DENIED after the allowed text', async () => {
    const seen: string[] = [];
    const e = await thrown(async () => {
      const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }], stream: true });
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    });
    expect(e.code).toBe('EG_RESPONSE_DENIED');
    expect(e.message).toBe('response withheld by policy');
    expect(seen.join('')).not.toContain('never sent');
  });
});

describe('Ollama routes answer the {"error": "..."} shape Ollama clients read', () => {
  it('a request with PII on /api/chat: application/json, error string with the reason, problem fields beside it', async () => {
    const res = await undiciFetch(`${gateway.url}/api/chat`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'mail alice@example.com' }] }),
    });
    expect(res.status).toBe(403);
    // ollama-js parses an error body only when the content type contains application/json.
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['error']).toBe('EG_POLICY_DENIED: request denied by policy: pii_detected:email:/messages/0/content');
    expect(body).toMatchObject({ code: 'EG_POLICY_DENIED', status: 403, request_id: res.headers.get('x-request-id') });
  });
});

describe('ollama npm package (ollama-js) raises our message and code', () => {
  const client = (): Ollama =>
    new Ollama({
      host: gateway.url,
      // The client trusts exactly the gateway's certificate (no -k).
      fetch: ((url: string, init?: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher: agent })) as unknown as typeof fetch,
    });

  async function thrown(call: () => Promise<unknown>): Promise<Error & { status_code?: number; error?: string }> {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    return error as Error & { status_code?: number; error?: string };
  }

  it('a request with PII: ResponseError with the code and reason (ollama-js needs application/json to read it)', async () => {
    const e = await thrown(() => client().chat({ model: 'm', messages: [{ role: 'user', content: 'mail alice@example.com' }], stream: false }));
    expect(e.name).toBe('ResponseError');
    expect(e.status_code).toBe(403);
    expect(e.message).toBe('EG_POLICY_DENIED: request denied by policy: pii_detected:email:/messages/0/content');
  });

  it('a stream cut mid-way throws with EG_RESPONSE_DENIED, releasing nothing withheld', async () => {
    const seen: string[] = [];
    const e = await thrown(async () => {
      for await (const part of await client().chat({ model: 'm', messages: [{ role: 'user', content: 'hello' }], stream: true })) seen.push(part.message.content);
    });
    expect(e.message).toBe('EG_RESPONSE_DENIED: response withheld by policy');
    // Text still in the hold-back window when the deny comes is dropped, never released.
    expect(['', 'Hello']).toContain(seen.join(''));
  });
});
