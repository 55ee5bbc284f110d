/**
 * Request framing at the boundary, written byte for byte on raw TLS sockets:
 * smuggling attempts, broken chunking, header limits, duplicate Host,
 * pipelining, upgrades and request-target forms. Every case asserts the exact
 * status and problem code, that nothing smuggled reached the model server, and
 * that the proxy still serves the next request (docs/security.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, head } from '../../helpers/raw-http.js';
import { expectStillServing, startFixture, upstreamPaths, type Fixture } from './fixture.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture();
});

afterAll(async () => {
  await fx?.close();
});

const JSON_POST = 'POST /v1/chat/completions HTTP/1.1';
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n';

interface Case {
  readonly name: string;
  readonly payload: string;
  readonly status: number;
  readonly code: string;
}

/** Each must be refused outright and the connection closed: nothing after it may be read as a request. */
const REFUSED: Case[] = [
  // Smuggling: two framings in one request.
  {
    name: 'Content-Length and Transfer-Encoding together',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 4', 'Transfer-Encoding: chunked']) + '0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'obfuscated Transfer-Encoding (xchunked)',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: xchunked']) + '0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'Transfer-Encoding with chunked not last',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: chunked, identity']) + '0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'space before the colon of Transfer-Encoding',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding : chunked', 'Content-Length: 4']) + '0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'Transfer-Encoding folded onto a second line (obs-fold)',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 5', 'Transfer-Encoding:', ' chunked']) + '0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'obs-fold in an ordinary header',
    payload: head('GET /v1/models HTTP/1.1', ['X-Folded: a', ' b']) + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'duplicate Content-Length, same value',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 2', 'Content-Length: 2']) + '{}' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'conflicting Content-Length',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 2', 'Content-Length: 40']) + '{}' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'Content-Length as a list',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 2, 2']) + '{}' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'signed Content-Length',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Content-Length: +2']) + '{}' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'bare LF line endings',
    payload: 'GET /v1/models HTTP/1.1\nHost: localhost\nX-A: 1\n\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'bare CR inside a header value',
    payload: head('GET /v1/models HTTP/1.1', ['X-A: a\rTransfer-Encoding: chunked']) + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'NUL inside a header value',
    payload: head('GET /v1/models HTTP/1.1', ['X-A: a\u0000b']) + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  // Invalid chunking.
  {
    name: 'chunk size that is not hex',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: chunked']) + 'zz\r\n{}\r\n0\r\n\r\n',
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'chunk size that overflows 64 bits',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: chunked']) + 'fffffffffffffffff1\r\n{}\r\n0\r\n\r\n',
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'chunk data longer than its size (no CRLF where one must be)',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: chunked']) + '1\r\n{}\r\n0\r\n\r\n' + SMUGGLED,
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  {
    name: 'negative chunk size',
    payload: head(JSON_POST, ['Content-Type: application/json', 'Transfer-Encoding: chunked']) + '-2\r\n{}\r\n0\r\n\r\n',
    status: 400,
    code: 'EG_BAD_REQUEST',
  },
  // Request line.
  { name: 'unknown method', payload: head('FOO /v1/models HTTP/1.1'), status: 400, code: 'EG_BAD_REQUEST' },
  { name: 'lower-case method', payload: head('get /v1/models HTTP/1.1'), status: 400, code: 'EG_BAD_REQUEST' },
  { name: 'HTTP/2.0 on an HTTP/1.1 connection', payload: head('GET /v1/models HTTP/2.0'), status: 400, code: 'EG_BAD_REQUEST' },
  { name: 'the HTTP/2 connection preface', payload: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 400, code: 'EG_BAD_REQUEST' },
  { name: 'missing Host in HTTP/1.1', payload: head('GET /v1/models HTTP/1.1', [], ''), status: 400, code: 'EG_BAD_REQUEST' },
  // Header limits (the suite runs with headerBytes 8192, headerCount 100).
  {
    name: '500 header fields',
    payload: head('GET /v1/models HTTP/1.1', Array.from({ length: 500 }, (_, i) => `X-H${i}: v`)),
    status: 431,
    code: 'EG_TOO_MANY_HEADERS',
  },
  {
    name: '101 header fields (one past the limit)',
    payload: head('GET /v1/models HTTP/1.1', Array.from({ length: 100 }, (_, i) => `X-H${i}: v`)),
    status: 431,
    code: 'EG_TOO_MANY_HEADERS',
  },
  {
    name: 'header block over 8 KiB in many small fields',
    payload: head('GET /v1/models HTTP/1.1', Array.from({ length: 90 }, (_, i) => `X-H${i}: ${'v'.repeat(100)}`)),
    status: 431,
    code: 'EG_HEADERS_TOO_LARGE',
  },
  {
    name: 'one 20 KiB header',
    payload: head('GET /v1/models HTTP/1.1', [`X-Big: ${'v'.repeat(20 * 1024)}`]),
    status: 431,
    code: 'EG_HEADERS_TOO_LARGE',
  },
  {
    name: 'two Host headers',
    payload: head('GET /v1/models HTTP/1.1', ['Host: upstream.internal']),
    status: 400,
    code: 'EG_AMBIGUOUS_REQUEST',
  },
  {
    name: 'two Host headers, same value, different case',
    payload: head('GET /v1/models HTTP/1.1', ['host: localhost']),
    status: 400,
    code: 'EG_AMBIGUOUS_REQUEST',
  },
  // Upgrades: refused, not tunnelled past the policy.
  {
    name: 'WebSocket upgrade',
    payload: head('GET /v1/models HTTP/1.1', ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']),
    status: 501,
    code: 'EG_UPGRADE_NOT_SUPPORTED',
  },
  {
    name: 'h2c upgrade',
    payload: head('GET /v1/models HTTP/1.1', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']),
    status: 501,
    code: 'EG_UPGRADE_NOT_SUPPORTED',
  },
  // Request-target forms other than origin-form.
  { name: 'authority-form (CONNECT)', payload: head('CONNECT localhost:443 HTTP/1.1'), status: 400, code: 'EG_AMBIGUOUS_PATH' },
  { name: 'asterisk-form', payload: head('OPTIONS * HTTP/1.1'), status: 400, code: 'EG_AMBIGUOUS_PATH' },
  { name: 'absolute-form with http', payload: head('GET http://localhost/v1/models HTTP/1.1'), status: 400, code: 'EG_AMBIGUOUS_PATH' },
  {
    name: 'absolute-form naming another host than Host',
    payload: head('GET https://upstream.internal/v1/models HTTP/1.1'),
    status: 400,
    code: 'EG_AMBIGUOUS_REQUEST',
  },
];

describe('refused framing', () => {
  it.each(REFUSED)('$name → $status $code, connection closed, nothing smuggled', async ({ payload, status, code }) => {
    const before = fx.upstream.received.length;
    const result = await exchange(fx.gateway, payload);
    expect(result.responses.map((r) => [r.status, r.code])).toEqual([[status, code]]);
    expect(result.responses[0]!.headers['content-type']).toBe('application/problem+json');
    expect(result.closed).toBe(true);
    expect(upstreamPaths(fx.upstream, before)).not.toContain('/smuggled');
    await expectStillServing(fx.gateway);
  });
});

describe('accepted framing', () => {
  it('serves exactly 100 header fields (the limit, Host included)', async () => {
    const result = await exchange(fx.gateway, head('GET /v1/models HTTP/1.1', [...Array.from({ length: 98 }, (_, i) => `X-H${i}: v`), 'Connection: close']));
    expect(result.responses.map((r) => r.status)).toEqual([200]);
  });

  it('serves an absolute-form target naming this host as its origin form', async () => {
    const before = fx.upstream.received.length;
    const result = await exchange(fx.gateway, head('GET https://localhost/v1/models?x=1 HTTP/1.1', ['Connection: close']));
    expect(result.responses.map((r) => r.status)).toEqual([200]);
    expect(upstreamPaths(fx.upstream, before)).toEqual(['/v1/models?x=1']);
  });

  it('answers pipelined requests in order, each once, and the upstream sees each once (in any order)', async () => {
    const before = fx.upstream.received.length;
    const body = '{"model":"m","messages":[]}';
    const payload =
      head('GET /v1/models HTTP/1.1', ['X-Request-Id: p1']) +
      head(JSON_POST, ['X-Request-Id: p2', 'Content-Type: application/json', `Content-Length: ${body.length}`]) +
      body +
      head('GET /v1/models HTTP/1.1', ['X-Request-Id: p3', 'Connection: close']);
    const result = await exchange(fx.gateway, payload);
    expect(result.responses.map((r) => [r.status, r.headers['x-request-id']])).toEqual([
      [200, 'p1'],
      [200, 'p2'],
      [200, 'p3'],
    ]);
    expect(JSON.parse(result.responses[1]!.body.toString('utf8'))).toEqual({ echoed: body.length });
    expect(upstreamPaths(fx.upstream, before).sort()).toEqual(['/v1/chat/completions', '/v1/models', '/v1/models']);
  });

  it('stops at a refused pipelined request: the ones after it are never read', async () => {
    const before = fx.upstream.received.length;
    const payload =
      head('GET /v1/models HTTP/1.1', ['X-Request-Id: q1']) +
      head('GET /v1/models HTTP/1.1', ['X-Request-Id: q2', 'Host: other']) +
      head('GET /smuggled HTTP/1.1', ['X-Request-Id: q3']);
    const result = await exchange(fx.gateway, payload);
    expect(result.responses.map((r) => [r.status, r.code ?? 'ok'])).toEqual([
      [200, 'ok'],
      [400, 'EG_AMBIGUOUS_REQUEST'],
    ]);
    expect(result.closed).toBe(true);
    expect(upstreamPaths(fx.upstream, before)).toEqual(['/v1/models']);
  });

  it('counts requests refused before the pipeline', async () => {
    const text = await (await fetch(`${fx.gateway.adminUrl}/metrics`)).text();
    expect(text).toMatch(/enclave_gate_requests_total\{decision="error",code="EG_TOO_MANY_HEADERS"\} [1-9]/);
    expect(text).toMatch(/enclave_gate_requests_total\{decision="error",code="EG_AMBIGUOUS_REQUEST"\} [1-9]/);
  });
});
