import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { luhnValid } from '../../../src/policy/builtins/detectors/checksums.js';
import { scanPii } from '../../../src/policy/builtins/pii.js';
import type { Decision } from '../../../src/policy/decision.js';
import type { StreamEventInput } from '../../../src/policy/input.js';
import { StreamPolicy } from '../../../src/proxy/stream/policy-stream.js';
import { chatText, cut, expectedRedaction, openAiChatStream, redactAll, runStream } from './helpers.js';
import { pieces, piiTextArb } from './pii-text.js';

const enc = (s: string) => Buffer.from(s, 'utf8');
const sseEvents = (out: string) => out.split('\n\n').filter((b) => b.length > 0);

describe('StreamPolicy: OpenAI chat SSE', () => {
  it('passes a clean stream through byte for byte', () => {
    const input = openAiChatStream(['Hel', 'lo ', 'wörld ☃'], '\r\n');
    expect(runStream([enc(input)], { format: 'sse' }).out).toBe(input);
  });

  it('redacts an address split across events and never releases a piece of it', () => {
    const input = openAiChatStream(['Write to jane.d', 'oe@exa', 'mple.org', ' today.']);
    const { out, policy } = runStream([enc(input)], { format: 'sse' });
    expect(chatText(out)).toBe('Write to [REDACTED:EMAIL] today.');
    expect(out).not.toMatch(/jane|oe@|exa|mple\.org/);
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(policy.outcome).toMatchObject({ code: 'ok', redactions: 1 });
  });

  it('keeps events in order: events without text wait behind held text', () => {
    const input =
      `data: {"choices":[{"index":0,"delta":{"content":"card 4111 1111"}}]}\n\n` +
      `: keep-alive\n\n` +
      `data: {"choices":[{"index":0,"delta":{"content":" 1111 1111 thanks"}}]}\n\n` +
      `data: {"choices":[],"usage":{"total_tokens":9}}\n\n` +
      `data: [DONE]\n\n`;
    const p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'r', decide: redactAll });
    // Nothing leaves while the first delta may still be the start of a card,
    // and the keep-alive comment waits behind it.
    const second = input.indexOf('data: {"choices":[{"index":0,"delta":{"content":" 1111');
    expect(p.push(enc(input.slice(0, second)))).toEqual([]);
    const out = Buffer.concat([...p.push(enc(input.slice(second))), ...p.end()]).toString();
    const events = sseEvents(out);
    expect(events).toHaveLength(5);
    expect(events[0]).toContain('"content":"card [REDACTED:PAYMENT_CARD]"');
    expect(events[1]).toBe(':');
    expect(events[2]).toContain('"content":" thanks"');
    expect(events[3]).toContain('usage');
    expect(events[4]).toBe('data: [DONE]');
  });

  it('flushes per event: each prose token leaves as its own event once the next one shows its word is over', () => {
    const p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'r', decide: redactAll });
    const ev = (t: string) => enc(`data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(t)}}}]}\n\n`);
    const role = enc(`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n`);
    // Events without text leave at once when nothing is held.
    expect(p.push(role).map(String)).toEqual([role.toString()]);
    expect(p.push(ev('Hello'))).toEqual([]);
    expect(p.push(ev(' there')).map(String)).toEqual([ev('Hello').toString()]);
    expect(p.push(ev(','))).toHaveLength(2); // " there" and "," are both decided by the comma
    expect(p.push(ev(' general')).map(String)).toEqual([]);
    expect(p.push(ev(' kenobi!')).map(String)).toEqual([ev(' general').toString(), ev(' kenobi!').toString()]);
  });

  it.each([
    [
      'Anthropic /v1/messages',
      'anthropic-messages' as const,
      ['message_start', { message: { id: 'm1', content: [] } }],
      (t: string): readonly [string, object] => ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } }],
      ['content_block_stop', { index: 0 }],
    ],
    [
      'OpenAI /v1/responses',
      'openai-responses' as const,
      ['response.created', { response: { id: 'r1', output: [] } }],
      (t: string): readonly [string, object] => ['response.output_text.delta', { output_index: 0, content_index: 0, delta: t }],
      ['response.output_text.done', { output_index: 0, content_index: 0, text: 'Hello there, you' }],
    ],
  ] as const)('flushes per event for %s: framing at once, each delta when the next shows its word is over, the rest at the close', (_name, protocol, start, delta, stop) => {
    const ev = ([type, body]: readonly [string, object]) => enc(`event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`);
    const p = new StreamPolicy({ format: 'sse', protocol, requestId: 'r', decide: redactAll });
    expect(p.push(ev(start)).map(String)).toEqual([ev(start).toString()]);
    expect(p.push(ev(['ping', {}])).map(String)).toEqual([ev(['ping', {}]).toString()]);
    expect(p.push(ev(delta('Hello')))).toEqual([]);
    expect(p.push(ev(delta(' there,'))).map(String)).toEqual([ev(delta('Hello')).toString(), ev(delta(' there,')).toString()]);
    expect(p.push(ev(delta(' you')))).toEqual([]);
    expect(p.push(ev(stop)).map(String)).toEqual([ev(delta(' you')).toString(), ev(stop).toString()]);
  });

  it('a text event overtakes text held in another channel (reasoning then content), never within one channel', () => {
    const p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'r', decide: redactAll });
    const ev = (field: string, t: string) => enc(`data: {"choices":[{"index":0,"delta":{${JSON.stringify(field)}:${JSON.stringify(t)}}}]}\n\n`);
    expect(p.push(ev('reasoning_content', 'Let me think'))).toEqual([]);
    // "think" may still continue: held until the stream ends, since nothing closes the reasoning channel.
    expect(p.push(ev('content', 'The')).map(String)).toEqual([]);
    expect(p.push(ev('content', ' answer')).map(String)).toEqual([ev('content', 'The').toString()]);
    expect(p.push(ev('content', ' is 42.')).map(String)).toEqual([ev('content', ' answer').toString()]);
    const rest = [...p.push(enc('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')), ...p.end()].map(String);
    expect(rest[0]).toBe(ev('reasoning_content', 'Let me think').toString());
    expect(rest[1]).toBe(ev('content', ' is 42.').toString());
    // Ollama: thinking, then content, likewise.
    const o = new StreamPolicy({ format: 'ndjson', protocol: 'ollama', requestId: 'r', decide: redactAll });
    const line = (field: string, t: string) => enc(`${JSON.stringify({ message: { role: 'assistant', [field]: t }, done: false })}\n`);
    expect(o.push(line('thinking', 'hmm'))).toEqual([]);
    expect(o.push(line('content', 'Hi'))).toEqual([]);
    expect(o.push(line('content', ' there')).map(String)).toEqual([line('content', 'Hi').toString()]);
  });

  it('keeps strict order where the protocol numbers or closes its events (/v1/responses)', () => {
    const p = new StreamPolicy({ format: 'sse', protocol: 'openai-responses', requestId: 'r', decide: redactAll });
    const ev = (type: string, idx: number, delta: string) => enc(`event: ${type}\ndata: ${JSON.stringify({ type, output_index: idx, content_index: 0, delta })}\n\n`);
    expect(p.push(ev('response.reasoning_summary_text.delta', 0, 'think'))).toEqual([]);
    expect(p.push(ev('response.output_text.delta', 1, 'Hi'))).toEqual([]);
    expect(p.push(ev('response.output_text.delta', 1, ' there'))).toEqual([]);
  });

  it('a fixed window (streamWindowChars) still holds that many characters on top', () => {
    const p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'r', decide: redactAll, windowChars: 16 });
    const ev = (t: string) => enc(`data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(t)}}}]}\n\n`);
    expect(p.push(ev('Hello '))).toEqual([]);
    expect(p.push(ev('there, '))).toEqual([]);
    const out = p.push(ev('how are you today?'));
    expect(Buffer.concat(out).toString()).toContain('"Hello "');
  });

  it('scans strings outside the text channel per event (tool call arguments and ids too)', () => {
    const input =
      `data: {"id":"bob@example.com","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"to\\":\\"al"}}]}}]}\n\n` +
      `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ice@example.com\\"}"}}]},"finish_reason":"tool_calls"}]}\n\n`;
    const { out } = runStream([enc(input)], { format: 'sse' });
    expect(out).not.toContain('example.com');
    expect(out).toContain('"id":"[REDACTED:EMAIL]"');
    expect(out).toContain('[REDACTED:EMAIL]');
  });

  it('ends a denied stream with an OpenAI error event and [DONE], releasing nothing held', () => {
    const deny = (): Decision => ({ allow: false, reasons: ['pii_in_response:email:stream:choices.0.content'] });
    const input = openAiChatStream(['Hello, mail ', 'bob@example.com', ' now']);
    const { out, policy } = runStream([enc(input)], { format: 'sse', decide: deny, protocol: 'openai-chat' });
    const events = sseEvents(out);
    expect(out).not.toContain('bob@');
    const error = JSON.parse(events.at(-2)!.slice('data: '.length)) as { error: { code: string; reasons: string[] } };
    expect(error.error.code).toBe('EG_RESPONSE_DENIED');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(policy.outcome.decision).toBe('deny');
    expect(policy.finished).toBe(true);
  });

  it('fails closed on a policy failure, an event that is not JSON, and a malformed redact', () => {
    const failing = (): Decision => ({ allow: false, reasons: ['policy_error'], failure: 'error' });
    expect(runStream([enc(openAiChatStream(['bob@example.com']))], { format: 'sse', decide: failing }).policy.outcome.code).toBe('EG_POLICY_FAILURE');
    const garbage = runStream([enc('data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: not json\n\n')], { format: 'sse' });
    expect(garbage.policy.outcome).toMatchObject({ code: 'EG_UPSTREAM_INVALID_JSON', reasons: ['stream_event_unparseable'] });
    expect(garbage.out).not.toContain('not json');
    const bogus = (e: StreamEventInput): Decision => ({ allow: true, reasons: [], redact: [{ ...e.findings[0]!, start: 0, end: 1 }] });
    const wrong = runStream([enc(openAiChatStream(['mail bob@example.com please']))], { format: 'sse', decide: bogus });
    expect(wrong.policy.outcome).toMatchObject({ code: 'EG_POLICY_FAILURE', reasons: ['policy_malformed_redact'] });
    expect(wrong.out).not.toContain('bob@');
  });

  it('does not ask the policy about clean events', () => {
    let asked = 0;
    runStream([enc(openAiChatStream(['nothing ', 'to see ', 'here']))], { format: 'sse', decide: (e) => (asked++, redactAll(e)) });
    expect(asked).toBe(0);
  });
});

describe('StreamPolicy: other protocols', () => {
  it('OpenAI /v1/responses: deltas and the final full-text events are redacted alike', () => {
    const full = 'Reach me at bob@example.com.';
    const ev = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
    const input =
      ev('response.created', { response: { id: 'r1', output: [] } }) +
      ['Reach me at b', 'ob@exam', 'ple.com.'].map((d) => ev('response.output_text.delta', { output_index: 0, content_index: 0, delta: d })).join('') +
      ev('response.output_text.done', { output_index: 0, content_index: 0, text: full }) +
      ev('response.completed', { response: { id: 'r1', output: [{ type: 'message', content: [{ type: 'output_text', text: full }] }] } });
    const { out } = runStream([enc(input)], { format: 'sse', protocol: 'openai-responses' });
    expect(out).not.toContain('bob@');
    const deltas = [...out.matchAll(/"delta":"([^"]*)"/g)].map((m) => m[1]).join('');
    expect(deltas).toBe('Reach me at [REDACTED:EMAIL].');
    expect(out).toContain('"text":"Reach me at [REDACTED:EMAIL]."');
    expect(out).toMatch(/^event: response.created\n/);
  });

  it('Anthropic /v1/messages: text deltas redacted; a deny ends with event: error', () => {
    const ev = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
    const input =
      ev('message_start', { message: { id: 'm1', content: [] } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      ['Card: 4111 11', '11 1111 1111', ' ok'].map((t) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } })).join('') +
      ev('content_block_stop', { index: 0 }) +
      ev('message_stop', {});
    const { out } = runStream([enc(input)], { format: 'sse', protocol: 'anthropic-messages' });
    const text = [...out.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join('');
    expect(text).toBe('Card: [REDACTED:PAYMENT_CARD] ok');
    const denied = runStream([enc(input)], { format: 'sse', protocol: 'unknown', decide: () => ({ allow: false, reasons: ['no'] }) });
    const last = sseEvents(denied.out).at(-1)!;
    expect(last.startsWith('event: error\ndata: ')).toBe(true);
    expect(JSON.parse(last.split('data: ')[1]!)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(denied.out).not.toContain('4111');
  });

  it('Ollama NDJSON (/api/chat and /api/generate): redacted, context dropped, error as a final line', () => {
    const chat = ['Mail al', 'ice@example', '.com!'].map((c) => JSON.stringify({ model: 'm', message: { role: 'assistant', content: c }, done: false })).join('\n') + '\n' + JSON.stringify({ model: 'm', message: { role: 'assistant', content: '' }, done: true }) + '\n';
    const { out } = runStream([enc(chat)], { format: 'ndjson' });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { message: { content: string } });
    expect(lines.map((l) => l.message.content).join('')).toBe('Mail [REDACTED:EMAIL]!');
    const gen = ['card 4111', '-1111-1111-1111'].map((r) => JSON.stringify({ response: r, done: false })).join('\n') + '\n' + JSON.stringify({ response: '', done: true, context: [1, 2, 3] });
    const g = runStream([enc(gen)], { format: 'ndjson' }).out;
    expect(g).toContain('[REDACTED:PAYMENT_CARD]');
    expect(g).not.toContain('context');
    const denied = runStream([enc(chat)], { format: 'ndjson', decide: () => ({ allow: false, reasons: ['no'] }) }).out.trim().split('\n');
    expect(JSON.parse(denied.at(-1)!)).toMatchObject({ error: expect.any(String), code: 'EG_RESPONSE_DENIED' });
    expect(denied.join('\n')).not.toContain('ice@');
  });
});

/** A 16-digit Luhn-valid card number starting with 4. */
const cardArb = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }).map((ds) => {
  const body = `4${ds.join('')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  return body + '0';
});
const emailArb = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9._]{0,12}[a-z0-9]$/), fc.stringMatching(/^[a-z]{2,10}$/), fc.constantFrom('com', 'org', 'co.uk', 'io'))
  .filter(([local]) => !local.includes('..'))
  .map(([local, host, tld]) => `${local}@${host}.${tld}`);
const fillerArb = fc.constantFrom(' ', ', ', ' und ', ' ☃ ', ' 😀 ', '. ', ' é ', '\n', ' the ', ' call ');
const textArb = fc.array(fc.oneof(emailArb, cardArb, fillerArb, fc.constantFrom('ok', 'Grüße', 'x')), { minLength: 1, maxLength: 24 }).map((parts) => parts.join(''));

/**
 * Seeds on which the property below once failed (a card standing alone next
 * to a card glued to a letter, "4000000000000002 4000000000000002a…", hid
 * both numbers from the scanner), replayed on every run, and the shrunk
 * counterexamples, replayed as explicit examples.
 */
const FAILING_SEEDS = [-1929250212, -357343821, 310159888];
const FAILING_EXAMPLES: Array<[string, number[], number[], number]> = [
  ['4000000000000002 4000000000000002a0@aa.com 4000000000000002', [1], [], 8],
  ['4000000000000002 4000000000000002aa@aa.com ', [1], [], 8],
  ['4000000000000002 4000000000000002aa@aa.comok', [1], [], 8],
];

describe('StreamPolicy property', () => {
  it.each(FAILING_SEEDS)('holds on the seed %i, which once found a hidden card', (seed) => {
    fc.assert(redactionProperty(), { numRuns: 300, seed, examples: FAILING_EXAMPLES });
  });

  it('never releases a detected PII span, and the client text equals the non-streamed redaction, however the bytes are cut', () => {
    fc.assert(redactionProperty(), { numRuns: 300, examples: FAILING_EXAMPLES });
  });
});

function redactionProperty() {
  return fc.property(
    textArb,
    fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 30 }),
    fc.integer({ min: 8, max: 80 }),
    (text, pieceSizes, cutSeeds, windowChars) => {
      const expected = expectedRedaction(text);
      fc.pre(expected !== undefined);
      // Text split into deltas of random sizes...
      const pieces: string[] = [];
      for (let i = 0, k = 0; i < text.length; k++) {
        const n = pieceSizes[k % pieceSizes.length]!;
        pieces.push(text.slice(i, i + n));
        i += n;
      }
      // ...and the bytes re-chunked anywhere, even inside a UTF-8 character.
      const bytes = enc(openAiChatStream(pieces));
      const positions = [...new Set(cutSeeds.map((s) => s % bytes.length))].filter((p) => p > 0).sort((a, b) => a - b);
      const released: string[] = [];
      const policy = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'r', decide: redactAll, windowChars });
      for (const chunk of cut(bytes, positions)) released.push(...policy.push(chunk).map((b) => b.toString('utf8')));
      released.push(...policy.end().map((b) => b.toString('utf8')));
      const clientText = chatText(released.join(''));
      expect(clientText).toBe(expected);
      // Nothing a detector would flag reaches the client, in any single write or overall.
      for (const f of scanPii(text)) {
        const secret = text.slice(f.start, f.end);
        if (f.type === 'email' || f.type === 'payment_card') expect(released.join('')).not.toContain(secret);
      }
      expect(scanPii(clientText).filter((f) => f.type === 'email' || f.type === 'payment_card')).toEqual([]);
    },
  );
}
/** Ollama /api/chat NDJSON lines carrying `parts` as message content, then the done line. */
function ollamaChatStream(parts: readonly string[]): string {
  const line = (content: string, done: boolean) => `${JSON.stringify({ model: 'm', message: { role: 'assistant', content }, done })}\n`;
  return parts.map((p) => line(p, false)).join('') + line('', true);
}

describe('StreamPolicy property: prose, PII at event edges, context words', () => {
  it('client text equals the non-streamed redaction, one well-formed event out per event in, under any chunking (SSE and NDJSON)', () => {
    fc.assert(
      fc.property(
        piiTextArb,
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.constantFrom(0, 0, 0, 5, 64),
        fc.constantFrom('sse' as const, 'ndjson' as const),
        (text, sizes, cutSeeds, windowChars, format) => {
          const expected = expectedRedaction(text);
          fc.pre(expected !== undefined);
          const parts = pieces(text, sizes);
          const bytes = enc(format === 'sse' ? openAiChatStream(parts) : ollamaChatStream(parts));
          const positions = [...new Set(cutSeeds.map((s) => s % bytes.length))].filter((p) => p > 0).sort((a, b) => a - b);
          const policy = new StreamPolicy({ format, protocol: format === 'sse' ? 'openai-chat' : 'ollama', requestId: 'r', decide: redactAll, windowChars });
          const writes: string[] = [];
          for (const chunk of cut(bytes, positions)) writes.push(...policy.push(chunk).map((b) => b.toString('utf8')));
          writes.push(...policy.end().map((b) => b.toString('utf8')));
          expect(policy.outcome.code).toBe('ok');
          const out = writes.join('');
          if (format === 'sse') {
            expect(chatText(out)).toBe(expected);
            // role chunk + one per part + finish + [DONE]
            expect(sseEvents(out)).toHaveLength(parts.length + 3);
          } else {
            const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as { message: { content: string } });
            expect(lines.map((l) => l.message.content).join('')).toBe(expected);
            expect(lines).toHaveLength(parts.length + 1);
          }
          // Every write is whole events, never a piece of one.
          for (const w of writes) expect(format === 'sse' ? w.endsWith('\n\n') : w.endsWith('\n')).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('StreamPolicy property: two channels, overtaking', () => {
  it('each channel reads exactly its non-streamed redaction, and each channel keeps its order, when events of two channels interleave', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), piiTextArb.map((t) => t.slice(0, 12))), { minLength: 1, maxLength: 30 }),
        fc.constantFrom('sse' as const, 'ndjson' as const),
        (parts, format) => {
          const channels = format === 'sse' ? (['reasoning_content', 'content'] as const) : (['thinking', 'content'] as const);
          const texts = [0, 1].map((c) => parts.filter(([second]) => Number(second) === c).map(([, t]) => t).join(''));
          const expected = texts.map((t) => expectedRedaction(t));
          fc.pre(expected.every((e) => e !== undefined));
          const events = parts.map(([second, t], i) => {
            const field = channels[Number(second)]!;
            return format === 'sse'
              ? `data: ${JSON.stringify({ choices: [{ index: 0, delta: { [field]: t } }], n: i })}\n\n`
              : `${JSON.stringify({ message: { role: 'assistant', [field]: t }, done: false, n: i })}\n`;
          });
          const input = events.join('') + (format === 'sse' ? 'data: [DONE]\n\n' : `${JSON.stringify({ message: { role: 'assistant', content: '' }, done: true })}\n`);
          const { out, policy } = runStream([enc(input)], { format, protocol: format === 'sse' ? 'openai-chat' : 'ollama' });
          expect(policy.outcome.code).toBe('ok');
          const blocks = format === 'sse' ? sseEvents(out).filter((b) => b !== 'data: [DONE]').map((b) => b.slice('data: '.length)) : out.trimEnd().split('\n').slice(0, -1);
          expect(blocks).toHaveLength(parts.length);
          const got = ['', ''];
          const lastSeen = [-1, -1];
          for (const block of blocks) {
            const json = JSON.parse(block) as { n: number; choices?: Array<{ delta: Record<string, string> }>; message?: Record<string, string> };
            const fields = format === 'sse' ? json.choices![0]!.delta : json.message!;
            const c = channels[1] in fields ? 1 : 0;
            got[c] += fields[channels[c]!]!;
            // Within a channel, events keep their upstream order.
            expect(json.n).toBeGreaterThan(lastSeen[c]!);
            lastSeen[c] = json.n;
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
