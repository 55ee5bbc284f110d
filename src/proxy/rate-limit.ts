/**
 * Per-party rate limits the policy asks for (`rate_limit` in an allowing
 * request decision; docs/identity.md). The policy says who shares a bucket
 * (`key`) and how fast it refills; the proxy keeps the buckets, because a
 * policy evaluation is stateless.
 *
 * Two token buckets per key: requests (one per request, checked and taken
 * before the request goes upstream) and model tokens (checked before, charged
 * after a JSON answer from its `usage.total_tokens`, so a bucket may go below
 * zero and then refuses until it has refilled). Buckets are kept in a bounded
 * map; an evicted bucket comes back full, which is what an idle one would be.
 */
import { EnclaveGateError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { PARTY_LABEL, type RateLimit } from '../policy/decision.js';

interface Bucket {
  level: number;
  updatedAt: number;
}

interface PartyBuckets {
  requests?: Bucket;
  tokens?: Bucket;
}

/** A request admitted under a rate limit: charge its model tokens once the answer is known. */
export interface Quota {
  readonly party: string;
  charge(tokens: number): void;
}

/** Settings of {@link RateLimiter}. */
export interface RateLimiterOptions {
  readonly metrics?: Metrics;
  /** Most keys with buckets; the least recently used is dropped beyond it. Default 10 000. */
  readonly maxKeys?: number;
  /** Most distinct `party` metric labels; later parties are counted as "other". Default 64. */
  readonly maxPartyLabels?: number;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

/** Refills a bucket of `capacity` at `perMinute` up to now; returns its level. */
function refill(bucket: Bucket, capacity: number, perMinute: number, now: number): number {
  const elapsed = Math.max(0, now - bucket.updatedAt);
  bucket.level = Math.min(capacity, bucket.level + (elapsed * perMinute) / 60_000);
  bucket.updatedAt = now;
  return bucket.level;
}

/** Seconds until a bucket at `level` reaches `target` at `perMinute`, at least 1. */
function secondsUntil(level: number, target: number, perMinute: number): number {
  return Math.max(1, Math.ceil(((target - level) * 60) / perMinute));
}

/** Enforces the policy's per-party rate limits. */
export class RateLimiter {
  readonly #buckets = new Map<string, PartyBuckets>();
  readonly #labels = new Set<string>();
  readonly #maxKeys: number;
  readonly #maxLabels: number;
  readonly #now: () => number;
  readonly #metrics: Metrics | undefined;

  constructor(options: RateLimiterOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#maxLabels = options.maxPartyLabels ?? 64;
    this.#now = options.now ?? (() => performance.now());
    this.#metrics = options.metrics;
  }

  /** The bounded metric label of a limit. */
  #label(limit: RateLimit): string {
    const wanted = limit.party ?? (PARTY_LABEL.test(limit.key) ? limit.key : 'other');
    if (this.#labels.has(wanted)) return wanted;
    if (this.#labels.size >= this.#maxLabels) return 'other';
    this.#labels.add(wanted);
    return wanted;
  }

  #bucketsOf(key: string): PartyBuckets {
    let buckets = this.#buckets.get(key);
    if (buckets !== undefined) {
      // Move to the back: the map's order is least recently used first.
      this.#buckets.delete(key);
    } else {
      buckets = {};
    }
    this.#buckets.set(key, buckets);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
    return buckets;
  }

  /**
   * Takes one request from the limit's buckets, or throws 429
   * EG_QUOTA_EXCEEDED with `retry-after` in `decisionHeaders` and the reason
   * (`rate_limited:requests` or `rate_limited:tokens`) in `details.reasons`.
   */
  admit(limit: RateLimit): Quota {
    const now = this.#now();
    const party = this.#label(limit);
    const buckets = this.#bucketsOf(limit.key);
    const rpm = limit.requests_per_minute;
    const tpm = limit.tokens_per_minute;
    let refusal: { reason: string; retryAfter: number } | undefined;
    if (tpm !== undefined) {
      buckets.tokens ??= { level: tpm, updatedAt: now };
      const level = refill(buckets.tokens, tpm, tpm, now);
      if (level <= 0) refusal = { reason: 'rate_limited:tokens', retryAfter: secondsUntil(level, 1, tpm) };
    }
    if (refusal === undefined && rpm !== undefined) {
      const capacity = limit.burst ?? Math.ceil(rpm);
      buckets.requests ??= { level: capacity, updatedAt: now };
      const level = refill(buckets.requests, capacity, rpm, now);
      if (level < 1) refusal = { reason: 'rate_limited:requests', retryAfter: secondsUntil(level, 1, rpm) };
      else buckets.requests.level = level - 1;
    }
    if (refusal !== undefined) {
      this.#metrics?.partyRequests.inc({ party, outcome: 'rate_limited' });
      throw Object.assign(
        new EnclaveGateError('EG_QUOTA_EXCEEDED', `rate limit of party "${party}" exceeded`, { details: { reasons: [refusal.reason] } }),
        { decisionHeaders: { 'retry-after': String(refusal.retryAfter) } },
      );
    }
    this.#metrics?.partyRequests.inc({ party, outcome: 'allowed' });
    const metrics = this.#metrics;
    return {
      party,
      charge: (tokens: number) => {
        if (!(tokens > 0) || !Number.isFinite(tokens)) return;
        metrics?.partyTokens.inc({ party }, tokens);
        if (tpm === undefined || buckets.tokens === undefined) return;
        refill(buckets.tokens, tpm, tpm, this.#now());
        buckets.tokens.level -= tokens;
      },
    };
  }

  /** Number of keys holding buckets. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** `usage.total_tokens` of an OpenAI-style JSON answer (or prompt + completion, or Ollama's counts); 0 when absent. */
export function usageTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const record = body as Record<string, unknown>;
  const usage = record['usage'];
  if (typeof usage === 'object' && usage !== null) {
    const u = usage as Record<string, unknown>;
    if (typeof u['total_tokens'] === 'number') return u['total_tokens'];
    const sum = (typeof u['prompt_tokens'] === 'number' ? u['prompt_tokens'] : 0) + (typeof u['completion_tokens'] === 'number' ? u['completion_tokens'] : 0);
    const anthropic = (typeof u['input_tokens'] === 'number' ? u['input_tokens'] : 0) + (typeof u['output_tokens'] === 'number' ? u['output_tokens'] : 0);
    return sum + anthropic;
  }
  const ollama = (typeof record['prompt_eval_count'] === 'number' ? record['prompt_eval_count'] : 0) + (typeof record['eval_count'] === 'number' ? record['eval_count'] : 0);
  return ollama;
}
