import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';

const key = { keyid: 'ops', algorithm: 'ES256', publicKey: '/k.pem' };
const ok = (policy: unknown, tls: unknown = {}): boolean => configSchema.safeParse({ policy, tls }).success;

describe('policy and tls lifecycle keys', () => {
  it('has defaults', () => {
    const c = configSchema.parse({});
    expect(c.policy).toMatchObject({ watch: true, watchDebounceMs: 500, watchIntervalSeconds: 10, pollIntervalSeconds: 60, pollJitter: 0.1, pollTimeoutMs: 30_000 });
    expect(c.policy.signing).toEqual({ keys: [] });
    expect(c.tls).toMatchObject({ renewRetryMinMs: 1000, renewRetryMaxMs: 60_000 });
    expect(c.tls.renewBeforeSeconds).toBeUndefined();
  });
  it('ties signing.required to configured keys', () => {
    expect(ok({ signing: { keys: [key] } })).toBe(true);
    expect(ok({ signing: { keys: [key], required: true } })).toBe(true);
    expect(ok({ signing: { keys: [key], required: false } })).toBe(false);
    expect(ok({ signing: { required: true } })).toBe(false);
    expect(ok({ signing: { keys: [key, key] } })).toBe(false);
    expect(ok({ signing: { keys: [{ ...key, algorithm: 'HS256' }] } })).toBe(false);
  });
  it('accepts url or path, not both, and only http(s) URLs', () => {
    expect(ok({ url: 'https://bundles.example/b.tar.gz' })).toBe(true);
    expect(ok({ url: 'ftp://bundles.example/b.tar.gz' })).toBe(false);
    expect(ok({ url: 'http://x/b.tar.gz', path: '/b.tar.gz' })).toBe(false);
    expect(ok({ pollJitter: 1.5 })).toBe(false);
    expect(ok({}, { renewBeforeSeconds: 3600 })).toBe(true);
    expect(ok({}, { renewBeforeSeconds: 0 })).toBe(false);
  });
});
