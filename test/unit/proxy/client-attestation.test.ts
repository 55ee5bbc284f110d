import 'reflect-metadata';
import { Writable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createSimulatedProvider } from '../../../src/evidence/index.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import {
  ClientAttestation,
  attestationInput,
  createClientAttestation,
  jsonSafe,
  peerAttestationOf,
} from '../../../src/proxy/client-attestation.js';
import { issueCertificate, type IssuedCertificate } from '../../../src/ratls/issue.js';
import { verifyCertificate } from '../../../src/verify/certificate.js';
import type { Verdict } from '../../../src/verify/verdict.js';
import { isDeeplyFrozen } from '../../../src/audit/event-json.js';

const MEASUREMENT = 'ab'.repeat(48);
let cert: IssuedCertificate;
let other: IssuedCertificate;

async function simulatedCert(measurementHex: string): Promise<IssuedCertificate> {
  return issueCertificate({
    provider: createSimulatedProvider({ measurement: new Uint8Array(Buffer.from(measurementHex, 'hex')) }),
    policyHash: { alg: 'sha-384', digest: new Uint8Array(48) },
    keyAlgorithm: 'P-256',
    validitySeconds: 3600,
    subjectAltNames: ['client'],
    commonName: 'client',
  });
}

/** A stand-in for a TLSSocket: only what ClientAttestation reads. */
function socketWith(der?: Uint8Array): TLSSocket {
  return { getPeerCertificate: () => (der === undefined ? {} : { raw: Buffer.from(der) }) } as unknown as TLSSocket;
}

function countingVerify() {
  return vi.fn(verifyCertificate);
}

beforeAll(async () => {
  [cert, other] = await Promise.all([simulatedCert(MEASUREMENT), simulatedCert('cd'.repeat(48))]);
});

describe('attestationInput (Verdict → input.peer.attestation)', () => {
  it('maps a passing verdict to snake_case, lower-case hex, JSON-safe fields', () => {
    const verdict: Verdict = {
      ok: true,
      platform: 'sev-snp',
      measurement: 'ABCD',
      reportData: 'EF01',
      tcb: { reported: { snp: 22 }, raw: new Uint8Array([1, 2]), big: 10n, nothing: undefined },
      debug: false,
      claims: { secret: 'not exported' },
      ratls: { format: 'enclave-gate', pubkeyHash: 'sha-384:00', policyHash: 'sha-384:11' },
      steps: [{ step: 'x', ok: true }],
    };
    expect(attestationInput(verdict, 'ff')).toEqual({
      verified: true,
      platform: 'sev-snp',
      measurement: 'abcd',
      report_data: 'ef01',
      debug: false,
      tcb: { reported: { snp: 22 }, raw: '0102', big: '10' },
      policy_hash: 'sha-384:11',
      fingerprint: 'ff',
    });
  });

  it('maps a failing verdict to verified: false with its code and null evidence fields', () => {
    const verdict: Verdict = { ok: false, platform: 'simulated', code: 'EG_VERIFY_SIMULATED', message: 'no', steps: [] };
    const input = attestationInput(verdict, 'ee');
    expect(input).toEqual({
      verified: false,
      platform: 'simulated',
      measurement: null,
      report_data: null,
      debug: null,
      tcb: null,
      code: 'EG_VERIFY_SIMULATED',
      fingerprint: 'ee',
    });
    expect(JSON.parse(JSON.stringify(input))).toEqual(input);
  });

  it('omits policy_hash when the certificate claims none, and says platform null when unknown', () => {
    expect(attestationInput({ ok: true, platform: 'nitro', measurement: 'aa', reportData: '', tcb: {}, debug: false, steps: [] }, 'f')).not.toHaveProperty('policy_hash');
    expect(attestationInput({ ok: false, code: 'EG_VERIFY_PARSE', steps: [] }, 'f').platform).toBeNull();
  });

  it('jsonSafe turns verifier values into plain JSON and caps depth', () => {
    expect(jsonSafe({ a: [1, undefined, Number.NaN], d: new Date(0), m: new Map([['k', 1]]) })).toEqual({
      a: [1, null, null],
      d: '1970-01-01T00:00:00.000Z',
      m: { k: 1 },
    });
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20; i++) deep = { deep };
    expect(JSON.stringify(jsonSafe(deep))).not.toContain('leaf');
  });
});

describe('verification and caching', () => {
  it('verifies a real simulated certificate once per socket and exposes it to the input builder', () => {
    const verify = countingVerify();
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify });
    const socket = socketWith(cert.certDer);
    ca.onSecureConnection(socket);
    const state = ca.check(socket);
    expect(state).not.toBe('none');
    expect(verify).toHaveBeenCalledTimes(1);
    const seen = peerAttestationOf(socket)!;
    expect(seen).toMatchObject({ verified: true, platform: 'simulated', measurement: MEASUREMENT, fingerprint: cert.fingerprint256 });
    // Shared by every request on the connection, and written by the decision log from memory: frozen all the way down.
    expect(isDeeplyFrozen(seen)).toBe(true);
  });

  it('reuses a verdict across connections by certificate fingerprint (LRU)', () => {
    const verify = countingVerify();
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify });
    for (let i = 0; i < 5; i++) ca.check(socketWith(cert.certDer));
    expect(verify).toHaveBeenCalledTimes(1);
    ca.check(socketWith(other.certDer));
    expect(verify).toHaveBeenCalledTimes(2);
    expect(ca.cacheEntries).toBe(2);
  });

  it('evicts the least recently used fingerprint beyond cacheSize', () => {
    const verify = countingVerify();
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify, cacheSize: 1 });
    ca.check(socketWith(cert.certDer));
    ca.check(socketWith(other.certDer));
    expect(ca.cacheEntries).toBe(1);
    ca.check(socketWith(cert.certDer));
    expect(verify).toHaveBeenCalledTimes(3);
  });

  it('keeps failures only briefly and passes only until maxAge', () => {
    let now = Date.now();
    const verify = countingVerify();
    const strict = new ClientAttestation({ mode: 'required', allowSimulated: false, allowDebug: false, verify, failureAgeMs: 1000, maxAgeMs: 5000, now: () => new Date(now) });
    expect(strict.verdictForCertificate(cert.certDer).attestation).toMatchObject({ verified: false, code: 'EG_VERIFY_SIMULATED' });
    strict.verdictForCertificate(cert.certDer);
    expect(verify).toHaveBeenCalledTimes(1);
    now += 1001;
    strict.verdictForCertificate(cert.certDer);
    expect(verify).toHaveBeenCalledTimes(2);

    const lax = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify, maxAgeMs: 5000, now: () => new Date(now) });
    lax.verdictForCertificate(cert.certDer);
    now += 4000;
    lax.verdictForCertificate(cert.certDer);
    expect(verify).toHaveBeenCalledTimes(3);
    now += 1001;
    lax.verdictForCertificate(cert.certDer);
    expect(verify).toHaveBeenCalledTimes(4);
  });

  it('re-verifies on a long-lived connection once the verdict outlived validUntil (then it fails: expired)', () => {
    let now = Date.now();
    const verify = countingVerify();
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify, now: () => new Date(now) });
    const socket = socketWith(cert.certDer);
    expect(peerAttestationOf(socket)).toBeUndefined();
    ca.check(socket);
    expect(peerAttestationOf(socket)?.verified).toBe(true);
    ca.check(socket);
    expect(verify).toHaveBeenCalledTimes(1);
    now = cert.notAfter.getTime() + 1000;
    ca.check(socket);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(peerAttestationOf(socket)).toMatchObject({ verified: false, code: 'EG_VERIFY_EXPIRED' });
  });

  it('records "no certificate" without verifying, and the input builder sees nothing', () => {
    const verify = countingVerify();
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: true, allowDebug: false, verify });
    const socket = socketWith();
    expect(ca.check(socket)).toBe('none');
    expect(peerAttestationOf(socket)).toBeUndefined();
    expect(verify).not.toHaveBeenCalled();
  });

  it('fails closed when the verifier throws', () => {
    const ca = new ClientAttestation({
      mode: 'required',
      allowSimulated: true,
      allowDebug: false,
      verify: () => {
        throw new Error('boom');
      },
    });
    expect(ca.verdictForCertificate(cert.certDer).attestation).toMatchObject({ verified: false, code: 'EG_VERIFY_PARSE' });
  });
});

/** A response that records what was written. */
function fakeResponse() {
  const chunks: Buffer[] = [];
  const res = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  }) as Writable & { status?: number; head?: Record<string, string>; writeHead: (s: number, h: Record<string, string>) => void };
  res.writeHead = (status, headers) => {
    res.status = status;
    res.head = headers;
  };
  return { res, body: () => JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> };
}

describe('request gate', () => {
  it('required: refuses a connection without a verified certificate with problem+json and connection: close', () => {
    const metrics = createMetrics({ defaults: false });
    const ca = new ClientAttestation({ mode: 'required', allowSimulated: false, allowDebug: false, metrics });
    const next = vi.fn();
    const handler = ca.wrap(next);
    const { res, body } = fakeResponse();
    const socket = Object.assign(socketWith(), { destroySoon: vi.fn() });
    handler({ socket, headers: { 'x-request-id': 'req-1' }, method: 'GET', url: '/v1/models' } as unknown as IncomingMessage, res as unknown as ServerResponse);
    expect(next).not.toHaveBeenCalled();
    expect(res.status).toBe(403);
    expect(res.head).toMatchObject({ 'content-type': 'application/problem+json', connection: 'close', 'x-request-id': 'req-1' });
    expect(body()).toMatchObject({ code: 'EG_CLIENT_ATTESTATION_FAILED', status: 403, reasons: ['client_certificate_missing'], request_id: 'req-1' });
  });

  it('optional: passes every request on, with or without a verified certificate', () => {
    const ca = new ClientAttestation({ mode: 'optional', allowSimulated: false, allowDebug: false });
    const next = vi.fn();
    const handler = ca.wrap(next);
    for (const socket of [socketWith(), socketWith(cert.certDer)]) {
      handler({ socket, headers: {} } as unknown as IncomingMessage, {} as ServerResponse);
    }
    expect(next).toHaveBeenCalledTimes(2);
  });
});

describe('createClientAttestation (config)', () => {
  const base = { allowSimulated: false, allowDebug: false };

  it('is undefined when mode is off', () => {
    expect(createClientAttestation({ mode: 'off', ...base })).toBeUndefined();
  });

  it('rejects invalid reference values as EG_CONFIG_INVALID', () => {
    expect(() => createClientAttestation({ mode: 'optional', ...base, referenceValues: { measurement: ['ab'] } })).toThrow(
      expect.objectContaining({ code: 'EG_CONFIG_INVALID' }),
    );
    expect(() => createClientAttestation({ mode: 'optional', ...base, referenceValues: '/nonexistent/rv.json' })).toThrow(
      expect.objectContaining({ code: 'EG_CONFIG_INVALID' }),
    );
  });

  it('logs allowSimulated loudly and shows it in the insecure metric (also when the reference values enable it)', async () => {
    for (const config of [
      { mode: 'required' as const, allowSimulated: true, allowDebug: false },
      { mode: 'required' as const, allowSimulated: false, allowDebug: false, referenceValues: { allowSimulated: true } },
    ]) {
      const lines: string[] = [];
      const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
      const metrics = createMetrics({ defaults: false });
      const ca = createClientAttestation(config, { logger, metrics });
      expect(ca?.mode).toBe('required');
      expect(lines.some((l) => l.includes('INSECURE') && l.includes('SIMULATED'))).toBe(true);
      expect(await metrics.registry.metrics()).toContain('enclave_gate_attestation_insecure{provider="client-attestation"} 1');
    }
  });
});
