/**
 * Streams flow through the proxy token by token: real TLS (the client trusts
 * exactly the gateway's certificate), the real default policy, and a real
 * upstream that paces its tokens, one event per token. The assertions are
 * about order and structure, not wall-clock thresholds: each prose token
 * reaches the client as its own event, and before the upstream has written
 * three more tokens (it is held at most until the next one shows its word is
 * over), rather than in bursts or at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Dispatcher } from 'undici';
import type { Gateway } from '../../src/proxy/gateway.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;
let agent: Dispatcher;

const PACE_MS = 25;
const PROSE = ['Bread', ' rises', ' because', ' yeast', ' turns', ' sugar', ' into', ' gas', ',', ' and', ' the', ' gluten', ' in', ' the', ' dough', ' traps', ' it', ' like', ' a', ' balloon', '.'];

/** Tokens the upstream has written so far in the current stream. */
let written = 0;

function openAiEvent(delta: object, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function ollamaLine(content: string, done: boolean, generate = false): string {
  return `${JSON.stringify(generate ? { model: 'm', response: content, done } : { model: 'm', message: { role: 'assistant', content }, done })}\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sse = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** Anthropic /v1/messages and OpenAI /v1/responses framing: events before, per token, after. */
const FRAMES = {
  anthropic: {
    before: sse('message_start', { message: { id: 'm1', role: 'assistant', content: [] } }) + sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) + sse('ping', {}),
    token: (t: string) => sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } }),
    after: sse('content_block_stop', { index: 0 }) + sse('message_delta', { delta: { stop_reason: 'end_turn' } }) + sse('message_stop', {}),
  },
  responses: {
    before: sse('response.created', { response: { id: 'r1', output: [] } }) + sse('response.output_item.added', { output_index: 0, item: { type: 'message', content: [] } }),
    token: (t: string) => sse('response.output_text.delta', { output_index: 0, content_index: 0, delta: t }),
    after: sse('response.output_text.done', { output_index: 0, content_index: 0, text: PROSE.join('') }) + sse('response.completed', { response: { id: 'r1' } }),
  },
};

beforeAll(async () => {
  upstream = await startUpstream();
  const paced = (ndjson: boolean, tokens: readonly string[], generate = false) => async (_req: unknown, _body: Buffer, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': ndjson ? 'application/x-ndjson' : 'text/event-stream' });
    if (!ndjson) res.write(openAiEvent({ role: 'assistant', content: '' }));
    written = 0;
    for (const token of tokens) {
      await sleep(PACE_MS);
      res.write(ndjson ? ollamaLine(token, false, generate) : openAiEvent({ content: token }));
      written++;
    }
    await sleep(PACE_MS);
    res.end(ndjson ? ollamaLine('', true, generate) : openAiEvent({}, 'stop') + 'data: [DONE]\n\n');
  };
  upstream.route('/v1/chat/completions', paced(false, PROSE));
  upstream.route('/api/chat', paced(true, PROSE));
  for (const [path, frame] of [['/v1/messages', FRAMES.anthropic], ['/v1/responses', FRAMES.responses]] as const) {
    upstream.route(path, async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame.before);
      written = 0;
      for (const token of PROSE) {
        await sleep(PACE_MS);
        res.write(frame.token(token));
        written++;
      }
      await sleep(PACE_MS);
      res.end(frame.after);
    });
  }
  upstream.route('/api/generate', paced(true, ['Mail', ' me', ' at', ' jane', '.doe', '@', 'example', '.org', ' or', ' call', ' +1', ' 415', ' 555', ' 0132', ' today', '.'], true));
  gateway = await startTestGateway(upstream.url);
  agent = trustingAgent(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

interface Arrival {
  readonly text: string;
  /** Tokens the upstream had written when this event reached the client. */
  readonly writtenThen: number;
}

/** Streams one answer through the proxy; records each text event and how far the upstream was. */
async function receive(path: string, ndjson: boolean): Promise<Arrival[]> {
  const res = await request(`${gateway.url}${path}`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'how does bread rise?' }] }) });
  expect(res.statusCode).toBe(200);
  const arrivals: Arrival[] = [];
  let buffer = '';
  const separator = ndjson ? '\n' : '\n\n';
  for await (const chunk of res.body) {
    const writtenThen = written;
    buffer += (chunk as Buffer).toString('utf8');
    for (let end = buffer.indexOf(separator); end !== -1; end = buffer.indexOf(separator)) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + separator.length);
      const data = ndjson ? block : block.replace(/^data: /, '');
      if (data === '[DONE]') continue;
      const json = JSON.parse(ndjson ? data : data.replace(/^event: .*\ndata: /, '')) as {
        type?: string;
        choices?: Array<{ delta?: { role?: string; content?: string } }>;
        message?: { content: string };
        response?: string;
        done?: boolean;
        delta?: string | { text?: string };
      };
      expect(json).not.toHaveProperty('error');
      let content: string | undefined;
      if (ndjson) content = json.done ? undefined : (json.message?.content ?? json.response);
      else if (json.type === 'content_block_delta' && typeof json.delta === 'object') content = json.delta.text;
      else if (json.type === 'response.output_text.delta' && typeof json.delta === 'string') content = json.delta;
      else if (json.choices?.[0]?.delta?.role === undefined) content = json.choices?.[0]?.delta?.content;
      if (typeof content === 'string') arrivals.push({ text: content, writtenThen });
    }
  }
  return arrivals;
}

describe('streams flow token by token through the proxy', () => {
  it.each([
    ['OpenAI chat SSE', '/v1/chat/completions', false],
    ['Ollama NDJSON', '/api/chat', true],
    ['Anthropic /v1/messages', '/v1/messages', false],
    ['OpenAI /v1/responses', '/v1/responses', false],
  ] as const)('%s: each prose token arrives as its own event, before the upstream wrote three more', async (_name, path, ndjson) => {
    const arrivals = await receive(path, ndjson);
    // One event out per event in, each with exactly its token's text.
    expect(arrivals.map((a) => a.text)).toEqual(PROSE);
    // Token k reached the client before the upstream wrote token k + 3 (it
    // may wait for the next token, which shows whether its word is over).
    arrivals.forEach((a, k) => expect(a.writtenThen, `token ${k} ${JSON.stringify(a.text)}`).toBeLessThanOrEqual(k + 3));
    // And so the answer was not held until the end.
    expect(arrivals[0]!.writtenThen).toBeLessThan(PROSE.length);
  });

  it('PII split across paced events is held until decided and redacted; the prose around it still flows', async () => {
    const arrivals = await receive('/api/generate', true);
    const text = arrivals.map((a) => a.text).join('');
    expect(text).toBe('Mail me at [REDACTED:EMAIL] or call [REDACTED:PHONE] today.');
    expect(arrivals).toHaveLength(16);
    // "Mail" left before the upstream had written the address's first piece.
    expect(arrivals[0]!.writtenThen).toBeLessThanOrEqual(3);
  });
});
