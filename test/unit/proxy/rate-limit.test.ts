import { describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { RateLimiter, usageTokens } from '../../../src/proxy/rate-limit.js';

/** admit() → 'ok' or the refusal's reason and retry-after. */
function attempt(limiter: RateLimiter, limit: Parameters<RateLimiter['admit']>[0]): string {
  try {
    limiter.admit(limit);
    return 'ok';
  } catch (err) {
    const e = err as EnclaveGateError & { decisionHeaders: Record<string, string> };
    expect(e.code).toBe('EG_QUOTA_EXCEEDED');
    return `${(e.details?.['reasons'] as string[])[0]} ${e.decisionHeaders['retry-after']}`;
  }
}

describe('RateLimiter', () => {
  it('refills the requests bucket at the per-minute rate up to the burst', () => {
    let now = 0;
    const limiter = new RateLimiter({ now: () => now });
    const limit = { key: 'p', requests_per_minute: 30, burst: 2 };
    expect([attempt(limiter, limit), attempt(limiter, limit), attempt(limiter, limit)]).toEqual(['ok', 'ok', 'rate_limited:requests 2']);
    now += 1000; // half a request back
    expect(attempt(limiter, limit)).toBe('rate_limited:requests 1');
    now += 1000;
    expect(attempt(limiter, limit)).toBe('ok');
    now += 10 * 60_000; // idle: full again, never above the burst
    expect([attempt(limiter, limit), attempt(limiter, limit), attempt(limiter, limit)]).toEqual(['ok', 'ok', 'rate_limited:requests 2']);
  });

  it('keeps keys apart and bounds the number of keys and party labels', async () => {
    const metrics = createMetrics({ defaults: false });
    const limiter = new RateLimiter({ now: () => 0, maxKeys: 3, maxPartyLabels: 2, metrics });
    for (const key of ['a', 'b', 'c', 'd']) expect(attempt(limiter, { key, requests_per_minute: 1 })).toBe('ok');
    expect(limiter.size).toBe(3);
    expect(attempt(limiter, { key: 'b', requests_per_minute: 1 })).toMatch(/^rate_limited/);
    // 'a' was evicted as least recently used, so it comes back with a full bucket.
    expect(attempt(limiter, { key: 'a', requests_per_minute: 1 })).toBe('ok');
    const text = await metrics.registry.getSingleMetricAsString('enclave_gate_party_requests_total');
    expect(text).toContain('party="other"');
    expect(text).toContain('party="a"');
    expect(text).not.toContain('party="c"');
  });

  it('charges model tokens after the answer and refuses while the bucket is empty', () => {
    let now = 0;
    const limiter = new RateLimiter({ now: () => now });
    const limit = { key: 't', tokens_per_minute: 60 };
    limiter.admit(limit).charge(100);
    expect(attempt(limiter, limit)).toBe('rate_limited:tokens 41');
    now += 41_000;
    expect(attempt(limiter, limit)).toBe('ok');
  });

  it('reads usage from OpenAI, Anthropic and Ollama answers', () => {
    expect(usageTokens({ usage: { total_tokens: 7 } })).toBe(7);
    expect(usageTokens({ usage: { input_tokens: 2, output_tokens: 3 } })).toBe(5);
    expect(usageTokens({ prompt_eval_count: 4, eval_count: 6 })).toBe(10);
    expect(usageTokens('x')).toBe(0);
  });
});
