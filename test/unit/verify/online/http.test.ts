/** Retry-After parsing, URL redaction, size limits and option checks of the HTTP layer. */
import { afterEach, describe, expect, it } from 'vitest';
import { fetchEndorsement } from '../../../../src/verify/online/fetcher.js';
import { safeUrl } from '../../../../src/verify/online/http.js';
import { DEFAULT_RETRY_AFTER_MS, parseRetryAfter, type FetchLike } from '../../../../src/verify/online/index.js';
import { startFakeServer, type FakeServer } from './fake-endorsement-server.js';
import { rejectsWith } from './helpers.js';

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delta-seconds and IMF-fixdate', () => {
    expect(parseRetryAfter('10', now)).toBe(10_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unreadable values (the caller then waits the KDS default)', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('tomorrow', now)).toBeUndefined();
    expect(DEFAULT_RETRY_AFTER_MS).toBe(10_000);
  });
});

describe('HTTP layer', () => {
  it('removes credentials from URLs in messages', () => {
    expect(safeUrl('https://user:secret@pccs.example/sgx/certification/v4/qe/identity')).toBe('https://pccs.example/sgx/certification/v4/qe/identity');
  });

  it('a connect error never carries URL credentials or request headers', async () => {
    const failing: FetchLike = () => Promise.reject(new TypeError('fetch failed'));
    const error = await rejectsWith(
      fetchEndorsement(
        { url: 'https://user:secret@pccs.example/x', kind: 'crl' },
        { fetch: failing, headers: { 'Ocp-Apim-Subscription-Key': 'key-123' } },
      ),
      'EG_VERIFY_CONNECT',
    );
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toMatch(/secret|key-123/);
  });

  it('sends the caller’s extra headers', async () => {
    let seen: Record<string, string> | undefined;
    const capture: FetchLike = (_url, init) => {
      seen = init?.headers;
      return Promise.resolve({ status: 200, headers: { get: () => null }, arrayBuffer: () => Promise.resolve(new ArrayBuffer(1)) });
    };
    await fetchEndorsement({ url: 'https://pccs.example/x', kind: 'crl' }, { fetch: capture, headers: { 'x-api-key': 'k' } });
    expect(seen?.['x-api-key']).toBe('k');
  });

  it('refuses a body over maxBytes (declared or actual) as missing endorsements', async () => {
    server = await startFakeServer(new Map([['/big', { body: Buffer.alloc(2048) }]]));
    const error = await rejectsWith(fetchEndorsement({ url: `${server.url}/big`, kind: 'crl' }, { maxBytes: 1024 }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.message).toContain('1024-byte limit');
    const lying: FetchLike = () =>
      Promise.resolve({ status: 200, headers: { get: () => null }, arrayBuffer: () => Promise.resolve(new ArrayBuffer(4096)) });
    await rejectsWith(fetchEndorsement({ url: 'https://pccs.example/x', kind: 'crl' }, { fetch: lying, maxBytes: 1024 }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
  });

  it('a 5xx is missing endorsements with the status', async () => {
    server = await startFakeServer(new Map([['/down', { status: 503 }]]));
    const error = await rejectsWith(fetchEndorsement({ url: `${server.url}/down`, kind: 'crl' }, {}), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.details?.['status']).toBe(503);
  });

  it('bad numeric options are usage errors, before any request', async () => {
    const never: FetchLike = () => Promise.reject(new Error('must not be called'));
    await rejectsWith(fetchEndorsement({ url: 'https://x.example/', kind: 'crl' }, { fetch: never, maxAttempts: 0 }), 'EG_VERIFY_USAGE');
    await rejectsWith(fetchEndorsement({ url: 'https://x.example/', kind: 'crl' }, { fetch: never, timeoutMs: -1 }), 'EG_VERIFY_USAGE');
  });
});
