import { describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import { createCachingProvider } from '../../../src/evidence/caching.js';
import type { Evidence, EvidenceProvider } from '../../../src/evidence/provider.js';

/** A provider that takes `ms` per quote and records when each started and how many ran at once. */
function slowProvider(ms: number, fail?: (n: number) => boolean) {
  const starts: number[] = [];
  let active = 0;
  let maxActive = 0;
  const provider: EvidenceProvider = {
    name: 'configfs-tsm',
    platform: 'tdx',
    insecure: false,
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      starts.push(performance.now());
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, ms));
      active--;
      if (fail?.(starts.length)) throw new Error(`quote ${starts.length} failed`);
      return { tag: 60000, evidence: new Uint8Array(reportData) };
    },
  };
  return { provider, starts, maxActive: () => maxActive };
}

const rd = (n: number): Uint8Array => new Uint8Array(64).fill(n);

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('caching provider', () => {
  it('passes name, platform and insecure through', () => {
    const { provider } = slowProvider(1);
    expect(createCachingProvider(provider)).toMatchObject({ name: 'configfs-tsm', platform: 'tdx', insecure: false });
  });

  it('never runs two quotes at once, even under a burst', async () => {
    const slow = slowProvider(20);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0, maxQueue: 10, maxWaitMs: 10_000 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => cached.getEvidence(rd(n))));
    expect(results.map((r) => r.evidence[0])).toEqual([1, 2, 3, 4, 5]);
    expect(slow.maxActive()).toBe(1);
    expect(slow.starts).toHaveLength(5);
  });

  it('spaces the starts of quotes by minIntervalMs', async () => {
    const slow = slowProvider(1);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 60, maxWaitMs: 10_000 });
    await Promise.all([1, 2, 3].map((n) => cached.getEvidence(rd(n))));
    const gaps = slow.starts.slice(1).map((t, i) => t - slow.starts[i]!);
    // Timers may fire a millisecond early relative to performance.now.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(58);
  });

  it('refuses at once, typed and with a retry hint, beyond maxQueue', async () => {
    const slow = slowProvider(30);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0, maxQueue: 2, maxWaitMs: 10_000 });
    const accepted = [1, 2, 3].map((n) => cached.getEvidence(rd(n))); // 1 runs, 2 and 3 wait
    const refused = await failure(cached.getEvidence(rd(4)));
    expect(refused).toBeInstanceOf(EnclaveGateError);
    expect(refused).toMatchObject({ code: 'EG_ATTESTATION_FAILED', details: { reason: 'rate-limited' } });
    expect((refused as EnclaveGateError).details?.['retryAfterMs']).toBeGreaterThan(0);
    expect((refused as Error).message).toMatch(/2 already waiting \(limit 2\)/);
    await Promise.all(accepted);
    expect(cached.stats()).toMatchObject({ quotes: 3, refused: 1, waiting: 0 });
  });

  it('refuses a request that waited maxWaitMs without its turn', async () => {
    const slow = slowProvider(200);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0, maxWaitMs: 40 });
    const first = cached.getEvidence(rd(1));
    const started = performance.now();
    const second = await failure(cached.getEvidence(rd(2)));
    expect(performance.now() - started).toBeLessThan(190);
    expect(second).toMatchObject({ code: 'EG_ATTESTATION_FAILED', details: { reason: 'rate-limited' } });
    expect((second as Error).message).toMatch(/waited 40 ms/);
    await first;
    expect(slow.starts).toHaveLength(1);
  });

  it('asks once for identical report data: shared while pending, cached afterwards, renewed after expiry', async () => {
    const slow = slowProvider(10);
    let clock = 0;
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0, cacheSeconds: 60, now: () => clock });
    const [a, b] = await Promise.all([cached.getEvidence(rd(7)), cached.getEvidence(rd(7))]);
    expect(a).toBe(b);
    expect(await cached.getEvidence(rd(7))).toBe(a);
    expect(slow.starts).toHaveLength(1);
    clock += 61_000;
    await cached.getEvidence(rd(7));
    expect(slow.starts).toHaveLength(2);
    expect(cached.stats().shared).toBe(2);
  });

  it('does not cache failures', async () => {
    const slow = slowProvider(1, (n) => n === 1);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0 });
    await expect(cached.getEvidence(rd(1))).rejects.toThrow(/quote 1 failed/);
    await expect(cached.getEvidence(rd(1))).resolves.toMatchObject({ tag: 60000 });
    expect(slow.starts).toHaveLength(2);
  });

  it('drops a waiting request whose caller aborts, without running it', async () => {
    const slow = slowProvider(50);
    const cached = createCachingProvider(slow.provider, { minIntervalMs: 0 });
    const first = cached.getEvidence(rd(1));
    const controller = new AbortController();
    const second = failure(cached.getEvidence(rd(2), { signal: controller.signal }));
    controller.abort(new Error('client went away'));
    expect(await second).toMatchObject({ message: 'client went away' });
    await first;
    await new Promise((r) => setTimeout(r, 20));
    expect(slow.starts).toHaveLength(1);
  });

  it('refuses report data that is not 64 bytes', async () => {
    const cached = createCachingProvider(slowProvider(1).provider);
    await expect(cached.getEvidence(new Uint8Array(63))).rejects.toMatchObject({ code: 'EG_ATTESTATION_FAILED' });
  });
});
