// The upstream call (src/proxy/upstream-call.ts) against a real HTTP server
// over loopback: each way of taking the body, the limit, aborts, 1xx answers,
// and that a body nobody takes never holds its connection.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { EnclaveGateError } from '../../../src/errors.js';
import { abortUpstreamOf, callUpstream, type AbortsUpstream } from '../../../src/proxy/upstream-call.js';
import { closedPort, startUpstream, type TestUpstream } from '../../helpers/upstream.js';

let upstream: TestUpstream;
let pool: Pool;

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
});
afterEach(async () => {
  await pool?.close();
});

const client = (): AbortsUpstream & { aborted?: boolean } => ({});
const get = (path: string) => ({ path, method: 'GET' as const, headers: {} });

async function readAllOf(readable: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('callUpstream', () => {
  it('collects a JSON answer whole, with status and parsed headers', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    upstream.route('/json', (_req, _body, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-two': ['a', 'b'] });
      res.end('{"ok":true}');
    });
    const answer = await callUpstream(pool, get('/json'), client());
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['x-two']).toEqual(['a', 'b']);
    expect((await answer.body.readAll(1024)).toString()).toBe('{"ok":true}');
  });

  it('fails past the limit with EG_UPSTREAM_RESPONSE_TOO_LARGE, and the connection serves the next call', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    upstream.route('/big', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(256 * 1024, 0x20));
    });
    upstream.route('/small', (_req, _body, res) => {
      res.end('{}');
    });
    const answer = await callUpstream(pool, get('/big'), client());
    const failure = await answer.body.readAll(1000).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(EnclaveGateError);
    expect((failure as EnclaveGateError).code).toBe('EG_UPSTREAM_RESPONSE_TOO_LARGE');
    const next = await callUpstream(pool, get('/small'), client());
    expect((await next.body.readAll(1000)).toString()).toBe('{}');
  });

  it('streams with backpressure: the upstream is paused while nobody reads, and nothing is lost', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    const TOTAL = 4000;
    let written = 0;
    upstream.route('/stream', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = `data: ${'x'.repeat(2000)}\n\n`;
      for (written = 0; written < TOTAL; written++) if (!res.write(event)) await once(res, 'drain');
      res.end();
    });
    const answer = await callUpstream(pool, get('/stream'), client());
    const readable = answer.body.stream();
    // Nobody reads: once the buffers on the way are full, the upstream's count stands still.
    let last = -1;
    for (let stable = 0, i = 0; stable < 3 && i < 50; i++) {
      await sleep(150);
      stable = written === last ? stable + 1 : 0;
      last = written;
    }
    expect(written).toBe(last);
    expect(written).toBeLessThan(TOTAL);
    expect((await readAllOf(readable)).length).toBe(TOTAL * 2008);
  });

  it('aborts the call when the client goes away, and when a streamed body is destroyed', async () => {
    pool = new Pool(upstream.url, { connections: 2 });
    let closed = 0;
    upstream.route('/hang', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.on('close', () => closed++);
    });
    const gone = client();
    const first = callUpstream(pool, get('/hang'), gone);
    const answer = await first;
    abortUpstreamOf(gone, new Error('client went away'));
    const failure = await answer.body.readAll(1024).catch((err: unknown) => err);
    expect((failure as EnclaveGateError).code).toBe('EG_UPSTREAM_UNAVAILABLE');
    const second = await callUpstream(pool, get('/hang'), client());
    second.body.stream().destroy();
    for (let i = 0; i < 50 && closed < 2; i++) await sleep(20);
    expect(closed).toBe(2);
  });

  it('never starts a call for a client already gone, and maps a refused connection', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    const failure = await callUpstream(pool, get('/json'), { aborted: true }).catch((err: unknown) => err);
    expect((failure as EnclaveGateError).code).toBe('EG_UPSTREAM_UNAVAILABLE');
    const down = new Pool(`http://127.0.0.1:${await closedPort()}`);
    const refused = await callUpstream(down, get('/x'), client()).catch((err: unknown) => err);
    expect((refused as EnclaveGateError).code).toBe('EG_UPSTREAM_UNAVAILABLE');
    expect((refused as EnclaveGateError).message).toContain('ECONNREFUSED');
    await down.close();
  });

  it('skips 1xx answers and resolves with the final one', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    upstream.route('/hints', (_req, _body, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.writeHead(200, { 'content-type': 'application/json' }).end('[1]');
    });
    const answer = await callUpstream(pool, get('/hints'), client());
    expect(answer.statusCode).toBe(200);
    expect((await answer.body.readAll(100)).toString()).toBe('[1]');
  });

  it('frees the connection of a body nobody took', async () => {
    pool = new Pool(upstream.url, { connections: 1 });
    upstream.route('/endless', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(32 * 1024)), 5);
      res.on('close', () => clearInterval(timer));
    });
    upstream.route('/small', (_req, _body, res) => {
      res.end('{}');
    });
    const answer = await callUpstream(pool, get('/endless'), client());
    answer.body.release();
    expect(() => answer.body.readAll(10)).toThrow(/already taken/);
    // With one connection, the next call can only be served once the first is gone.
    const next = await callUpstream(pool, get('/small'), client());
    expect((await next.body.readAll(100)).toString()).toBe('{}');
  });
});
