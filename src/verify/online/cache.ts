/**
 * Endorsement caches. The online fetchers ask the cache before the network
 * and store what they fetched with the instant it stops being servable
 * (computed by expiry.ts); a cache never returns an entry at or past that
 * instant. `createDiskCache` persists entries across processes, which is what
 * keeps a fleet of short-lived clients from tripping AMD KDS throttling.
 *
 * Cached bytes are not trusted: they are verified like fetched bytes. The
 * cache only has to be honest about what it stored and when it expires, so
 * any entry that does not read back exactly (torn write, edited file, hash
 * mismatch, wrong URL) is treated as absent and refetched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VerifyError } from '../../errors.js';
import type { EndorsementKind } from './expiry.js';

/** One cached answer. */
export interface CachedEndorsement {
  readonly url: string;
  readonly kind: EndorsementKind;
  /** When it was fetched (the fetcher's clock). */
  readonly fetchedAt: Date;
  /** First instant at which it must no longer be served. */
  readonly expiresAt: Date;
  /** Headers kept from the answer (issuer chains, ETag, Last-Modified, Cache-Control …), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Where online fetches look before going to the network. */
export interface EndorsementCache {
  /** The entry for `url` if one is stored and `now` is before its expiresAt. */
  get(url: string, now: Date): Promise<CachedEndorsement | undefined>;
  /** Stores (replaces) the entry for `entry.url`. */
  set(entry: CachedEndorsement): Promise<void>;
}

/** Version tag of the on-disk format; files with another tag are ignored. */
export const DISK_CACHE_FORMAT = 'enclave-gate/endorsement-cache/1';

/** File name of the entry for `url`: SHA-256 of the URL, so no URL text reaches the file system. */
export function diskCacheFileName(url: string): string {
  return `${createHash('sha256').update(url).digest('hex')}.json`;
}

interface DiskRecord {
  readonly format: string;
  readonly url: string;
  readonly kind: string;
  readonly fetchedAt: string;
  readonly expiresAt: string;
  readonly headers: Record<string, string>;
  readonly bodySha256: string;
  readonly body: string;
}

const KINDS: readonly string[] = ['vcek', 'cert-chain', 'crl', 'tcb-info', 'qe-identity'];

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isoDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Decodes a stored record; undefined for anything that is not exactly what `set` writes. */
function decode(text: string, url: string): CachedEndorsement | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<Record<keyof DiskRecord, unknown>>;
  // The URL is compared, not just hashed into the name: a copied or renamed file must not answer for another URL.
  if (r.format !== DISK_CACHE_FORMAT || r.url !== url || typeof r.kind !== 'string' || !KINDS.includes(r.kind)) return undefined;
  const fetchedAt = isoDate(r.fetchedAt);
  const expiresAt = isoDate(r.expiresAt);
  if (fetchedAt === undefined || expiresAt === undefined || !isStringRecord(r.headers)) return undefined;
  if (typeof r.body !== 'string' || typeof r.bodySha256 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.body)) return undefined;
  const body = new Uint8Array(Buffer.from(r.body, 'base64'));
  if (sha256Hex(body) !== r.bodySha256) return undefined;
  return { url, kind: r.kind as EndorsementKind, fetchedAt, expiresAt, headers: { ...r.headers }, body };
}

/**
 * A cache in `dir` (created on first write): one JSON file per URL holding the
 * body (base64) and its SHA-256, the fetch time, the expiry and the kept
 * headers. Writes go to a unique temporary file renamed over the entry, so a
 * reader sees the old entry or the new one, never half of one. Unreadable,
 * corrupt or foreign files read as absent.
 */
export function createDiskCache(dir: string): EndorsementCache {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new VerifyError('EG_VERIFY_USAGE', 'createDiskCache needs a directory path');
  }
  let made: Promise<unknown> | undefined;
  return {
    async get(url, now) {
      let text: string;
      try {
        text = await readFile(join(dir, diskCacheFileName(url)), 'utf8');
      } catch {
        return undefined;
      }
      const entry = decode(text, url);
      if (entry === undefined || now.getTime() >= entry.expiresAt.getTime()) return undefined;
      return entry;
    },
    async set(entry) {
      // Created once per cache; a failed mkdir is retried on the next write instead of being remembered.
      made ??= mkdir(dir, { recursive: true }).catch((error: unknown) => {
        made = undefined;
        throw error;
      });
      await made;
      const record: DiskRecord = {
        format: DISK_CACHE_FORMAT,
        url: entry.url,
        kind: entry.kind,
        fetchedAt: entry.fetchedAt.toISOString(),
        expiresAt: entry.expiresAt.toISOString(),
        headers: { ...entry.headers },
        bodySha256: sha256Hex(entry.body),
        body: Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength).toString('base64'),
      };
      const target = join(dir, diskCacheFileName(entry.url));
      const temp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(temp, JSON.stringify(record), { flag: 'wx' });
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },
  };
}
