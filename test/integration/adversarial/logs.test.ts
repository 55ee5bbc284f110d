/**
 * Invariant 4 (and 1) under hostile traffic: with the logger at `trace`, a
 * mix of allowed, denied, malformed, refused and upstream-failing requests
 * that all carry a secret marker in their bodies, targets' queries and
 * credentials produces log lines — and not one of them holds the marker, a
 * body, or the TLS private key.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../../src/config/index.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { startGateway, type Gateway } from '../../../src/proxy/gateway.js';
import { ensurePolicyBundle } from '../../helpers/gateway.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { LIMITS } from './fixture.js';

const MARKER = 'S3CRET-MARKER-7f3a';
const lines: string[] = [];
let upstream: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  ensurePolicyBundle();
  upstream = await startUpstream();
  upstream.route('/v1/chat/completions', (_req, body, res) => {
    if (body.includes('upstream-breaks')) return void res.destroy();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { content: `${MARKER} alice@example.com` } }] }));
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config = configSchema.parse({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', upstream: upstream.url, log: { level: 'trace' }, limits: LIMITS } as ConfigInput);
  gateway = await startGateway({ config, logger: createLogger('trace', sink), metrics: createMetrics({ defaults: false }) });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const post = (body: string, extra: string[] = []): string =>
  head('POST /v1/chat/completions?token=' + MARKER + ' HTTP/1.1', ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, `Authorization: Bearer ${MARKER}`, `Cookie: s=${MARKER}`, 'Connection: close', ...extra]) + body;

describe('logs under hostile traffic', () => {
  it('hold no body, no query, no credential and no key', async () => {
    const cases = [
      post(`{"messages":[{"role":"user","content":"${MARKER}"}]}`),
      post(`{"messages":[{"role":"user","content":"${MARKER} bob@example.com"}]}`),
      post(`{"messages": ${MARKER}`),
      post(`{"messages":[{"content":"${MARKER}"}],"pad":"${'x'.repeat(LIMITS.requestBodyBytes)}"}`),
      post(`{"messages":[{"content":"${MARKER} upstream-breaks"}]}`),
      post(`{"m":"${MARKER}"}`, ['Host: second']),
      post(`{"m":"${MARKER}"}`, ['Transfer-Encoding: chunked']),
      head(`GET /v1/models/..%2f${MARKER} HTTP/1.1`, ['Connection: close']),
      `GET /${MARKER} HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\u0000${MARKER}\r\n\r\n`,
    ];
    for (const payload of cases) await exchange(gateway, payload);
    expect(lines.length).toBeGreaterThan(cases.length);
    const keyPem = String(gateway.certificate.secureContextOptions().key ?? '');
    const keyBody = keyPem.split('\n').filter((l) => l.length > 0 && !l.startsWith('-----')).join('');
    for (const line of lines) {
      expect(line).not.toContain(MARKER);
      expect(line).not.toContain('alice@example.com');
      expect(line).not.toContain('bob@example.com');
      expect(line).not.toContain('PRIVATE KEY');
      if (keyBody.length > 0) expect(line).not.toContain(keyBody.slice(0, 40));
    }
  });
});
