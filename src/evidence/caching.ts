/**
 * Guards a provider against being asked too often. TDX quotes take about a
 * second on stock kernels and SNP reports go through the PSP, a shared,
 * slow device; the certificate path asks rarely, but the freshness endpoint
 * asks once per client nonce, so a burst of clients must not turn into a
 * burst of quotes.
 *
 * Policy (bounded waiting, then a clear refusal):
 *  - at most one call to the wrapped provider at a time, and the starts of
 *    two calls at least `minIntervalMs` apart;
 *  - callers queue for their turn, at most `maxQueue` distinct requests and
 *    at most `maxWaitMs` each; beyond either bound they are refused at once
 *    with EG_ATTESTATION_FAILED, `details.reason = 'rate-limited'` and a
 *    `retryAfterMs` estimate (an HTTP endpoint answers 503 + Retry-After);
 *  - identical report data is asked for once: concurrent callers share the
 *    pending call, and the result is cached for `cacheSeconds` (safe, since
 *    the report data, which the evidence binds, is the same).
 * Failures are never cached, but still count against the interval so a
 * failing device is not hammered.
 */
import { EnclaveGateError } from '../errors.js';
import type { Evidence, EvidenceProvider, GetEvidenceOptions } from './provider.js';
import { REPORT_DATA_LENGTH } from './report-data.js';

/** Rate and cache limits; every field has a default. */
export interface CachingOptions {
  /** Least time between the starts of two quotes; default 250 ms. */
  readonly minIntervalMs?: number;
  /** How long evidence for the same report data is reused; default 60 s, 0 disables. */
  readonly cacheSeconds?: number;
  /** Most cached entries (oldest dropped first); default 64. */
  readonly maxCacheEntries?: number;
  /** Most distinct requests waiting for their turn; default 16. */
  readonly maxQueue?: number;
  /** Longest a request waits for its turn before it is refused; default 5000 ms. */
  readonly maxWaitMs?: number;
  /** Monotonic clock in ms, for tests; default performance.now. */
  readonly now?: () => number;
}

/** Counters for metrics and tests. */
export interface CachingStats {
  /** Calls made to the wrapped provider. */
  readonly quotes: number;
  /** Answers served from the cache or from a shared pending call. */
  readonly shared: number;
  /** Requests refused as rate-limited. */
  readonly refused: number;
  /** Requests waiting for their turn now. */
  readonly waiting: number;
}

/** A provider with rate limiting and caching in front. */
export interface CachingProvider extends EvidenceProvider {
  /** The wrapped provider. */
  readonly inner: EvidenceProvider;
  stats(): CachingStats;
}

interface Job {
  readonly key: string;
  readonly reportData: Uint8Array;
  /** Nitro's public_key / nonce fields; part of the key, so a cached document always echoes the caller's. */
  readonly binding: Pick<GetEvidenceOptions, 'publicKey' | 'nonce'>;
  readonly promise: Promise<Evidence>;
  resolve(evidence: Evidence): void;
  reject(error: unknown): void;
  /** Callers still waiting; when all abort before the start, the job is dropped. */
  interested: number;
  started: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Wraps `inner` with the rate limit and cache described above. */
export function createCachingProvider(inner: EvidenceProvider, options: CachingOptions = {}): CachingProvider {
  const minIntervalMs = Math.max(0, options.minIntervalMs ?? 250);
  const cacheMs = Math.max(0, options.cacheSeconds ?? 60) * 1000;
  const maxCacheEntries = Math.max(0, options.maxCacheEntries ?? 64);
  const maxQueue = Math.max(1, options.maxQueue ?? 16);
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 5000);
  const now = options.now ?? (() => performance.now());

  const cache = new Map<string, { evidence: Evidence; expiresAt: number }>();
  const jobs = new Map<string, Job>();
  const queue: Job[] = [];
  let running = false;
  let lastStart = Number.NEGATIVE_INFINITY;
  let lastDurationMs = 0;
  let pumpTimer: NodeJS.Timeout | undefined;
  const counters = { quotes: 0, shared: 0, refused: 0 };

  function retryAfterMs(): number {
    const ahead = queue.length + (running ? 1 : 0);
    // Before the first quote has finished its cost is unknown; assume a stock-kernel TDX quote.
    const perQuote = Math.max(minIntervalMs, lastDurationMs > 0 ? lastDurationMs : 1000);
    return Math.ceil(perQuote * Math.max(1, ahead));
  }

  function refuse(why: string): EnclaveGateError {
    counters.refused++;
    const retry = retryAfterMs();
    return new EnclaveGateError(
      'EG_ATTESTATION_FAILED',
      `attestation provider "${inner.name}": ${why}; quotes are made one at a time, at most one per ${minIntervalMs} ms. Retry in about ${retry} ms`,
      { details: { provider: inner.name, reason: 'rate-limited', retryAfterMs: retry } },
    );
  }

  function drop(job: Job, error: unknown): void {
    const index = queue.indexOf(job);
    if (index >= 0) queue.splice(index, 1);
    clearTimeout(job.timer);
    jobs.delete(job.key);
    job.reject(error);
  }

  function remember(key: string, evidence: Evidence): void {
    if (cacheMs === 0 || maxCacheEntries === 0) return;
    cache.delete(key);
    cache.set(key, { evidence, expiresAt: now() + cacheMs });
    while (cache.size > maxCacheEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  function pump(): void {
    if (running || pumpTimer !== undefined || queue.length === 0) return;
    const wait = lastStart + minIntervalMs - now();
    if (wait > 0) {
      pumpTimer = setTimeout(() => {
        pumpTimer = undefined;
        pump();
      }, Math.ceil(wait));
      return;
    }
    const job = queue.shift() as Job;
    job.started = true;
    clearTimeout(job.timer);
    running = true;
    lastStart = now();
    counters.quotes++;
    // Promise.resolve().then: a provider that throws synchronously still settles the job.
    Promise.resolve()
      .then(() => inner.getEvidence(job.reportData, job.binding))
      .then(
        (evidence) => {
          remember(job.key, evidence);
          job.resolve(evidence);
        },
        (error: unknown) => job.reject(error),
      )
      .finally(() => {
        lastDurationMs = now() - lastStart;
        running = false;
        jobs.delete(job.key);
        pump();
      });
  }

  function follow(job: Job, signal: AbortSignal | undefined): Promise<Evidence> {
    if (signal === undefined) return job.promise;
    return new Promise<Evidence>((resolve, reject) => {
      const onAbort = (): void => {
        job.interested--;
        if (job.interested === 0 && !job.started) drop(job, signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    inner,
    get name() {
      return inner.name;
    },
    get platform() {
      return inner.platform;
    },
    get insecure() {
      return inner.insecure;
    },
    stats: () => ({ ...counters, waiting: queue.length }),
    async getEvidence(reportData: Uint8Array, callOptions: GetEvidenceOptions = {}): Promise<Evidence> {
      if (!(reportData instanceof Uint8Array) || reportData.length !== REPORT_DATA_LENGTH) {
        // Checked here too: the cache key must be the exact bytes the provider would sign.
        throw new EnclaveGateError('EG_ATTESTATION_FAILED', `attestation provider "${inner.name}": report data must be exactly ${REPORT_DATA_LENGTH} bytes`);
      }
      callOptions.signal?.throwIfAborted();
      const hex = (b: Uint8Array | undefined): string => (b === undefined ? '-' : Buffer.from(b).toString('hex'));
      const key = `${hex(reportData)}:${hex(callOptions.publicKey)}:${hex(callOptions.nonce)}`;
      const binding = {
        ...(callOptions.publicKey === undefined ? {} : { publicKey: new Uint8Array(callOptions.publicKey) }),
        ...(callOptions.nonce === undefined ? {} : { nonce: new Uint8Array(callOptions.nonce) }),
      };
      const hit = cache.get(key);
      if (hit !== undefined) {
        if (hit.expiresAt > now()) {
          counters.shared++;
          return hit.evidence;
        }
        cache.delete(key);
      }
      let job = jobs.get(key);
      if (job !== undefined) {
        counters.shared++;
      } else {
        if (queue.length >= maxQueue) throw refuse(`too many evidence requests: ${queue.length} already waiting (limit ${maxQueue})`);
        let resolve!: (evidence: Evidence) => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<Evidence>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        // Callers may all have gone (aborted); an unobserved rejection must not crash the process.
        promise.catch(() => undefined);
        const created: Job = { key, reportData: new Uint8Array(reportData), binding, promise, resolve, reject, interested: 0, started: false, timer: undefined };
        created.timer = setTimeout(() => {
          if (!created.started) drop(created, refuse(`an evidence request waited ${maxWaitMs} ms without its turn`));
        }, maxWaitMs);
        job = created;
        jobs.set(key, job);
        queue.push(job);
        pump();
      }
      job.interested++;
      return follow(job, callOptions.signal);
    },
  };
}
