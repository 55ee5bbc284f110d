import { describe, expect, it } from 'vitest';

import { LineSplitter, LineTooLongError } from '../../../src/proxy/stream/lines.js';
import { NdjsonParser } from '../../../src/proxy/stream/ndjson.js';
import { formatSse, serializeSse, SseParser, StreamSyntaxError, type SseEvent } from '../../../src/proxy/stream/sse.js';

const LIMITS = { maxLineBytes: 1 << 16, maxEventBytes: 1 << 16 };

function parseAll(chunks: readonly Uint8Array[]): { events: SseEvent[]; discarded: boolean } {
  const parser = new SseParser(LIMITS);
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  const end = parser.end();
  return { events: [...events, ...end.events], discarded: end.discarded };
}

/** Every way of cutting `bytes` into two pieces, and into single bytes. */
function splits(bytes: Buffer): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes], [...bytes].map((b) => Uint8Array.of(b))];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

describe('SseParser', () => {
  const stream = Buffer.from(
    ': a comment\r\n' +
      'event: delta\r\n' +
      'data: {"a":\r\n' +
      'data:1}\r\n' +
      '\r\n' +
      'id: 7\rdata: é☃😀\r\r' +
      'data: [DONE]\n\n' +
      'data: tail',
    'utf8',
  );

  it('parses the same events however the bytes are cut (CRLF, CR, LF, multi-byte characters)', () => {
    for (const chunks of splits(stream)) {
      const { events, discarded } = parseAll(chunks);
      expect(events.map((e) => e.data)).toEqual(['{"a":\n1}', 'é☃😀', '[DONE]']);
      expect(events[0]!.type).toBe('delta');
      expect(events[0]!.hasComments).toBe(true);
      expect(events[1]!.fields[0]).toEqual({ name: 'id', value: '7' });
      // The event without its blank line is never dispatched.
      expect(discarded).toBe(true);
      // Raw bytes are exactly the input, event by event.
      expect(Buffer.concat(events.map((e) => e.raw)).toString('utf8')).toBe(stream.toString('utf8').slice(0, -'data: tail'.length));
    }
  });

  it('keeps one leading space of a value and no more, and takes fields without a colon', () => {
    const { events } = parseAll([Buffer.from('data:  two\ndata\nevent:x\n\n')]);
    expect(events[0]!.data).toBe(' two\n');
    expect(events[0]!.type).toBe('x');
  });

  it('drops a byte order mark at the start only', () => {
    const { events } = parseAll([Buffer.from('\ufeffdata: a\n\n', 'utf8')]);
    expect(events[0]!.data).toBe('a');
  });

  it('rejects invalid UTF-8 and oversized events', () => {
    expect(() => new SseParser(LIMITS).push(Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a]))).toThrow(StreamSyntaxError);
    const small = new SseParser({ maxLineBytes: 64, maxEventBytes: 32 });
    expect(() => small.push(Buffer.from('data: 0123456789\ndata: 0123456789\ndata: x\n'))).toThrow(/exceeds/);
    expect(() => new SseParser({ maxLineBytes: 8, maxEventBytes: 64 }).push(Buffer.from('data: 0123456789'))).toThrow(LineTooLongError);
  });

  it('re-serialises with new data, other fields in order, comments dropped', () => {
    const { events } = parseAll([Buffer.from(': hidden\nevent: e\ndata: 1\ndata: 2\nid: 3\n\n')]);
    expect(serializeSse(events[0]!, '{"x":1}').toString()).toBe('event: e\ndata: {"x":1}\nid: 3\n\n');
    const { events: ping } = parseAll([Buffer.from(': keep-alive\n\n')]);
    expect(serializeSse(ping[0]!, undefined).toString()).toBe(':\n\n');
    expect(formatSse('{}', 'error').toString()).toBe('event: error\ndata: {}\n\n');
  });
});

describe('LineSplitter', () => {
  it('holds a trailing CR until it knows whether LF follows', () => {
    const s = new LineSplitter('sse', 100);
    expect(s.push(Buffer.from('a\r'))).toEqual([]);
    const lines = s.push(Buffer.from('\nb\n'));
    expect(lines.map((l) => l.raw.toString())).toEqual(['a\r\n', 'b\n']);
  });
});

describe('NdjsonParser', () => {
  const body = Buffer.from('{"message":{"content":"é"}}\r\n\n{"done":true}', 'utf8');

  it('splits on LF whatever the chunking, trims CR, and keeps the unterminated last line', () => {
    for (const chunks of splits(body)) {
      const parser = new NdjsonParser(1024);
      const lines = chunks.flatMap((c) => parser.push(c));
      lines.push(...parser.end());
      expect(lines.map((l) => l.text)).toEqual(['{"message":{"content":"é"}}', '', '{"done":true}']);
      expect(lines.map((l) => l.terminated)).toEqual([true, true, false]);
      expect(Buffer.concat(lines.map((l) => l.raw)).equals(body)).toBe(true);
    }
  });
});
