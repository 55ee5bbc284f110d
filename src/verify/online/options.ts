/**
 * Options every online fetch accepts. Online fetching is opt-in: nothing in
 * `verify/` touches the network unless a caller calls one of these fetchers.
 */
import type { EndorsementCache } from './cache.js';
import type { MaxAge } from './expiry.js';
import type { FetchLike } from './transport.js';

/** Transport, cache, clock and limits of an online fetch. */
export interface OnlineFetchOptions {
  /** The HTTP transport; default the global fetch. Concurrent requests for one URL on one transport are coalesced. */
  readonly fetch?: FetchLike;
  /** Looked up before the network and filled after it; omit to always fetch. */
  readonly cache?: EndorsementCache;
  /** Cancels this caller's wait (a coalesced request other callers share keeps running). */
  readonly signal?: AbortSignal;
  /**
   * Clock for cache freshness and fetch times; default `new Date()`. Tests and
   * replays set it to the instant they verify at, so expiry is judged at the
   * same instant as the collateral.
   */
  readonly now?: () => Date;
  /** Per-attempt timeout in ms (default 10 000). */
  readonly timeoutMs?: number;
  /** Longest Retry-After a 429 may ask for before the fetch fails instead (default 30 000 ms). */
  readonly maxRetryWaitMs?: number;
  /** Attempts in total while the server answers 429 (default 3). */
  readonly maxAttempts?: number;
  /** Largest body accepted in bytes (default 4 MiB). */
  readonly maxBytes?: number;
  /** Upper bounds on how long cached entries are served. */
  readonly maxAgeMs?: MaxAge;
  /**
   * Extra request headers, e.g. a PCCS API key. Sent with every request of
   * this call and never included in errors or cache files.
   */
  readonly headers?: Readonly<Record<string, string>>;
}
