/**
 * createAttestedDispatcher against real TLS servers: one whose certificate
 * src/ratls/issue.ts issued with simulated evidence, one with an ordinary
 * self-signed certificate, one whose claims bind another key. The servers
 * count handshakes and application bytes, which proves that a server that
 * fails verification never receives a request byte.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import { issueCertificate } from '../../src/ratls/issue.js';
import { createAttestedDispatcher, type Verdict } from '../../src/verify/index.js';
import { formatHashEntry, hashEntry } from '../../src/wire/hash-entry.js';
import { TEST_POLICY_HASH, buildCertificate, defaultClaims, otherSpki } from '../unit/verify/front/cert-builder.js';

/** A TLS server that answers every request with 200 "ok" and closes, counting what it received. */
interface CountingServer {
  readonly server: Server;
  readonly url: string;
  /** connections: TCP accepts; handshakes: completed TLS handshakes; bytes: application bytes received. */
  readonly stats: { connections: number; handshakes: number; bytes: number; requests: number };
  setCertificate(key: string, cert: string): void;
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function startServer(key: string, cert: string): Promise<CountingServer> {
  const stats = { connections: 0, handshakes: 0, bytes: 0, requests: 0 };
  const server = createServer({ key, cert }, (socket: TLSSocket) => {
    stats.handshakes++;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
      buffered += chunk.toString('latin1');
      if (buffered.includes('\r\n\r\n')) {
        stats.requests++;
        buffered = '';
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      }
    });
    socket.on('error', () => undefined);
  });
  server.on('connection', () => stats.connections++);
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `https://127.0.0.1:${port}/v1/models`, stats, setCertificate: (k, c) => server.setSecureContext({ key: k, cert: c }) };
}

async function issue() {
  const issued = await issueCertificate({
    provider: createSimulatedProvider(),
    policyHash: TEST_POLICY_HASH,
    keyAlgorithm: 'P-384',
    validitySeconds: 3600,
    subjectAltNames: ['localhost', '127.0.0.1'],
    commonName: 'enclave-gate dispatcher test',
  });
  return { key: issued.secureContextOptions().key, cert: issued.certPem, issued };
}

/** Awaits a request that must fail, then gives in-flight bytes time to reach the server before counts are read. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    return error;
  }
  throw new Error('expected the request to fail');
}

describe('createAttestedDispatcher', () => {
  it('sends the request once the simulated RA-TLS certificate verifies (allowSimulated)', async () => {
    const { key, cert } = await issue();
    const srv = await startServer(key, cert);
    const verdicts: Verdict[] = [];
    const dispatcher = createAttestedDispatcher({ allowSimulated: true, onVerdict: (v) => verdicts.push(v) });
    const res = await request(srv.url, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(srv.stats.requests).toBe(1);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({ ok: true, platform: 'simulated', ratls: { format: 'enclave-gate', policyHash: formatHashEntry(TEST_POLICY_HASH) } });
    await dispatcher.close();
  });

  it('without allowSimulated the request fails with EG_VERIFY_SIMULATED and the server receives no byte', async () => {
    const { key, cert } = await issue();
    const srv = await startServer(key, cert);
    const verdicts: Verdict[] = [];
    const dispatcher = createAttestedDispatcher({ onVerdict: (v) => verdicts.push(v) });
    const error = await rejection(request(srv.url, { dispatcher, method: 'POST', body: '{"secret":"prompt"}' }));
    expect(isErrorCode(error, 'EG_VERIFY_SIMULATED'), String(error)).toBe(true);
    expect(srv.stats.connections).toBeGreaterThanOrEqual(1);
    expect(srv.stats.bytes).toBe(0);
    expect(srv.stats.requests).toBe(0);
    expect(verdicts[0]).toMatchObject({ ok: false, code: 'EG_VERIFY_SIMULATED' });
    await dispatcher.close();
  });

  it('an ordinary self-signed certificate fails with EG_VERIFY_PARSE, nothing sent', async () => {
    const plain = await buildCertificate({ noEvidence: true });
    const srv = await startServer(plain.keyPem, plain.pem);
    const dispatcher = createAttestedDispatcher({ allowSimulated: true });
    const error = await rejection(request(srv.url, { dispatcher }));
    expect(isErrorCode(error, 'EG_VERIFY_PARSE'), String(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/no attestation evidence/);
    expect(srv.stats.bytes).toBe(0);
    await dispatcher.close();
  });

  it('a certificate whose claims bind another key fails with EG_VERIFY_BINDING, nothing sent', async () => {
    const other = await otherSpki();
    const built = await buildCertificate({ claims: () => defaultClaims(other) });
    const srv = await startServer(built.keyPem, built.pem);
    const dispatcher = createAttestedDispatcher({ allowSimulated: true });
    const error = await rejection(request(srv.url, { dispatcher }));
    expect(isErrorCode(error, 'EG_VERIFY_BINDING'), String(error)).toBe(true);
    expect(srv.stats.bytes).toBe(0);
    await dispatcher.close();
  });

  it('a policy hash outside the allowlist fails with EG_VERIFY_REFERENCE_VALUES, nothing sent', async () => {
    const { key, cert } = await issue();
    const srv = await startServer(key, cert);
    const other = formatHashEntry(hashEntry('sha-384', new TextEncoder().encode('another policy')));
    const dispatcher = createAttestedDispatcher({ allowSimulated: true, referenceValues: { policyHashes: [other] } });
    const error = await rejection(request(srv.url, { dispatcher }));
    expect(isErrorCode(error, 'EG_VERIFY_REFERENCE_VALUES'), String(error)).toBe(true);
    expect(srv.stats.bytes).toBe(0);
    await dispatcher.close();
  });

  it('verifies a certificate once, reuses the verdict on later connections, and re-verifies a changed certificate', async () => {
    const first = await issue();
    const srv = await startServer(first.key, first.cert);
    const verdicts: Verdict[] = [];
    const dispatcher = createAttestedDispatcher({ allowSimulated: true, referenceValues: { policyHashes: [formatHashEntry(TEST_POLICY_HASH)] }, onVerdict: (v) => verdicts.push(v) });
    for (let i = 0; i < 3; i++) {
      const res = await request(srv.url, { dispatcher });
      await res.body.text();
    }
    // Each response closes its connection, so three handshakes, one verification.
    expect(srv.stats.handshakes).toBe(3);
    expect(verdicts).toHaveLength(1);

    const second = await issue();
    srv.setCertificate(second.key, second.cert);
    const res = await request(srv.url, { dispatcher });
    await res.body.text();
    expect(verdicts).toHaveLength(2);
    expect(verdicts[1]!.ratls!.pubkeyHash).not.toBe(verdicts[0]!.ratls!.pubkeyHash);
    expect(srv.stats.requests).toBe(4);
    await dispatcher.close();
  });

  it('does not reuse a cached verdict after the certificate expires', async () => {
    const { key, cert, issued } = await issue();
    const srv = await startServer(key, cert);
    let now = new Date(issued.notBefore.getTime() + 120_000);
    const verdicts: Verdict[] = [];
    const dispatcher = createAttestedDispatcher({ allowSimulated: true, at: () => now, onVerdict: (v) => verdicts.push(v) });
    await (await request(srv.url, { dispatcher })).body.text();
    now = new Date(issued.notAfter.getTime() + 1000);
    const error = await rejection(request(srv.url, { dispatcher }));
    expect(isErrorCode(error, 'EG_VERIFY_EXPIRED'), String(error)).toBe(true);
    expect(verdicts.map((v) => v.ok)).toEqual([true, false]);
    expect(srv.stats.requests).toBe(1);
    await dispatcher.close();
  });

  it('refuses plain http origins and a `ca` option', async () => {
    const dispatcher = createAttestedDispatcher({ allowSimulated: true });
    const error = await rejection(request('http://127.0.0.1:9/', { dispatcher }));
    expect(isErrorCode(error, 'EG_VERIFY_USAGE'), String(error)).toBe(true);
    await dispatcher.close();
    expect(() => createAttestedDispatcher({ ca: 'pem' as never })).toThrow(/ca/);
    expect(() => createAttestedDispatcher({ referenceValues: { bogus: true } as never })).toThrow(/unknown key/);
  });
});
