/**
 * GPU evidence through the real gateway over real TLS: the certificate's CMW
 * collection and the /.well-known/attestation answer both carry the GPU's
 * report, made for the same claims, and a client requiring a GPU accepts
 * both, given the test root the fake GPU signs with (test/fakes/gpu.ts).
 * The CPU side is simulated. The certificates are issued now, so "now" is
 * the validation time; the fake GPU chain is valid 2020–2100.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider, type GpuReportSource } from '../../src/evidence/index.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { exchangeFreshness, verifyCertificate, verifyFreshAttestation } from '../../src/verify/index.js';
import { makeFakeGpu, type FakeGpu } from '../fakes/gpu.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;
let fake: FakeGpu;

beforeAll(async () => {
  fake = await makeFakeGpu();
  const gpuSource: GpuReportSource = {
    count: async () => 1,
    attest: async (_i, nonce) => ({ arch: 'Hopper', report: await fake.report(nonce), certificateChainPem: fake.chainPem }),
  };
  upstream = await startUpstream();
  gateway = await startTestGateway(upstream.url, { freshness: { perSecond: 50, burst: 50 } }, { provider: createProvider('simulated', { gpuSource }) });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

function connect(gw: Gateway): Promise<TLSSocket> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: gw.certificate.certPem, servername: 'localhost' }, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('GPU evidence beside CPU evidence, through the gateway', () => {
  it('the served certificate and a fresh answer both carry a GPU bound to their claims', async () => {
    const socket = await connect(gateway);
    const certificate = new Uint8Array(socket.getPeerCertificate(true).raw);
    const options = { at: new Date(), allowSimulated: true, nvidiaRoots: fake.roots, referenceValues: { requireGpus: 1 } };

    const cert = verifyCertificate(certificate, options);
    expect(cert.ok, cert.message).toBe(true);
    expect(cert.steps.some((s) => s.ok && s.step === 'gpu0.binding')).toBe(true);

    const exchange = await exchangeFreshness(socket, 'localhost');
    socket.destroy();
    expect((exchange.answer as { gpus?: unknown[] }).gpus).toHaveLength(1);
    const fresh = verifyFreshAttestation(exchange.answer, { ...options, certificate, nonce: exchange.nonce, tlsExporter: exchange.tlsExporter });
    expect(fresh.ok, fresh.message).toBe(true);
    // The fresh GPU report was made for the fresh claims, not the certificate's.
    const nonceOf = (v: typeof cert): string => (v.claims as { gpus: { nonce: string }[] }).gpus[0]!.nonce;
    expect(nonceOf(fresh)).not.toBe(nonceOf(cert));
    expect(nonceOf(fresh)).toBe(fresh.reportData!.slice(0, 64));
  });

  it('without the test root the GPU chain fails, on the certificate and on the fresh answer', async () => {
    const socket = await connect(gateway);
    const certificate = new Uint8Array(socket.getPeerCertificate(true).raw);
    const exchange = await exchangeFreshness(socket, 'localhost');
    socket.destroy();
    expect(verifyCertificate(certificate, { at: new Date(), allowSimulated: true }).code).toBe('EG_VERIFY_CHAIN');
    expect(verifyFreshAttestation(exchange.answer, { at: new Date(), allowSimulated: true, certificate, nonce: exchange.nonce, tlsExporter: exchange.tlsExporter }).code).toBe('EG_VERIFY_CHAIN');
  });
});
