/**
 * The session-bound freshness exchange end to end: the real gateway answers
 * GET /.well-known/attestation over real TLS, and the client library checks
 * that the answer carries its nonce and this connection's exporter value.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { verify as verifyCli } from '../../src/cli/verify.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { createAttestedDispatcher, exchangeFreshness, verifyFreshAttestation, type Verdict } from '../../src/verify/index.js';
import { EXPORTER_LABEL, EXPORTER_LENGTH } from '../../src/wire/freshness.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;

function connect(gw: Gateway): Promise<TLSSocket> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: gw.certificate.certPem, servername: 'localhost' }, () => resolve(socket));
    socket.on('error', reject);
  });
}

const AT = () => new Date();

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  gateway = await startTestGateway(upstream.url, { freshness: { perSecond: 50, burst: 50 } });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('freshness endpoint', () => {
  it('answers with evidence bound to the nonce and this TLS session, never touching the model server', async () => {
    const before = upstream.received.length;
    const socket = await connect(gateway);
    const exchange = await exchangeFreshness(socket, 'localhost');
    const verdict = verifyFreshAttestation(exchange.answer, {
      at: AT(),
      certificate: new Uint8Array(socket.getPeerCertificate(true).raw),
      nonce: exchange.nonce,
      tlsExporter: exchange.tlsExporter,
      allowSimulated: true,
      referenceValues: { policyHashes: [`sha-384:${gateway.policy.digest.hex}`] },
    });
    socket.destroy();
    expect(verdict.code).toBeUndefined();
    expect(verdict.ok).toBe(true);
    expect(verdict.ratls?.nonce).toBe(Buffer.from(exchange.nonce).toString('hex'));
    expect(verdict.ratls?.tlsExporter).toBe(Buffer.from(exchange.tlsExporter).toString('hex'));
    expect(verdict.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['fresh.nonce', 'fresh.tls-exporter', 'ratls.report-data']));
    expect(upstream.received.length).toBe(before);
  });

  it('gives every connection its own exporter value', async () => {
    const [a, b] = await Promise.all([connect(gateway), connect(gateway)]);
    const ea = a.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0));
    const eb = b.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0));
    a.destroy();
    b.destroy();
    expect(ea.equals(eb)).toBe(false);
  });

  it('rejects an answer relayed from another connection, and a replayed nonce', async () => {
    const a = await connect(gateway);
    const b = await connect(gateway);
    const fromA = await exchangeFreshness(a, 'localhost');
    const certificate = new Uint8Array(b.getPeerCertificate(true).raw);
    const exporterB = new Uint8Array(b.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)));
    a.destroy();
    b.destroy();
    const relayed = verifyFreshAttestation(fromA.answer, { at: AT(), certificate, nonce: fromA.nonce, tlsExporter: exporterB, allowSimulated: true });
    expect(relayed.ok).toBe(false);
    expect(relayed.code).toBe('EG_VERIFY_BINDING');
    expect(relayed.message).toMatch(/relayed/);
    const otherNonce = new Uint8Array(32).fill(7);
    const replayed = verifyFreshAttestation(fromA.answer, { at: AT(), certificate, nonce: otherNonce, tlsExporter: fromA.tlsExporter, allowSimulated: true });
    expect(replayed.code).toBe('EG_VERIFY_BINDING');
    expect(replayed.message).toMatch(/nonce/);
  });

  it('refuses simulated fresh evidence unless allowed', async () => {
    const socket = await connect(gateway);
    const exchange = await exchangeFreshness(socket, 'localhost');
    const verdict = verifyFreshAttestation(exchange.answer, { at: AT(), certificate: new Uint8Array(socket.getPeerCertificate(true).raw), nonce: exchange.nonce, tlsExporter: exchange.tlsExporter });
    socket.destroy();
    expect(verdict.code).toBe('EG_VERIFY_SIMULATED');
  });

  it('answers a malformed nonce with 400, a POST with 405, and a burst beyond the limit with 429', async () => {
    const agent = trustingAgent(gateway);
    const bad = await request(`${gateway.url}/.well-known/attestation?nonce=xyz`, { dispatcher: agent });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { code: string }).code).toBe('EG_BAD_REQUEST');
    const post = await request(`${gateway.url}/.well-known/attestation?nonce=${'ab'.repeat(16)}`, { dispatcher: agent, method: 'POST', body: '' });
    expect(post.statusCode).toBe(405);
    await post.body.dump();

    const limited = await startTestGateway(upstream.url, { freshness: { perSecond: 0.01, burst: 2 } });
    const limitedAgent = trustingAgent(limited);
    try {
      const statuses: number[] = [];
      let retryAfter: string | string[] | undefined;
      for (let i = 0; i < 3; i++) {
        const res = await request(`${limited.url}/.well-known/attestation?nonce=${'cd'.repeat(16)}`, { dispatcher: limitedAgent });
        statuses.push(res.statusCode);
        if (res.statusCode === 429) {
          retryAfter = res.headers['retry-after'];
          expect(((await res.body.json()) as { code: string }).code).toBe('EG_RATE_LIMITED');
        } else await res.body.dump();
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('clients that require freshness', () => {
  it('the attested dispatcher checks fresh evidence on each new connection before the first request', async () => {
    const verdicts: Verdict[] = [];
    const dispatcher = createAttestedDispatcher({ allowSimulated: true, requireFresh: true, onVerdict: (v) => verdicts.push(v) });
    let connections = 0;
    dispatcher.on('connect', () => connections++);
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gateway.url}/v1/models`, { dispatcher });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    // Exactly one fresh, session-bound verdict per connection undici opened
    // (it may open more than one for sequential requests), each with its own exporter.
    const fresh = verdicts.filter((v) => v.ratls?.tlsExporter !== undefined);
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(fresh).toHaveLength(connections);
    expect(fresh.every((v) => v.ok)).toBe(true);
    expect(new Set(fresh.map((v) => v.ratls?.tlsExporter)).size).toBe(connections);
  });

  it('enclave-gate verify --fresh verifies the certificate and a fresh answer over one connection', async () => {
    let out = '';
    const code = await verifyCli([gateway.url, '--allow-simulated', '--fresh', '--json'], { stdout: (t) => void (out += t), stderr: () => undefined });
    expect(code).toBe(0);
    const json = JSON.parse(out) as { ok: boolean; steps: Array<{ step: string }> };
    expect(json.ok).toBe(true);
    expect(json.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['ratls.pubkey-hash', 'fresh.tls-exporter']));
  });
});
