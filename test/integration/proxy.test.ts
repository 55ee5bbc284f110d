/**
 * The proxy end to end: real TLS handshakes (the client trusts exactly the
 * gateway's certificate), a real upstream HTTP server, the real compiled
 * default policy.
 */
import { connect as tlsConnect } from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Dispatcher } from 'undici';
import type { Gateway } from '../../src/proxy/gateway.js';
import { decodeClaims, reportDataFor } from '../../src/wire/claims.js';
import { EVIDENCE_TAG, OID_TCG_DICE_TAGGED_EVIDENCE, decodeTaggedEvidence } from '../../src/wire/extension.js';
import { decodeSimulatedEvidence } from '../../src/wire/simulated-evidence.js';
import { loadPolicy } from '../../src/policy/engine.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { findExtension } from '../helpers/x509-extensions.js';

let upstream: TestUpstream;
let gateway: Gateway;
let agent: Dispatcher;

const JSON_HEADERS = { 'content-type': 'application/json' };

async function call(path: string, init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string | Buffer } = {}, gw = gateway, dispatcher = agent) {
  const res = await request(`${gw.url}${path}`, { dispatcher, method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body ?? null });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
}

/** Sends raw bytes over a verified TLS connection and returns the raw answer (the server closes: the payload asks for it or is refused). */
function rawExchange(gw: Gateway, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const url = new URL(gw.url);
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: gw.certificate.certPem, servername: 'localhost' }, () => socket.write(payload));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await startTestGateway(upstream.url, { limits: { requestBodyBytes: 4096, upstreamHeadersTimeoutMs: 400 } });
  agent = trustingAgent(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('allowed traffic', () => {
  it('forwards an allowed request byte-exact both ways', async () => {
    const sent = Buffer.from('{"model":"m",  "messages":[{"role":"user","content":"h\\u00e9llo ☃"}]}\n', 'utf8');
    const answer = Buffer.from('{ "id":"cmpl-1",\n "choices":[{"message":{"role":"assistant","content":"bonjour ☃"}}] }', 'utf8');
    upstream.route('/v1/chat/completions', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-upstream': 'yes' });
      res.end(answer);
    });
    const before = upstream.received.length;
    const res = await call('/v1/chat/completions?trace=1', { method: 'POST', headers: { ...JSON_HEADERS, 'x-client': 'c1' }, body: sent });
    expect(res.status).toBe(200);
    expect(res.bytes.equals(answer)).toBe(true);
    expect(res.headers['x-upstream']).toBe('yes');
    const seen = upstream.received[before]!;
    expect(seen.body.equals(sent)).toBe(true);
    expect(seen.url).toBe('/v1/chat/completions?trace=1');
    expect(seen.headers['x-client']).toBe('c1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).toBe(seen.headers['x-request-id']);
  });

  it('keeps a safe client request id and replaces an unsafe one', async () => {
    upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
    const ok = await call('/v1/models', { headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers['x-request-id']).toBe('abc-123');
    const bad = await call('/v1/models', { headers: { 'x-request-id': 'a b\tc' } });
    expect(bad.headers['x-request-id']).not.toBe('a b\tc');
  });

  it('strips hop-by-hop headers, including those the connection header names', async () => {
    upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json', connection: 'x-upstream-hop', 'x-upstream-hop': '1' }).end('{}'));
    const before = upstream.received.length;
    const raw = await rawExchange(
      gateway,
      'GET /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close, x-secret-hop\r\nX-Secret-Hop: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nTE: trailers\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(raw.toLowerCase()).not.toContain('x-upstream-hop');
    const seen = upstream.received[before]!;
    expect(seen.headers['x-secret-hop']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['te']).toBeUndefined();
  });

  it('streams server-sent events through as they are produced', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    upstream.route('/v1/completions', async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      await gate;
      res.end('data: [DONE]\n\n');
    });
    const res = await request(`${gateway.url}/v1/completions`, { dispatcher: agent, method: 'POST', headers: JSON_HEADERS, body: '{"prompt":"x","stream":true}' });
    expect(res.statusCode).toBe(200);
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    // The first event arrived while the upstream was still holding the stream open.
    expect(Buffer.from(first.value as Buffer).toString()).toContain('"n":1');
    release();
    let rest = '';
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest += Buffer.from(next.value as Buffer).toString();
    expect(rest).toContain('[DONE]');
  });
});

describe('client disconnects', () => {
  it('aborts the upstream request when the client goes away mid-stream, and counts it', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    upstream.route('/v1/completions', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      res.on('close', () => upstreamClosed());
      // Never ends by itself: only the proxy aborting the call closes it.
    });
    const controller = new AbortController();
    const res = await request(`${gateway.url}/v1/completions`, { dispatcher: agent, method: 'POST', headers: JSON_HEADERS, body: '{"stream":true}', signal: controller.signal });
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await closed;
    await expect.poll(async () => (await (await request(`${gateway.adminUrl}/metrics`)).body.text()).includes('code="EG_CLIENT_CLOSED"'), { timeout: 5000 }).toBe(true);
  });
});

describe('policy denials', () => {
  it('denies a path outside the allowlist with a reason, and never calls the upstream', async () => {
    const before = upstream.received.length;
    const res = await call('/raw_customer_data');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const problem = res.json();
    expect(problem['code']).toBe('EG_POLICY_DENIED');
    expect((problem['reasons'] as string[]).join(' ')).toMatch(/path_not_allowed/);
    expect(upstream.received.length).toBe(before);
  });

  it('denies an e-mail address in the JSON body, naming type and location but not the value', async () => {
    const before = upstream.received.length;
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ messages: [{ role: 'user', content: 'write to alice.smith@example.org today' }] }),
    });
    expect(res.status).toBe(403);
    const text = res.bytes.toString();
    expect(text).toMatch(/pii_detected:email:\/messages\/0\/content/);
    expect(text).not.toContain('alice.smith');
    expect(upstream.received.length).toBe(before);
  });

  it('denies a payment card number that passes Luhn and allows one that fails it', async () => {
    upstream.route('/v1/embeddings', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
    const valid = await call('/v1/embeddings', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ input: 'card 4111-1111-1111-1111 please' }) });
    expect(valid.status).toBe(403);
    expect(valid.bytes.toString()).toMatch(/pii_detected:payment_card/);
    const invalid = await call('/v1/embeddings', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ input: 'order 4111-1111-1111-1112 please' }) });
    expect(invalid.status).toBe(200);
  });

  it('requires a JSON content type on POST', async () => {
    const res = await call('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(res.status).toBe(415);
    expect(res.json()['code']).toBe('EG_POLICY_DENIED');
  });

  it('redacts PII in a JSON response (the default policy), keeping it valid JSON with a correct length', async () => {
    upstream.route('/inference', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"note":"contact bob@example.com", "n": 1}'));
    const res = await call('/inference', { method: 'POST', headers: JSON_HEADERS, body: '{"transaction":{}}' });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ note: 'contact [REDACTED:EMAIL]', n: 1 });
    expect(Number(res.headers['content-length'])).toBe(res.bytes.length);
    expect(res.bytes.toString()).not.toContain('bob@example.com');
  });

  it('withholds a JSON response whose PII cannot be redacted (an object key)', async () => {
    upstream.route('/inference', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"bob@example.com":"x"}'));
    const res = await call('/inference', { method: 'POST', headers: JSON_HEADERS, body: '{"transaction":{}}' });
    expect(res.status).toBe(403);
    expect(res.json()['code']).toBe('EG_RESPONSE_DENIED');
    expect(res.bytes.toString()).not.toContain('bob@example.com');
  });
});

describe('bad input and failures', () => {
  it('answers invalid JSON with 400', async () => {
    const res = await call('/v1/chat/completions', { method: 'POST', headers: JSON_HEADERS, body: '{"messages": [' });
    expect(res.status).toBe(400);
    expect(res.json()['code']).toBe('EG_INVALID_JSON');
  });

  it('answers an oversized body with 413, declared or chunked', async () => {
    const big = JSON.stringify({ input: 'x'.repeat(8000) });
    const declared = await call('/v1/embeddings', { method: 'POST', headers: JSON_HEADERS, body: big });
    expect(declared.status).toBe(413);
    expect(declared.json()['code']).toBe('EG_BODY_TOO_LARGE');
    const raw = await rawExchange(
      gateway,
      `POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413/);
    expect(raw).toContain('EG_BODY_TOO_LARGE');
  });

  it('answers oversized headers with 431 problem+json', async () => {
    const raw = await rawExchange(gateway, `GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 431/);
    expect(raw).toContain('"code":"EG_HEADERS_TOO_LARGE"');
  });

  it('answers malformed HTTP with 400 problem+json', async () => {
    const raw = await rawExchange(gateway, 'THIS IS NOT HTTP\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).toContain('"code":"EG_BAD_REQUEST"');
  });

  it('answers a slow upstream with 504', async () => {
    upstream.route('/v1/models/slow', async (_req, _body, res) => {
      await new Promise((r) => setTimeout(r, 1500));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const res = await call('/v1/models/slow');
    expect(res.status).toBe(504);
    expect(res.json()['code']).toBe('EG_UPSTREAM_TIMEOUT');
  });

  it('answers an unreachable upstream with 502', async () => {
    const port = await closedPort();
    const down = await startTestGateway(`http://127.0.0.1:${port}`);
    const downAgent = trustingAgent(down);
    try {
      const res = await call('/v1/models', {}, down, downAgent);
      expect(res.status).toBe(502);
      expect(res.json()['code']).toBe('EG_UPSTREAM_UNAVAILABLE');
    } finally {
      await down.close();
    }
  });

  it('denies with 500 when the policy throws (fail closed)', async () => {
    // An operator policy that calls the PII builtin itself (the default policy
    // uses the proxy's own scan), with a builtin that throws.
    const dir = mkdtempSync(join(tmpdir(), 'eg-throwing-policy-'));
    writeFileSync(join(dir, 'request.rego'), 'package enclave_gate.request\n\ndecision := {"allow": count(enclave_gate.pii.scan(input.body)) == 0, "reasons": []}\n');
    writeFileSync(join(dir, 'response.rego'), 'package enclave_gate.response\n\ndecision := {"allow": true, "reasons": []}\n');
    const throwing = await loadPolicy(dir, {
      builtins: {
        'enclave_gate.pii.scan': () => {
          // opa-wasm builtins and aborts surface as thrown strings, not Errors.
          throw 'detector crashed';
        },
      },
    });
    const failing = await startTestGateway(upstream.url, {}, { policy: throwing });
    const failingAgent = trustingAgent(failing);
    const before = upstream.received.length;
    try {
      const res = await call('/v1/chat/completions', { method: 'POST', headers: JSON_HEADERS, body: '{"messages":[]}' }, failing, failingAgent);
      expect(res.status).toBe(500);
      expect(res.json()['code']).toBe('EG_POLICY_FAILURE');
      expect(res.bytes.toString()).not.toContain('detector crashed');
      expect(upstream.received.length).toBe(before);
    } finally {
      await failing.close();
    }
  });

  it('keeps serving after all of the above', async () => {
    upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
    expect((await call('/v1/models')).status).toBe(200);
  });
});

describe('RA-TLS certificate', () => {
  it('serves the evidence extension whose pubkey-hash matches the certificate key', async () => {
    const url = new URL(gateway.url);
    const der = await new Promise<Buffer>((resolve, reject) => {
      const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: gateway.certificate.certPem, servername: 'localhost' }, () => {
        const cert = socket.getPeerCertificate(true);
        expect(socket.getProtocol()).toBe('TLSv1.3');
        socket.end();
        resolve(cert.raw);
      });
      socket.on('error', reject);
    });
    const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
    const tagged = decodeTaggedEvidence(findExtension(der, OID_TCG_DICE_TAGGED_EVIDENCE).value);
    expect(tagged.tag).toBe(EVIDENCE_TAG.simulated);
    const claims = decodeClaims(tagged.claims);
    expect(Buffer.from(claims.pubkeyHash.digest).toString('hex')).toBe(createHash('sha384').update(spki).digest('hex'));
    expect(Buffer.from(claims.policyHash!.digest).toString('hex')).toBe(gateway.policy.digest.hex);
    expect(Buffer.from(decodeSimulatedEvidence(tagged.evidence).reportData).equals(Buffer.from(reportDataFor(tagged.claims)))).toBe(true);
  });
});

describe('admin listener', () => {
  it('reports health, readiness and metrics', async () => {
    const health = await request(`${gateway.adminUrl}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    const ready = await request(`${gateway.adminUrl}/readyz`);
    expect(ready.statusCode).toBe(200);
    const readyBody = (await ready.body.json()) as { policy: { digest: string } };
    expect(readyBody.policy.digest).toBe(`sha-384:${gateway.policy.digest.hex}`);
    const metrics = await request(`${gateway.adminUrl}/metrics`);
    const text = await metrics.body.text();
    expect(text).toMatch(/enclave_gate_requests_total\{decision="deny",code="EG_POLICY_DENIED"\} [1-9]/);
    expect(text).toMatch(/enclave_gate_requests_total\{decision="allow",code="ok"\} [1-9]/);
    expect(text).toMatch(/enclave_gate_request_duration_seconds_bucket\{le="0\.005",phase="policy"\}/);
    expect(text).toMatch(/enclave_gate_attestation_insecure\{provider="simulated"\} 1/);
    // Earlier tests sent an e-mail address and a Luhn-valid card in request bodies.
    expect(text).toMatch(/enclave_gate_pii_findings_total\{type="email",direction="request"\} [1-9]/);
    expect(text).toMatch(/enclave_gate_pii_findings_total\{type="payment_card",direction="request"\} [1-9]/);
    expect(text).not.toMatch(/alice\.smith/);
    const missing = await request(`${gateway.adminUrl}/nope`);
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
  });
});
