import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import { createSimulatedProvider } from '../../../src/evidence/simulated.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { issueCertificate, type IssuedCertificate } from '../../../src/ratls/issue.js';
import { CertificateManager } from '../../../src/ratls/rotation.js';
import { hashEntry, type HashEntry } from '../../../src/wire/hash-entry.js';

const provider = createSimulatedProvider();
const POLICY_A = hashEntry('sha-384', new TextEncoder().encode('policy A'));
const POLICY_B = hashEntry('sha-384', new TextEncoder().encode('policy B'));
const hex = (h: HashEntry): string => Buffer.from(h.digest).toString('hex');

const issue = (policyHash: HashEntry, validitySeconds: number): Promise<IssuedCertificate> =>
  issueCertificate({ provider, policyHash, keyAlgorithm: 'P-256', validitySeconds, subjectAltNames: ['localhost'], commonName: 'test' });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const managers: CertificateManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

async function manager(validitySeconds: number, overrides: Partial<ConstructorParameters<typeof CertificateManager>[0]> = {}) {
  const installed: IssuedCertificate[] = [];
  const metrics = createMetrics({ defaults: false });
  const m = new CertificateManager({
    initial: await issue(POLICY_A, validitySeconds),
    policyHash: POLICY_A,
    issue: (h) => issue(h, validitySeconds),
    install: (c) => void installed.push(c),
    metrics,
    retryMinMs: 50,
    retryMaxMs: 200,
    ...overrides,
  });
  managers.push(m);
  return { m, installed, metrics };
}

const value = async (metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
};

describe('CertificateManager', () => {
  it('rotates on demand: fresh key and evidence, same policy, installed and published', async () => {
    const { m, installed, metrics } = await manager(3600);
    m.start();
    const before = m.current;
    const next = await m.rotate();
    expect(next.fingerprint256).not.toBe(before.fingerprint256);
    expect(installed).toEqual([next]);
    expect(m.current).toBe(next);
    expect(hex(next.claims.policyHash!)).toBe(hex(POLICY_A));
    expect(await value(metrics, 'enclave_gate_certificate_rotations_total', { outcome: 'ok' })).toBe(1);
    expect(await value(metrics, 'enclave_gate_certificate_expiry_timestamp_seconds')).toBe(next.notAfter.getTime() / 1000);
    expect(await value(metrics, 'enclave_gate_certificate_valid')).toBe(1);
  });

  it('binds a new policy hash and runs afterInstall right after install; later renewals keep it', async () => {
    const { m, installed } = await manager(3600);
    const order: string[] = [];
    await m.rotate({ policyHash: POLICY_B, afterInstall: () => order.push(`after:${installed.length}`) });
    expect(order).toEqual(['after:1']);
    expect(hex(m.policyHash)).toBe(hex(POLICY_B));
    const renewed = await m.rotate();
    expect(hex(renewed.claims.policyHash!)).toBe(hex(POLICY_B));
  });

  it('serialises concurrent rotations', async () => {
    const { m, installed } = await manager(3600);
    const results = await Promise.all([m.rotate(), m.rotate({ policyHash: POLICY_B }), m.rotate()]);
    expect(installed).toEqual(results);
    expect(hex(results[2]!.claims.policyHash!)).toBe(hex(POLICY_B));
  });

  it('renews by itself at 2/3 of the validity', async () => {
    const { m, installed } = await manager(1.5);
    m.start();
    await sleep(1300);
    expect(installed.length).toBeGreaterThanOrEqual(1);
    expect(m.expired).toBe(false);
  });

  it('honours renewBeforeSeconds', async () => {
    const { m, installed } = await manager(3, { renewBeforeSeconds: 2.5 }); // renew at 0.5 s, not 2 s
    m.start();
    await sleep(900);
    expect(installed.length).toBeGreaterThanOrEqual(1);
  });

  it('retries rate-limited renewals with backoff, keeps serving, expires, and recovers', async () => {
    let refuse = true;
    let attempts = 0;
    const { m, installed, metrics } = await manager(1.2, {
      issue: async (h) => {
        attempts++;
        if (refuse) throw new EnclaveGateError('EG_ATTESTATION_FAILED', 'busy', { details: { reason: 'rate-limited', retryAfterMs: 100 } });
        return issue(h, 1.2);
      },
    });
    const first = m.current;
    m.start();
    await sleep(1000); // renewal due at 0.8 s; refused, retried
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(m.current).toBe(first);
    expect(m.expired).toBe(false);
    expect(m.status()).toMatchObject({ lastError: 'EG_ATTESTATION_FAILED (rate-limited)' });
    await sleep(500); // past notAfter
    expect(m.expired).toBe(true);
    expect(await value(metrics, 'enclave_gate_certificate_valid')).toBe(0);
    expect(await value(metrics, 'enclave_gate_certificate_rotations_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(2);
    refuse = false;
    await sleep(600);
    expect(installed.length).toBeGreaterThanOrEqual(1);
    expect(m.expired).toBe(false);
    expect(await value(metrics, 'enclave_gate_certificate_valid')).toBe(1);
  });

  it('a failed manual rotation keeps the current certificate', async () => {
    const { m, installed } = await manager(3600, {
      issue: () => Promise.reject(new EnclaveGateError('EG_ATTESTATION_FAILED', 'no')),
    });
    const current = m.current;
    await expect(m.rotate()).rejects.toMatchObject({ code: 'EG_ATTESTATION_FAILED' });
    expect(m.current).toBe(current);
    expect(installed).toEqual([]);
  });
});
