/** Timing helpers for the verifier benchmark: bounded loops, median and p95. */

/** Summary of a set of timings, in milliseconds. */
export interface Timing {
  readonly n: number;
  readonly medianMs: number;
  readonly p95Ms: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises raw millisecond samples. */
export function summarise(samples: readonly number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
}

/** Milliseconds one call of `fn` takes. */
export function timeOnce(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Runs `fn` `warmup` times untimed, then up to `maxIterations` timed calls,
 * stopping early once `budgetMs` of wall time is spent (at least 5 samples).
 */
export function measure(fn: () => void, options: { maxIterations: number; budgetMs: number; warmup: number }): Timing {
  for (let i = 0; i < options.warmup; i++) fn();
  const samples: number[] = [];
  const deadline = performance.now() + options.budgetMs;
  while (samples.length < options.maxIterations && (samples.length < 5 || performance.now() < deadline)) {
    samples.push(timeOnce(fn));
  }
  return summarise(samples);
}

/** A number of milliseconds for a table cell: 3 significant digits, µs below 1 ms. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (value < 1) return `${(value * 1000).toPrecision(3)} µs`;
  return `${value.toPrecision(3)} ms`;
}

/** {@link measure} for async calls (each awaited before the next starts). */
export async function measureAsync(fn: () => Promise<unknown>, options: { maxIterations: number; budgetMs: number; warmup: number }): Promise<Timing> {
  for (let i = 0; i < options.warmup; i++) await fn();
  const samples: number[] = [];
  const deadline = performance.now() + options.budgetMs;
  while (samples.length < options.maxIterations && (samples.length < 5 || performance.now() < deadline)) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return summarise(samples);
}
