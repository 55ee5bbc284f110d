/** The disk cache on its own: round trip, expiry, corrupt and foreign files, atomic writes. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDiskCache, diskCacheFileName, type CachedEndorsement } from '../../../../src/verify/online/index.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const URL_A = 'https://kdsintf.amd.com/vcek/v1/Milan/cert_chain';
const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-02T00:00:00Z');

function entry(overrides: Partial<CachedEndorsement> = {}): CachedEndorsement {
  return {
    url: URL_A,
    kind: 'cert-chain',
    fetchedAt: T0,
    expiresAt: T1,
    headers: { etag: '"x"', 'tcb-info-issuer-chain': '%2D%2D' },
    body: new Uint8Array([0x30, 1, 2, 3, 0xff]),
    ...overrides,
  };
}

describe('createDiskCache', () => {
  it('round-trips body, headers, fetch time and expiry', async () => {
    const cache = createDiskCache(join(tempDir(), 'nested', 'dir'));
    await cache.set(entry());
    const got = await cache.get(URL_A, new Date(T0.getTime() + 1000));
    expect(got).toBeDefined();
    expect(Array.from(got!.body)).toEqual([0x30, 1, 2, 3, 0xff]);
    expect(got!.headers).toEqual({ etag: '"x"', 'tcb-info-issuer-chain': '%2D%2D' });
    expect(got!.fetchedAt.toISOString()).toBe(T0.toISOString());
    expect(got!.expiresAt.toISOString()).toBe(T1.toISOString());
    expect(got!.kind).toBe('cert-chain');
  });

  it('never returns an entry at or after its expiry', async () => {
    const cache = createDiskCache(tempDir());
    await cache.set(entry());
    expect(await cache.get(URL_A, new Date(T1.getTime() - 1))).toBeDefined();
    expect(await cache.get(URL_A, T1)).toBeUndefined();
    expect(await cache.get(URL_A, new Date(T1.getTime() + 1))).toBeUndefined();
  });

  it('misses for an unknown URL and for a missing directory', async () => {
    expect(await createDiskCache(join(tempDir(), 'absent')).get(URL_A, T0)).toBeUndefined();
  });

  it.each([
    ['empty file', () => ''],
    ['truncated JSON', (t: string) => t.slice(0, t.length / 2)],
    ['wrong format tag', (t: string) => t.replace('endorsement-cache/1', 'endorsement-cache/0')],
    ['another URL (a copied file)', (t: string) => t.replace(URL_A, 'https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain')],
    ['body edited, hash kept', (t: string) => JSON.stringify({ ...(JSON.parse(t) as object), body: 'AAAA' })],
    ['unknown kind', (t: string) => JSON.stringify({ ...(JSON.parse(t) as object), kind: 'vlek' })],
    ['unreadable expiry', (t: string) => JSON.stringify({ ...(JSON.parse(t) as object), expiresAt: 'soon' })],
    ['non-string header', (t: string) => JSON.stringify({ ...(JSON.parse(t) as object), headers: { etag: 1 } })],
    ['JSON array', () => '[]'],
  ])('reads a file with %s as absent', async (_name, mangle) => {
    const dir = tempDir();
    const cache = createDiskCache(dir);
    await cache.set(entry());
    const file = join(dir, diskCacheFileName(URL_A));
    writeFileSync(file, mangle(readFileSync(file, 'utf8')));
    expect(await cache.get(URL_A, T0)).toBeUndefined();
    // The next write replaces it.
    await cache.set(entry());
    expect(await cache.get(URL_A, T0)).toBeDefined();
  });

  it('writes through a temporary file and rename: only entry files remain, even under concurrent writers', async () => {
    const dir = tempDir();
    const cache = createDiskCache(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(entry({ body: new Uint8Array([i]) }))));
    expect(readdirSync(dir)).toEqual([diskCacheFileName(URL_A)]);
    const got = await cache.get(URL_A, T0);
    expect(got!.body.length).toBe(1);
  });

  it('names files by the SHA-256 of the URL only', () => {
    expect(diskCacheFileName(URL_A)).toMatch(/^[0-9a-f]{64}\.json$/);
  });

  it('refuses an empty directory path', () => {
    expect(() => createDiskCache('')).toThrow(/directory/);
  });
});
