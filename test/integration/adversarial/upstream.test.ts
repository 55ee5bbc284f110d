/**
 * A model server that misbehaves: resets mid-body, sends a response that is not
 * HTTP, huge headers, never answers, stalls mid-body, claims one content type
 * and sends another, sends a JSON string of 100 MB. It is a raw TCP server so
 * it can send bytes no HTTP library would. Each case asserts the exact status
 * and code the client gets, that the proxy stopped reading where it should, and
 * that the next request is still served.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { LIMITS } from './fixture.js';

type Behaviour = (socket: Socket) => void;

const HUGE_STRING_BYTES = 100 * 1024 * 1024;
/** Bytes the 100 MB case managed to write before the proxy stopped reading. */
let hugeWritten = 0;
let hugeClosed: Promise<void> = Promise.resolve();

const json = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

const BEHAVIOURS: Record<string, Behaviour> = {
  ok: (s) => void s.write(json('{"object":"list","data":[]}')),
  'reset-mid-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"a":"');
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  'close-mid-body': (s) => {
    s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"a":"');
  },
  'not-http': (s) => void s.end('SSH-2.0-OpenSSH_9.6\r\n'),
  'invalid-status': (s) => void s.end('HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n'),
  'bad-chunking': (s) => void s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
  'huge-headers': (s) => void s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-big: ${'v'.repeat(128 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`),
  'never-answers': () => undefined,
  'stalls-mid-body': (s) => void s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":'),
  'claims-json-sends-html': (s) => void s.write(json('<html><body>alice@example.com</body></html>')),
  'claims-text-sends-json': (s) =>
    void s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 31\r\n\r\n{"email":"alice@example.com"}\r\n`),
  // Labelled text, body still arriving when the policy refuses it: the proxy must drop it without crashing.
  'text-still-streaming': (s) => void s.write('HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 100000\r\n\r\n<html>alice@example.com'),
  'gzip-json-still-streaming': (s) =>
    void s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: 100000\r\n\r\n\x1f\x8b\x08\x00'),
  'json-with-pii': (s) => void s.write(json('{"content":"write to alice@example.com"}')),
  'huge-json-string': (s) => {
    hugeWritten = 0;
    hugeClosed = new Promise((resolve) => s.once('close', () => resolve()));
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${HUGE_STRING_BYTES + 2}\r\n\r\n"`);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = (): void => {
      while (!s.destroyed && hugeWritten < HUGE_STRING_BYTES) {
        hugeWritten += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      if (!s.destroyed) s.end('"');
    };
    pump();
  },
};

let upstream: Server;
let gateway: Gateway;

beforeAll(async () => {
  upstream = createServer((socket) => {
    socket.on('error', () => undefined);
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      for (;;) {
        const end = seen.indexOf('\r\n\r\n');
        if (end === -1) return;
        const headBlock = seen.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headBlock)?.[1] ?? 0);
        if (seen.length < end + 4 + length) return;
        seen = seen.slice(end + 4 + length);
        // The behaviour is the model name in GET /v1/models/<name>, or the x-behaviour header.
        const name = /\r\nx-behaviour: *(\S+)/i.exec(headBlock)?.[1] ?? (/^[A-Z]+ (\S+)/.exec(headBlock)?.[1] ?? '').replace('/v1/models/', '');
        (BEHAVIOURS[name] ?? BEHAVIOURS['ok']!)(socket);
      }
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  gateway = await startTestGateway(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { limits: LIMITS });
});

afterAll(async () => {
  await gateway?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

async function get(model: string) {
  const result = await exchange(gateway, head(`GET /v1/models/${model} HTTP/1.1`, ['Connection: close']), { waitMs: 8000 });
  return result.responses[0];
}

/** POST /v1/chat/completions (a model route) with the behaviour named in a header. */
async function chat(behaviour: string) {
  const body = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
  const result = await exchange(
    gateway,
    head('POST /v1/chat/completions HTTP/1.1', ['Connection: close', 'Content-Type: application/json', `Content-Length: ${body.length}`, `X-Behaviour: ${behaviour}`]) + body,
    { waitMs: 8000 },
  );
  return result.responses[0];
}

async function expectStillServing(): Promise<void> {
  const response = await get('ok');
  expect(response?.status, 'the proxy must keep serving after the case').toBe(200);
}

const CASES: { name: string; status: number; code: string }[] = [
  { name: 'reset-mid-body', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'close-mid-body', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'not-http', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'invalid-status', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'bad-chunking', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'huge-headers', status: 502, code: 'EG_UPSTREAM_UNAVAILABLE' },
  { name: 'never-answers', status: 504, code: 'EG_UPSTREAM_TIMEOUT' },
  { name: 'stalls-mid-body', status: 504, code: 'EG_UPSTREAM_TIMEOUT' },
  // The body does not parse as the JSON it claims: refused, not passed through unread.
  { name: 'claims-json-sends-html', status: 502, code: 'EG_UPSTREAM_INVALID_JSON' },
  // Compressed JSON cannot be read by the policy; refused while the body is still arriving.
  { name: 'gzip-json-still-streaming', status: 502, code: 'EG_UPSTREAM_INVALID_JSON' },
];

describe('upstream misbehaviour', () => {
  it.each(CASES)('$name → $status $code, then still serving', async ({ name, status, code }) => {
    const response = await get(name);
    expect([response?.status, response?.code]).toEqual([status, code]);
    expect(response?.body.toString('utf8')).not.toContain('alice@example.com');
    await expectStillServing();
  });

  it('claims text/plain and sends JSON on a model route → 502 EG_RESPONSE_DENIED (the policy cannot read it, so it is withheld)', async () => {
    const response = await chat('claims-text-sends-json');
    expect([response?.status, response?.code]).toEqual([502, 'EG_RESPONSE_DENIED']);
    expect(response?.body.toString('utf8')).not.toContain('alice@example.com');
    await expectStillServing();
  });

  it('answers with an unreadable type while the body is still arriving → 502 EG_RESPONSE_DENIED, and the proxy survives dropping it', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await chat('text-still-streaming');
      expect([response?.status, response?.code]).toEqual([502, 'EG_RESPONSE_DENIED']);
    }
    await expectStillServing();
  });

  it('claims JSON and sends HTML on a model route → 502 EG_UPSTREAM_INVALID_JSON', async () => {
    const response = await chat('claims-json-sends-html');
    expect([response?.status, response?.code]).toEqual([502, 'EG_UPSTREAM_INVALID_JSON']);
    await expectStillServing();
  });

  it('redacts PII in a well-formed JSON answer (control case: the upstream is otherwise honest)', async () => {
    const response = await get('json-with-pii');
    expect(response?.status).toBe(200);
    expect(response?.body.toString('utf8')).not.toContain('alice@example.com');
  });

  it('a JSON body that is one 100 MB string → 502 at the response limit; the proxy stops reading early', async () => {
    const response = await get('huge-json-string');
    expect([response?.status, response?.code]).toEqual([502, 'EG_UPSTREAM_RESPONSE_TOO_LARGE']);
    await hugeClosed;
    // The limit is 1 MiB; socket buffers on both sides let a few MiB more through, not 100.
    expect(hugeWritten).toBeLessThan(16 * 1024 * 1024);
    await expectStillServing();
  });
});
