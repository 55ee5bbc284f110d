/**
 * Streamed responses end to end: real TLS (the client trusts exactly the
 * gateway's certificate), a real upstream that streams each protocol with PII
 * split across events (each event its own write, flushed apart), the real
 * compiled default policy (its request allowlist includes /v1/responses,
 * /v1/messages, /api/chat and /api/generate).
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Dispatcher } from 'undici';
import type { Gateway } from '../../src/proxy/gateway.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;
let agent: Dispatcher;

const JSON_HEADERS = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes each event separately with a pause, so they arrive as separate chunks. */
async function writeSpaced(res: ServerResponse, events: readonly string[], gapMs = 5): Promise<void> {
  for (const e of events) {
    res.write(e);
    await sleep(gapMs);
  }
  res.end();
}

const sse = (data: unknown, type?: string) => `${type ? `event: ${type}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

async function stream(path: string, body: unknown): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${gateway.url}${path}`, { dispatcher: agent, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await startTestGateway(upstream.url);
  agent = trustingAgent(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const ANSWER = ['Sure, write to jane.d', 'oe@exam', 'ple.org or pay with 4111 1111', ' 1111 1111. Bye!'];
const REDACTED = 'Sure, write to [REDACTED:EMAIL] or pay with [REDACTED:PAYMENT_CARD]. Bye!';

function chatChunks(pieces: readonly string[]): string[] {
  const chunk = (delta: object, finish: string | null = null) => sse({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  return [chunk({ role: 'assistant', content: '' }), ...pieces.map((p) => chunk({ content: p })), chunk({}, 'stop'), 'data: [DONE]\n\n'];
}

function dataOf(text: string): unknown[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data: '))?.slice(6))
    .filter((d): d is string => d !== undefined && d !== '[DONE]')
    .map((d) => JSON.parse(d) as unknown);
}

describe('streamed responses are checked like JSON ones', () => {
  it('OpenAI chat SSE: PII split across events is redacted; the JSON answer is redacted identically', async () => {
    upstream.route('/v1/chat/completions', async (_req, body, res) => {
      const streamed = (JSON.parse(body.toString()) as { stream?: boolean }).stream === true;
      if (!streamed) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c1', choices: [{ index: 0, message: { role: 'assistant', content: ANSWER.join('') } }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      await writeSpaced(res, chatChunks(ANSWER));
    });
    const streamed = await stream('/v1/chat/completions', { messages: [], stream: true });
    expect(streamed.status).toBe(200);
    expect(streamed.headers['content-type']).toBe('text/event-stream');
    expect(streamed.text).not.toMatch(/jane|oe@|exam|4111/);
    const text = (dataOf(streamed.text) as Array<{ choices: Array<{ delta: { content?: string } }> }>).map((e) => e.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(REDACTED);
    expect(streamed.text.endsWith('data: [DONE]\n\n')).toBe(true);

    const whole = await stream('/v1/chat/completions', { messages: [] });
    expect(whole.status).toBe(200);
    const parsed = JSON.parse(whole.text) as { choices: Array<{ message: { content: string } }> };
    expect(parsed.choices[0]!.message.content).toBe(REDACTED);
    expect(Number(whole.headers['content-length'])).toBe(Buffer.byteLength(whole.text));
  });

  it('OpenAI /v1/responses SSE: deltas and the completed response are redacted', async () => {
    upstream.route('/v1/responses', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const full = ANSWER.join('');
      await writeSpaced(res, [
        sse({ type: 'response.created', sequence_number: 0, response: { id: 'r1', output: [] } }, 'response.created'),
        ...ANSWER.map((d, i) => sse({ type: 'response.output_text.delta', sequence_number: i + 1, item_id: 'm1', output_index: 0, content_index: 0, delta: d }, 'response.output_text.delta')),
        sse({ type: 'response.output_text.done', item_id: 'm1', output_index: 0, content_index: 0, text: full }, 'response.output_text.done'),
        sse({ type: 'response.completed', response: { id: 'r1', output: [{ type: 'message', content: [{ type: 'output_text', text: full }] }] } }, 'response.completed'),
      ]);
    });
    const res = await stream('/v1/responses', { input: 'hi', stream: true });
    expect(res.text).not.toMatch(/jane|oe@|4111/);
    const events = dataOf(res.text) as Array<{ type: string; delta?: string; text?: string }>;
    expect(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('')).toBe(REDACTED);
    expect(events.find((e) => e.type === 'response.output_text.done')?.text).toBe(REDACTED);
    expect(res.text).toContain('event: response.completed\n');
  });

  it('Anthropic /v1/messages SSE: text deltas are redacted', async () => {
    upstream.route('/v1/messages', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await writeSpaced(res, [
        sse({ type: 'message_start', message: { id: 'm1', role: 'assistant', content: [] } }, 'message_start'),
        sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
        sse({ type: 'ping' }, 'ping'),
        ...ANSWER.map((t) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }, 'content_block_delta')),
        sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
        sse({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 20 } }, 'message_delta'),
        sse({ type: 'message_stop' }, 'message_stop'),
      ]);
    });
    const res = await stream('/v1/messages', { messages: [], stream: true });
    expect(res.text).not.toMatch(/jane|oe@|4111/);
    const text = (dataOf(res.text) as Array<{ type: string; delta?: { text?: string } }>)
      .filter((e) => e.type === 'content_block_delta')
      .map((e) => e.delta?.text)
      .join('');
    expect(text).toBe(REDACTED);
    expect(res.text.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
  });

  it('Ollama /api/chat NDJSON: message content is redacted', async () => {
    upstream.route('/api/chat', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      await writeSpaced(res, [
        ...ANSWER.map((c) => `${JSON.stringify({ model: 'llama', message: { role: 'assistant', content: c }, done: false })}\n`),
        `${JSON.stringify({ model: 'llama', message: { role: 'assistant', content: '' }, done: true, eval_count: 9 })}\n`,
      ]);
    });
    const res = await stream('/api/chat', { messages: [], stream: true });
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.text).not.toMatch(/jane|oe@|4111/);
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l) as { message: { content: string }; done: boolean });
    expect(lines.map((l) => l.message.content).join('')).toBe(REDACTED);
    expect(lines.at(-1)!.done).toBe(true);
  });
});

describe('fail closed', () => {
  it('a deny mid-stream ends an OpenAI stream with an error event and [DONE]', async () => {
    upstream.route('/v1/chat/completions', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // PII in an object key cannot be redacted: the default policy denies.
      await writeSpaced(res, [...chatChunks(['Hello there, this is fine. ']).slice(0, 2), sse({ choices: [], 'bob@example.com': 1 }), ...chatChunks(['never sent'])]);
    });
    const res = await stream('/v1/chat/completions', { messages: [], stream: true });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('bob@example.com');
    expect(res.text).not.toContain('never sent');
    const blocks = res.text.trim().split('\n\n');
    expect(blocks.at(-1)).toBe('data: [DONE]');
    const error = JSON.parse(blocks.at(-2)!.slice(6)) as { error: { code: string; reasons: string[]; request_id: string } };
    expect(error.error.code).toBe('EG_RESPONSE_DENIED');
    expect(error.error.reasons.join()).toMatch(/pii_in_response:email/);
    await expect.poll(async () => (await (await request(`${gateway.adminUrl}/metrics`)).body.text()).includes('code="EG_RESPONSE_DENIED"'), { timeout: 5000 }).toBe(true);
  });

  it('a deny mid-stream ends an Anthropic stream with event: error and NDJSON with an error line', async () => {
    upstream.route('/v1/messages', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await writeSpaced(res, [sse({ type: 'message_start', message: { id: 'm', content: [] } }, 'message_start'), sse({ type: 'ping', 'a@b.co': 1 }, 'ping')]);
    });
    const a = await stream('/v1/messages', { stream: true });
    expect(a.text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"permission_error"/);
    upstream.route('/api/generate', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      await writeSpaced(res, [`${JSON.stringify({ response: 'x', 'a@b.co': 1 })}\n`]);
    });
    const n = await stream('/api/generate', { prompt: 'p' });
    expect(JSON.parse(n.text.trim().split('\n').at(-1)!)).toMatchObject({ code: 'EG_RESPONSE_DENIED' });
  });

  it('an unknown streaming content type on a model route is refused (502), not passed through', async () => {
    let wrote = false;
    upstream.route('/v1/chat/completions', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('my card is 4111 1111 1111 1111');
      wrote = true;
      await sleep(20);
      res.end();
    });
    const res = await stream('/v1/chat/completions', { messages: [], stream: true });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'EG_RESPONSE_DENIED', reasons: ['response_not_inspectable'] });
    expect(res.text).not.toContain('4111');
    expect(wrote).toBe(true);
  });

  it('an event stream whose events do not parse is ended with an error event', async () => {
    upstream.route('/v1/chat/completions', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await writeSpaced(res, ['data: card 4111 1111 1111 1111\n\n']);
    });
    const res = await stream('/v1/chat/completions', { messages: [], stream: true });
    expect(res.text).not.toContain('4111');
    expect(res.text).toContain('EG_UPSTREAM_INVALID_JSON');
  });
});

describe('backpressure', () => {
  it('a slow client pauses the upstream instead of making the proxy buffer the stream', async () => {
    // 10 000 events of ~2 KB: 20 MB, far more than the loopback socket
    // buffers between upstream, proxy and client hold (a few MB).
    const TOTAL = 10_000;
    let written = 0;
    let blocked = 0;
    upstream.route('/v1/chat/completions', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = sse({ choices: [{ index: 0, delta: { content: 'word ' } }], pad: 'lorem ipsum '.repeat(170) });
      for (written = 0; written < TOTAL; written++) {
        if (!res.write(event)) {
          blocked++;
          await new Promise((r) => res.once('drain', r));
        }
      }
      res.end('data: [DONE]\n\n');
    });
    const res = await request(`${gateway.url}/v1/chat/completions`, { dispatcher: agent, method: 'POST', headers: JSON_HEADERS, body: '{"stream":true}' });
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    // The client stops reading. Once the buffers on the way are full the
    // upstream must be unable to write: wait until its count stands still.
    let last = -1;
    for (let stable = 0, i = 0; stable < 3 && i < 60; i++) {
      await sleep(250);
      stable = written === last ? stable + 1 : 0;
      last = written;
    }
    expect(written).toBe(last);
    expect(written).toBeLessThan(TOTAL / 2);
    expect(blocked).toBeGreaterThan(0);
    // Reading again drains the rest, in full.
    let bytes = 0;
    let tail = '';
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const chunk = Buffer.from(next.value as Buffer);
      bytes += chunk.length;
      tail = (tail + chunk.toString()).slice(-32);
    }
    expect(written).toBe(TOTAL);
    expect(bytes).toBeGreaterThan(TOTAL * 2000);
    expect(tail.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
