import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from '../../../src/demo/model-server.js';
import { RISKY, SAFE } from './fixtures.js';

let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer({ host: '127.0.0.1', port: 0, streamDelayMs: 0 });
});

afterAll(async () => {
  await server.close();
});

const post = (path: string, body: unknown): Promise<Response> =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface ErrorBody {
  error: { message: string; type: string };
}

/** Reads an SSE body event by event; returns the `data:` payloads in order. */
async function readEvents(res: Response): Promise<string[]> {
  const events: string[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      expect(event.startsWith('data: ')).toBe(true);
      events.push(event.slice('data: '.length));
    }
  }
  expect(buffer).toBe('');
  return events;
}

describe('model server over HTTP', () => {
  it('reports health and lists the one model', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { object: string; data: { id: string }[] };
    expect(list.object).toBe('list');
    expect(list.data.map((m) => m.id)).toEqual(['enclave-demo-1']);
    const one = await fetch(`${server.url}/v1/models/enclave-demo-1`);
    expect(await one.json()).toMatchObject({ id: 'enclave-demo-1', object: 'model' });
    const missing = await fetch(`${server.url}/v1/models/gpt-9`);
    expect(missing.status).toBe(404);
  });

  it('answers a chat completion with the OpenAI shape and whitespace-token usage', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'enclave-demo-1',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: `check ${JSON.stringify(RISKY)}` }] },
      ],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      object: string;
      model: string;
      choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('enclave-demo-1');
    expect(body.choices).toHaveLength(1);
    const [choice] = body.choices;
    expect(choice!.message.role).toBe('assistant');
    expect(choice!.message.content).toMatch(/Verdict: likely fraud/);
    expect(choice!.finish_reason).toBe('stop');
    expect(body.usage.completion_tokens).toBe(choice!.message.content.split(/\s+/).length);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('streams a chat completion as SSE chunks ending in [DONE], matching the JSON reply', async () => {
    const messages = [{ role: 'user', content: 'tell me something' }];
    const plain = (await (await post('/v1/chat/completions', { messages })).json()) as {
      choices: { message: { content: string } }[];
    };
    const res = await post('/v1/chat/completions', { messages, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    type Chunk = {
      object: string;
      choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
      usage?: { completion_tokens: number } | null;
    };
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]!.finish_reason).toBe('stop');
    expect(finish.choices[0]!.delta).toEqual({});
    const deltas = chunks.slice(1, -2).map((c) => c.choices[0]!.delta.content ?? '');
    expect(deltas.length).toBeGreaterThan(10);
    expect(deltas.join('')).toBe(plain.choices[0]!.message.content);
    expect(usageChunk.usage!.completion_tokens).toBe(deltas.length);
  });

  it('flushes each streamed event as it is produced', async () => {
    const slow = await startModelServer({ port: 0, streamDelayMs: 15 });
    try {
      const started = performance.now();
      const res = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] }),
      });
      const reader = res.body!.getReader();
      const first = await reader.read();
      const firstAt = performance.now() - started;
      expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
      while (!(await reader.read()).done);
      const total = performance.now() - started;
      // ~40 chunks × 15 ms: the first event must not wait for the rest.
      expect(total).toBeGreaterThan(300);
      expect(firstAt).toBeLessThan(total / 2);
    } finally {
      await slow.close();
    }
  });

  it('honours max_tokens with finish_reason "length"', async () => {
    const res = await post('/v1/chat/completions', { max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] });
    const body = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
    expect(body.choices[0]!.message.content).toBe('Received 1 word.');
    expect(body.choices[0]!.finish_reason).toBe('length');
  });

  it('serves text completions, plain and streamed', async () => {
    const res = await post('/v1/completions', { prompt: ['one two three', `score: ${JSON.stringify(SAFE)}`] });
    const body = (await res.json()) as { object: string; choices: { text: string; index: number }[] };
    expect(body.object).toBe('text_completion');
    expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(body.choices[0]!.text).toMatch(/^Received 3 words\./);
    expect(body.choices[1]!.text).toMatch(/likely legitimate/);

    const streamed = await readEvents(await post('/v1/completions', { prompt: 'one two three', stream: true }));
    expect(streamed.at(-1)).toBe('[DONE]');
    type Chunk = { choices: { text: string; finish_reason: string | null }[] };
    const chunks = streamed.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    expect(chunks.map((c) => c.choices[0]!.text).join('')).toBe(body.choices[0]!.text);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('returns normalised 64-dimensional embeddings for a string or an array', async () => {
    const res = await post('/v1/embeddings', { model: 'enclave-demo-1', input: ['hello world', 'fraud check'] });
    const body = (await res.json()) as {
      object: string;
      data: { index: number; embedding: number[] }[];
      usage: { prompt_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    for (const { embedding } of body.data) {
      expect(embedding).toHaveLength(64);
      expect(Math.hypot(...embedding)).toBeCloseTo(1, 9);
    }
    expect(body.usage.prompt_tokens).toBe(4);
    const single = (await (await post('/v1/embeddings', { input: 'hello world' })).json()) as typeof body;
    expect(single.data[0]!.embedding).toEqual(body.data[0]!.embedding);
    const b64 = (await (await post('/v1/embeddings', { input: 'x', encoding_format: 'base64' })).json()) as {
      data: { embedding: string }[];
    };
    expect(Buffer.from(b64.data[0]!.embedding, 'base64')).toHaveLength(64 * 4);
    expect((await post('/v1/embeddings', { input: '' })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: [1, 2] })).status).toBe(400);
  });

  it('scores one transaction or a batch on /inference', async () => {
    const one = (await (await post('/inference', { transaction: RISKY })).json()) as {
      model: string;
      result: { fraud_probability: number; is_fraud: boolean; threshold: number; top_factors: unknown[] };
    };
    expect(one.model).toBe('enclave-demo-1');
    expect(one.result.is_fraud).toBe(true);
    expect(one.result.top_factors).toHaveLength(3);
    const batch = (await (await post('/inference', { transactions: [SAFE, RISKY] })).json()) as {
      results: { fraud_probability: number }[];
    };
    expect(batch.results).toHaveLength(2);
    expect(batch.results[1]!.fraud_probability).toBeGreaterThan(batch.results[0]!.fraud_probability);
    expect(batch.results[1]).toEqual(one.result);
  });

  it('rejects invalid input with a 400 OpenAI-style error', async () => {
    const cases: [string, unknown][] = [
      ['/inference', '{"transaction": '],
      ['/inference', ''],
      ['/inference', '[1,2]'],
      ['/inference', { transaction: { ...SAFE, hour: 24 } }],
      ['/inference', { transactions: [SAFE, { amount: 'lots' }] }],
      ['/inference', { transaction: SAFE, transactions: [SAFE] }],
      ['/v1/chat/completions', { messages: [] }],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 5 }] }],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], stream: 'yes' }],
      ['/v1/completions', { prompt: [1, 2, 3] }],
    ];
    for (const [path, body] of cases) {
      const res = await post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      const error = (await res.json()) as ErrorBody;
      expect(error.error.type).toBe('invalid_request_error');
      expect(error.error.message.length).toBeGreaterThan(0);
    }
    const invalid = (await (await post('/inference', '{not json')).json()) as ErrorBody;
    expect(invalid.error.message).toMatch(/not valid JSON/);
    const batch = (await (await post('/inference', { transactions: [SAFE, { amount: 'lots' }] })).json()) as ErrorBody;
    expect(batch.error.message).toContain('transactions[1].amount must be a finite number');
  });

  it('answers 404 for unknown paths and 405 with Allow for wrong methods', async () => {
    const missing = await fetch(`${server.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.type).toBe('not_found_error');
    const wrong = await fetch(`${server.url}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    await wrong.body?.cancel();
    expect((await post('/healthz', {})).status).toBe(405);
  });

  it('answers 413 for bodies over 1 MiB, declared or chunked', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(1024 * 1024 + 10) });
    const declared = await post('/v1/completions', big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as ErrorBody).error.type).toBe('request_too_large');

    const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const chunked = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 24) controller.close();
          else controller.enqueue(piece);
          sent += 1;
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    await chunked.body?.cancel();
    // The server is still healthy afterwards.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('keeps connections alive across requests', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const { port } = new URL(server.url);
    const get = (): Promise<{ res: IncomingMessage; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ res, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await get();
      const second = await get();
      expect(first.res.headers['connection']).toBe('keep-alive');
      expect(second.reused).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('survives a client that disconnects mid-stream', async () => {
    const slow = await startModelServer({ port: 0, streamDelayMs: 10 });
    try {
      const controller = new AbortController();
      const res = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] }),
        signal: controller.signal,
      });
      await res.body!.getReader().read();
      controller.abort();
      expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
    } finally {
      await slow.close();
    }
  });
});

describe('model server on a Unix socket', () => {
  it('listens on the socket path and closes idempotently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'enclave-demo-'));
    const socketPath = join(dir, 'model.sock');
    const onSocket = await startModelServer({ socketPath });
    const agent = new Agent({ connect: { socketPath } });
    try {
      expect(onSocket.url).toBe(`unix:${socketPath}`);
      const res = await undiciRequest('http://localhost/healthz', { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ status: 'ok' });
    } finally {
      await agent.close();
      await Promise.all([onSocket.close(), onSocket.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
