/**
 * Cache → network → cache for one endorsement URL. Concurrent callers for the
 * same URL on the same transport share one lookup and at most one request
 * (transport.ts); the caller's own abort signal only ends that caller's wait.
 * A caller that joins a request in flight gets its result as the first caller
 * configured it (cache, clock, extra headers): the URL alone names the content.
 */
import { VerifyError } from '../../errors.js';
import type { CachedEndorsement } from './cache.js';
import { cacheExpiry, type EndorsementKind } from './expiry.js';
import { HTTP_DEFAULTS, httpGet, safeUrl, type HttpLimits } from './http.js';
import type { OnlineFetchOptions } from './options.js';
import { coalesce, defaultFetch, transportState } from './transport.js';

/** What one endorsement fetch returns. */
export interface FetchedEndorsement {
  readonly url: string;
  readonly body: Uint8Array;
  /** Kept headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly fetchedAt: Date;
  /** Where the bytes came from. */
  readonly source: 'cache' | 'network';
}

/** One endorsement to fetch. */
export interface EndorsementRequest {
  readonly url: string;
  readonly kind: EndorsementKind;
  /** Response headers the caller needs (issuer chains); stored with cached bodies. */
  readonly keepHeaders?: readonly string[];
}

function positive(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new VerifyError('EG_VERIFY_USAGE', `${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/** Checks the numeric options once, so a typo fails as usage, not as a network error. */
export function httpLimits(options: OnlineFetchOptions): HttpLimits {
  const maxAttempts = positive(options.maxAttempts, 'maxAttempts', HTTP_DEFAULTS.maxAttempts);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new VerifyError('EG_VERIFY_USAGE', `maxAttempts must be a positive integer, got ${String(maxAttempts)}`);
  }
  return {
    timeoutMs: positive(options.timeoutMs, 'timeoutMs', HTTP_DEFAULTS.timeoutMs),
    maxRetryWaitMs: positive(options.maxRetryWaitMs, 'maxRetryWaitMs', HTTP_DEFAULTS.maxRetryWaitMs),
    maxAttempts,
    maxBytes: positive(options.maxBytes, 'maxBytes', HTTP_DEFAULTS.maxBytes),
  };
}

/** Resolves when `work` does, or rejects when `signal` aborts first (without cancelling `work`). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, url: string): Promise<T> {
  if (signal === undefined) return work;
  const aborted = (): VerifyError =>
    new VerifyError('EG_VERIFY_CONNECT', `could not fetch ${safeUrl(url)}: aborted by the caller`, { details: { url: safeUrl(url) } });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Returns the endorsement at `request.url`: from `options.cache` while it is
 * fresh, else from the network (then stored with the expiry expiry.ts
 * computes). Cache failures never fail the fetch; network failures are
 * VerifyErrors (EG_VERIFY_CONNECT, EG_VERIFY_ENDORSEMENTS_MISSING).
 */
export async function fetchEndorsement(request: EndorsementRequest, options: OnlineFetchOptions): Promise<FetchedEndorsement> {
  const limits = httpLimits(options);
  const transport = options.fetch ?? defaultFetch;
  const clock = options.now ?? ((): Date => new Date());
  const { cache } = options;
  const state = transportState(transport);
  const shared = coalesce(state, request.url, async (): Promise<FetchedEndorsement> => {
    let hit: CachedEndorsement | undefined;
    try {
      hit = await cache?.get(request.url, clock());
    } catch {
      // A cache that cannot be read is a cache miss, not a verification failure.
      hit = undefined;
    }
    if (hit !== undefined) {
      return { url: request.url, body: hit.body, headers: hit.headers, fetchedAt: hit.fetchedAt, source: 'cache' };
    }
    const answer = await httpGet(request.url, transport, state, {
      limits,
      keepHeaders: request.keepHeaders ?? [],
      ...(options.headers === undefined ? {} : { requestHeaders: options.headers }),
    });
    const fetchedAt = clock();
    const expiresAt = cacheExpiry(request.kind, answer.body, fetchedAt, options.maxAgeMs);
    if (cache !== undefined && expiresAt !== undefined && expiresAt.getTime() > fetchedAt.getTime()) {
      try {
        await cache.set({ url: request.url, kind: request.kind, fetchedAt, expiresAt, headers: answer.headers, body: answer.body });
      } catch {
        // Storing is an optimisation: a full or read-only disk must not turn a good fetch into a failure.
      }
    }
    return { url: request.url, body: answer.body, headers: answer.headers, fetchedAt, source: 'network' };
  });
  return untilAborted(shared, options.signal, request.url);
}
