/**
 * Hostile clients: slowloris headers and bodies, handshakes that never finish,
 * resets mid-request and mid-stream, and headers meant to steer the model
 * server. Deadlines come from the suite's short limits (requestTimeoutMs 1500),
 * so "closed in time" is asserted against the configured value plus node's
 * check interval, not against a guess.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, head } from '../../helpers/raw-http.js';
import { expectStillServing, LIMITS, startFixture, upstreamPaths, type Fixture } from './fixture.js';

let fx: Fixture;
/** Upper bound on how late a deadline may fire: the timeout plus node's connection check interval and scheduling slack. */
const DEADLINE_SLACK_MS = 1500;
const JSON_POST = 'POST /v1/chat/completions HTTP/1.1';
let streamAborted: Promise<void>;

beforeAll(async () => {
  fx = await startFixture();
  let aborted!: () => void;
  streamAborted = new Promise((resolve) => (aborted = resolve));
  fx.upstream.route('/v1/completions', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const timer = setInterval(() => res.write(`data: {"choices":[{"text":"token ${n++} "}]}\n\n`), 20);
    res.on('close', () => {
      clearInterval(timer);
      aborted();
    });
  });
});

afterAll(async () => {
  await fx?.close();
});

/** TLS over a TCP socket the test keeps, so it can reset the TCP connection (RST) itself. */
async function openResettable(): Promise<{ tcp: Socket; write: (data: string) => void; received: Promise<Buffer> }> {
  const url = new URL(fx.gateway.url);
  const tcp = netConnect({ host: url.hostname, port: Number(url.port) });
  await new Promise((resolve) => tcp.once('connect', resolve));
  const tls = tlsConnect({ socket: tcp, ca: fx.gateway.certificate.certPem, servername: 'localhost' });
  tls.on('error', () => undefined);
  tcp.on('error', () => undefined);
  await new Promise((resolve) => tls.once('secureConnect', resolve));
  const received = new Promise<Buffer>((resolve) => tls.once('data', (c: Buffer) => resolve(c)));
  return { tcp, write: (data) => void tls.write(data), received };
}

describe('slow clients', () => {
  it('slowloris headers: one header byte every 100 ms → 408 EG_REQUEST_TIMEOUT and closed within the deadline', async () => {
    const drip = Array.from('X-Slow: ' + 'a'.repeat(200), (c) => c);
    const result = await exchange(fx.gateway, 'GET /v1/models HTTP/1.1\r\nHost: localhost\r\n', { drip: { parts: drip, everyMs: 100 }, waitMs: 10_000 });
    expect(result.closed).toBe(true);
    expect(result.closedAfterMs!).toBeLessThan(LIMITS.requestTimeoutMs + DEADLINE_SLACK_MS);
    expect(result.responses.map((r) => [r.status, r.code])).toEqual([[408, 'EG_REQUEST_TIMEOUT']]);
    await expectStillServing(fx.gateway);
  });

  it('slow JSON body: one byte every 100 ms → 408 EG_REQUEST_TIMEOUT, closed, nothing forwarded', async () => {
    const before = fx.upstream.received.length;
    const body = '{"model":"m","messages":[]}'.padEnd(200, ' ');
    const result = await exchange(fx.gateway, head(JSON_POST, ['Content-Type: application/json', `Content-Length: ${body.length}`]), {
      drip: { parts: Array.from(body), everyMs: 100 },
      waitMs: 10_000,
    });
    expect(result.closed).toBe(true);
    expect(result.closedAfterMs!).toBeLessThan(LIMITS.requestTimeoutMs + DEADLINE_SLACK_MS);
    expect(result.responses.map((r) => [r.status, r.code])).toEqual([[408, 'EG_REQUEST_TIMEOUT']]);
    expect(upstreamPaths(fx.upstream, before)).toEqual([]);
    await expectStillServing(fx.gateway);
  });

  it('a TCP connection that never starts its TLS handshake is closed within the deadline', async () => {
    const url = new URL(fx.gateway.url);
    const started = Date.now();
    const tcp = netConnect({ host: url.hostname, port: Number(url.port) });
    tcp.on('error', () => undefined);
    await new Promise<void>((resolve) => tcp.once('close', () => resolve()));
    expect(Date.now() - started).toBeLessThan(LIMITS.requestTimeoutMs + DEADLINE_SLACK_MS);
    await expectStillServing(fx.gateway);
  });

  it('a TLS connection that never sends a request is closed within the deadline', async () => {
    const started = Date.now();
    const result = await exchange(fx.gateway, '', { waitMs: 10_000 });
    expect(result.closed).toBe(true);
    expect(result.closedAfterMs!).toBeLessThan(LIMITS.requestTimeoutMs + DEADLINE_SLACK_MS);
    expect(Date.now() - started).toBeGreaterThan(LIMITS.requestTimeoutMs / 2);
  });
});

describe('client resets', () => {
  it('reset mid-request (half a JSON body, then RST): nothing forwarded, still serving', async () => {
    const before = fx.upstream.received.length;
    const { tcp, write } = await openResettable();
    write(head(JSON_POST, ['Content-Type: application/json', 'Content-Length: 100']) + '{"model":"m","mess');
    await new Promise((resolve) => setTimeout(resolve, 50));
    tcp.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstreamPaths(fx.upstream, before)).toEqual([]);
    await expectStillServing(fx.gateway);
  });

  it('reset mid-stream (after the first event): the upstream call is aborted, still serving', async () => {
    const { tcp, write, received } = await openResettable();
    const body = '{"model":"m","prompt":"hi","stream":true}';
    write(head('POST /v1/completions HTTP/1.1', ['Content-Type: application/json', `Content-Length: ${body.length}`]) + body);
    const first = await received;
    expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    tcp.resetAndDestroy();
    await streamAborted;
    await expectStillServing(fx.gateway);
  });
});

describe('header injection towards the model server', () => {
  it('replaces or drops every header that would steer the model server, and forwards the rest verbatim', async () => {
    const before = fx.upstream.received.length;
    const payload = head('GET /v1/models HTTP/1.1', [
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: http',
      'X-Forwarded-For: 10.9.9.9',
      'Forwarded: for=10.9.9.9;host=evil.example',
      'X-Request-Id: ../../etc/passwd',
      'Proxy-Authorization: Basic ZXZpbDpldmls',
      'Keep-Alive: timeout=1',
      'TE: trailers',
      'Trailer: X-Late',
      'Connection: close, X-Internal-Auth',
      'X-Internal-Auth: let-me-in',
      'Accept-Encoding: gzip',
      'X-Client: kept',
    ]);
    const result = await exchange(fx.gateway, payload);
    expect(result.responses.map((r) => r.status)).toEqual([200]);
    const seen = fx.upstream.received[before]!;
    expect(seen.url).toBe('/v1/models');
    expect(seen.headers['host']).toBe(new URL(fx.upstream.url).host);
    expect(seen.headers['x-forwarded-host']).toBe('localhost');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    // Appended, so the model server can tell the proxy's own entry (the last) from what the client claimed.
    expect(seen.headers['x-forwarded-for']).toBe('10.9.9.9, 127.0.0.1');
    expect(seen.headers['forwarded']).toBeUndefined();
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    for (const dropped of ['proxy-authorization', 'keep-alive', 'te', 'trailer', 'x-internal-auth', 'accept-encoding']) {
      expect(seen.headers[dropped], dropped).toBeUndefined();
    }
    expect(seen.headers['x-client']).toBe('kept');
  });

  it('answers Expect: 100-continue and forwards the body without the expectation', async () => {
    const before = fx.upstream.received.length;
    const body = '{"model":"m","messages":[]}';
    const result = await exchange(
      fx.gateway,
      head(JSON_POST, ['Content-Type: application/json', `Content-Length: ${body.length}`, 'Expect: 100-continue', 'Connection: close']) + body,
    );
    expect(result.responses.map((r) => r.status).filter((s) => s !== 100)).toEqual([200]);
    expect(fx.upstream.received[before]?.headers['expect']).toBeUndefined();
  });
});
