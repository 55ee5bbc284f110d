/**
 * AMD KDS fetching against a real local HTTP fake serving the go-sev-guest
 * Milan VCEK at its KDS target and the Milan cert_chain, then verified end to
 * end with verifySnpReport at the README instant.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createDiskCache,
  diskCacheFileName,
  fetchSnpEndorsements,
  kdsCertChainUrl,
  kdsVcekUrl,
  type FetchLike,
} from '../../../../src/verify/online/index.js';
import { parseSnpReport, verifySnpReport } from '../../../../src/verify/sev-snp/index.js';
import { Transcript } from '../../../../src/verify/types.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { closedPort, startFakeServer, type FakeServer } from './fake-endorsement-server.js';
import { GOSEV_AT, GOSEV_CHIP_ID, GOSEV_REPORT, GOSEV_VCEK_TARGET, MILAN_CHAIN_TARGET, kdsRoutes } from './fixtures.js';
import { clockAt, rejectsWith, removeTempDirs, tempDir } from './helpers.js';

const now = clockAt(GOSEV_AT);
let kds: FakeServer;

beforeEach(async () => {
  kds = await startFakeServer(kdsRoutes());
});
afterEach(async () => {
  await kds.close();
});
afterAll(removeTempDirs);

function verifyAtReadmeInstant(endorsements: Awaited<ReturnType<typeof fetchSnpEndorsements>>): ReturnType<typeof verifySnpReport> {
  return verifySnpReport(GOSEV_REPORT, endorsements, { product: 'milan' }, { at: new Date(GOSEV_AT), transcript: new Transcript() });
}

describe('fetchSnpEndorsements against a KDS fake', () => {
  it('the CHIP_ID of the vector is the one the README names (3ac3fe21…006b5d)', () => {
    expect(GOSEV_CHIP_ID.startsWith('3ac3fe21')).toBe(true);
    expect(GOSEV_CHIP_ID.endsWith('6b5d')).toBe(true);
  });

  it('fetches the VCEK and cert_chain at their KDS targets, and they verify the report end to end', async () => {
    const endorsements = await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now });
    expect(kds.requests.sort()).toEqual([GOSEV_VCEK_TARGET, MILAN_CHAIN_TARGET].sort());
    expect(Buffer.from(endorsements.vek as Uint8Array).equals(vector('sev-snp/gosev-milan-vcek.der'))).toBe(true);
    const evidence = verifyAtReadmeInstant(endorsements);
    expect(evidence.measurement.startsWith('b07af962')).toBe(true);
    expect(evidence.claims.chipId).toBe(GOSEV_CHIP_ID);
  });

  it('accepts a parsed report as well as bytes', async () => {
    const endorsements = await fetchSnpEndorsements(parseSnpReport(GOSEV_REPORT), { product: 'milan', baseUrl: kds.url, now });
    expect(verifyAtReadmeInstant(endorsements).platform).toBe('sev-snp');
  });

  it('serves the second call from the disk cache, also through a new cache object on the same directory', async () => {
    const dir = tempDir();
    await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, cache: createDiskCache(dir) });
    expect(kds.count()).toBe(2);
    const again = await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, cache: createDiskCache(dir) });
    expect(kds.count()).toBe(2);
    expect(verifyAtReadmeInstant(again).platform).toBe('sev-snp');
    // Atomic writes leave no temporary files behind.
    expect(readdirSync(dir).sort()).toEqual(
      [diskCacheFileName(`${kds.url}${GOSEV_VCEK_TARGET}`), diskCacheFileName(`${kds.url}${MILAN_CHAIN_TARGET}`)].sort(),
    );
  });

  it('refetches once the entry has expired (maximum age for certificates)', async () => {
    const cache = createDiskCache(tempDir());
    const options = { product: 'milan' as const, baseUrl: kds.url, cache, maxAgeMs: { certificate: 60_000 } };
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now });
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now: clockAt(GOSEV_AT, 59_000) });
    expect(kds.count()).toBe(2);
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now: clockAt(GOSEV_AT, 60_000) });
    expect(kds.count()).toBe(4);
  });

  it('never serves a VCEK past its own notAfter (2029-09-24T00:55:28Z), whatever the maximum age', async () => {
    const cache = createDiskCache(tempDir());
    const options = { product: 'milan' as const, baseUrl: kds.url, cache, maxAgeMs: { certificate: 100 * 365 * 86_400_000 } };
    const late = '2029-09-24T00:55:00Z';
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now: clockAt(late) });
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now: clockAt(late, 27_000) });
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(1);
    await fetchSnpEndorsements(GOSEV_REPORT, { ...options, now: clockAt('2029-09-24T00:55:28Z') });
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(2);
  });

  it('ignores and refetches corrupt cache files, then rewrites them', async () => {
    const dir = tempDir();
    const cache = createDiskCache(dir);
    await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, cache });
    const vcekFile = join(dir, diskCacheFileName(`${kds.url}${GOSEV_VCEK_TARGET}`));
    const chainFile = join(dir, diskCacheFileName(`${kds.url}${MILAN_CHAIN_TARGET}`));
    writeFileSync(vcekFile, '{"format":"enclave-gate/endorsement-cache/1", trunc');
    // Valid JSON whose body no longer matches its recorded hash: an edited entry.
    const record = JSON.parse(readFileSync(chainFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(chainFile, JSON.stringify({ ...record, body: Buffer.from('not the chain').toString('base64') }));
    const endorsements = await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, cache });
    expect(kds.count()).toBe(4);
    expect(verifyAtReadmeInstant(endorsements).platform).toBe('sev-snp');
    await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, cache });
    expect(kds.count()).toBe(4);
  });

  it('builds the VCEK URL from the report: a different REPORTED_TCB asks for a target the fake does not serve (404)', async () => {
    const changed = Buffer.from(GOSEV_REPORT);
    changed[0x180] = 3; // reported_tcb.bootloader 2 → 3
    const error = await rejectsWith(fetchSnpEndorsements(changed, { product: 'milan', baseUrl: kds.url, now }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.details?.['status']).toBe(404);
    expect(kds.requests).toContain(`/vcek/v1/Milan/${GOSEV_CHIP_ID}?blSPL=3&teeSPL=0&snpSPL=5&ucodeSPL=68`);
    expect(kds.requests).not.toContain(GOSEV_VCEK_TARGET);
  });

  it('a different CHIP_ID asks for another chip', async () => {
    const changed = Buffer.from(GOSEV_REPORT);
    changed[0x1a0] = changed[0x1a0]! ^ 0xff;
    await rejectsWith(fetchSnpEndorsements(changed, { product: 'milan', baseUrl: kds.url, now }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(kds.requests.some((r) => r.startsWith(`/vcek/v1/Milan/c5c3fe21`))).toBe(true);
  });

  it('404 → EG_VERIFY_ENDORSEMENTS_MISSING naming the URL and the status', async () => {
    kds.route(MILAN_CHAIN_TARGET, { status: 404, body: 'Not Found' });
    const error = await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.message).toContain(`${kds.url}${MILAN_CHAIN_TARGET}`);
    expect(error.message).toContain('404');
  });

  it('connection refused → EG_VERIFY_CONNECT naming the URL', async () => {
    const port = await closedPort();
    const error = await rejectsWith(
      fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: `http://127.0.0.1:${port}`, now }),
      'EG_VERIFY_CONNECT',
    );
    expect(error.message).toContain(`http://127.0.0.1:${port}/vcek/v1/Milan/`);
  });

  it('no answer within timeoutMs → EG_VERIFY_CONNECT', async () => {
    kds.route(MILAN_CHAIN_TARGET, { hang: true });
    const error = await rejectsWith(
      fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, timeoutMs: 200 }),
      'EG_VERIFY_CONNECT',
    );
    expect(error.message).toContain('no answer within 200 ms');
  });

  it('429 with Retry-After: 1 is honoured (one wait of about a second), then succeeds', async () => {
    kds.route(GOSEV_VCEK_TARGET, (nth) =>
      nth === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: 'Too Many Requests' } : { body: vector('sev-snp/gosev-milan-vcek.der') },
    );
    const transport: FetchLike = (url, init) => fetch(url, init);
    const started = Date.now();
    const endorsements = await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, fetch: transport, maxRetryWaitMs: 1500 });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(5000);
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(2);
    expect(verifyAtReadmeInstant(endorsements).platform).toBe('sev-snp');
  });

  it('a Retry-After beyond the bound fails at once with a clear error, and holds back later calls to that host', async () => {
    kds.route(GOSEV_VCEK_TARGET, { status: 429, headers: { 'retry-after': '120' } });
    const transport: FetchLike = (url, init) => fetch(url, init);
    const options = { product: 'milan' as const, baseUrl: kds.url, now, fetch: transport, maxRetryWaitMs: 1000 };
    const started = Date.now();
    const error = await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, options), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.message).toMatch(/Retry-After 120 s exceeds the 1000 ms bound/);
    expect(error.details?.['status']).toBe(429);
    const before = kds.count();
    await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, options), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(kds.count()).toBe(before);
  });

  it('gives up after maxAttempts 429 answers', async () => {
    kds.route(GOSEV_VCEK_TARGET, { status: 429, headers: { 'retry-after': '0' } });
    const transport: FetchLike = (url, init) => fetch(url, init);
    const error = await rejectsWith(
      fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, fetch: transport, maxAttempts: 2 }),
      'EG_VERIFY_ENDORSEMENTS_MISSING',
    );
    expect(error.message).toContain('still throttled after 2 attempts');
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(2);
  });

  it('coalesces concurrent calls for the same URL into one request', async () => {
    kds.route(GOSEV_VCEK_TARGET, { delayMs: 150, body: vector('sev-snp/gosev-milan-vcek.der') });
    kds.route(MILAN_CHAIN_TARGET, { delayMs: 150, body: vectorText('sev-snp/amd-milan-ask-ark.pem') });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now })),
    );
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(1);
    expect(kds.count(MILAN_CHAIN_TARGET)).toBe(1);
    for (const endorsements of results) expect(verifyAtReadmeInstant(endorsements).platform).toBe('sev-snp');
  });

  it('a caller abort ends only that caller’s wait', async () => {
    kds.route(GOSEV_VCEK_TARGET, { delayMs: 200, body: vector('sev-snp/gosev-milan-vcek.der') });
    const controller = new AbortController();
    const aborted = fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now, signal: controller.signal });
    const other = fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, now });
    controller.abort();
    await rejectsWith(aborted, 'EG_VERIFY_CONNECT');
    expect(verifyAtReadmeInstant(await other).platform).toBe('sev-snp');
    expect(kds.count(GOSEV_VCEK_TARGET)).toBe(1);
  });

  it('uses an injected FetchLike', async () => {
    const seen: string[] = [];
    const transport: FetchLike = (url, init) => {
      seen.push(url);
      return fetch(url.replace('https://kdsintf.amd.com', kds.url), init);
    };
    const endorsements = await fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', fetch: transport, now });
    expect(seen.sort()).toEqual([`https://kdsintf.amd.com${GOSEV_VCEK_TARGET}`, `https://kdsintf.amd.com${MILAN_CHAIN_TARGET}`].sort());
    expect(verifyAtReadmeInstant(endorsements).platform).toBe('sev-snp');
  });
});

describe('fetchSnpEndorsements refuses what KDS cannot serve, before any request', () => {
  it('a VLEK-signed report → EG_VERIFY_ENDORSEMENTS_MISSING explaining VLEKs are not on KDS', async () => {
    const error = await rejectsWith(
      fetchSnpEndorsements(vector('sev-snp/trustee-milan-vlek-report.bin'), { baseUrl: kds.url, now }),
      'EG_VERIFY_ENDORSEMENTS_MISSING',
    );
    expect(error.message).toMatch(/VLEK/);
    expect(kds.count()).toBe(0);
  });

  it('a v2 report without options.product → EG_VERIFY_USAGE', async () => {
    await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, { baseUrl: kds.url, now }), 'EG_VERIFY_USAGE');
    expect(kds.count()).toBe(0);
  });

  it('options.product contradicting the CPUID → EG_VERIFY_USAGE', async () => {
    await rejectsWith(fetchSnpEndorsements(vector('sev-snp/trustee-genoa-report.bin'), { product: 'milan', baseUrl: kds.url, now }), 'EG_VERIFY_USAGE');
  });

  it('a masked (all-zero) CHIP_ID → EG_VERIFY_ENDORSEMENTS_MISSING', async () => {
    const masked = Buffer.from(GOSEV_REPORT);
    masked.fill(0, 0x1a0, 0x1e0);
    await rejectsWith(fetchSnpEndorsements(masked, { product: 'milan', baseUrl: kds.url, now }), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(kds.count()).toBe(0);
  });

  it('a vlek option from an untyped caller → EG_VERIFY_USAGE', async () => {
    await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: kds.url, vlek: true } as never), 'EG_VERIFY_USAGE');
  });

  it('a baseUrl with a query → EG_VERIFY_USAGE', async () => {
    await rejectsWith(fetchSnpEndorsements(GOSEV_REPORT, { product: 'milan', baseUrl: `${kds.url}/?x=1` }), 'EG_VERIFY_USAGE');
  });
});

describe('KDS URLs per product', () => {
  it('Genoa v3 (trustee): product from CPUID, 64-byte hwID, SPLs bl10 tee0 snp23 ucode25 (README §1)', () => {
    const report = parseSnpReport(vector('sev-snp/trustee-genoa-report.bin'));
    const chip = vector('sev-snp/trustee-genoa-report.bin').subarray(0x1a0, 0x1e0).toString('hex');
    expect(kdsVcekUrl(report, 'genoa')).toBe(`https://kdsintf.amd.com/vcek/v1/Genoa/${chip}?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=25`);
    expect(kdsCertChainUrl('genoa', 'https://kds.example/')).toBe('https://kds.example/vcek/v1/Genoa/cert_chain');
  });

  it('Turin: the first 8 bytes of CHIP_ID and fmcSPL first', () => {
    // A report laid out as Turin (family 0x1a): TCB bytes fmc, bl, tee, snp, 0, 0, 0, ucode.
    const bytes = Buffer.from(vector('sev-snp/dstack-milan-report.bin'));
    bytes[0x188] = 0x1a;
    bytes[0x189] = 0x02;
    Buffer.from([1, 2, 3, 4, 0, 0, 0, 9]).copy(bytes, 0x180);
    const report = parseSnpReport(bytes);
    const chip8 = bytes.subarray(0x1a0, 0x1a8).toString('hex');
    expect(kdsVcekUrl(report, 'turin')).toBe(`https://kdsintf.amd.com/vcek/v1/Turin/${chip8}?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9`);
  });
});
