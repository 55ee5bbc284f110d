/**
 * A small seeded pseudo-random number generator for the demo data set.
 *
 * The demo model must retrain to the same weights file byte for byte, so every
 * random draw goes through this generator instead of `Math.random()`. The core
 * is mulberry32: 32 bits of state, good enough statistical quality for a
 * synthetic data set, and trivially portable (only 32-bit integer maths, which
 * `Math.imul` makes exact in JavaScript).
 */

/** A seeded source of random draws; every method advances the same stream. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** `true` with probability `p`. */
  bernoulli(p: number): boolean;
  /** Normal draw with the given mean and standard deviation. */
  normal(mean: number, sd: number): number;
  /** Poisson draw with mean `lambda` (small lambdas only; Knuth's method). */
  poisson(lambda: number): number;
  /** Index drawn with probability proportional to `weights[i]`. */
  weighted(weights: readonly number[]): number;
}

/**
 * Creates a mulberry32 generator. Seeds are reduced to 32 bits, so `seed` and
 * `seed + 2 ** 32` give the same stream.
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  // Box–Muller yields normals in pairs; keeping the spare halves the cost and,
  // more importantly, keeps the stream layout fixed for reproducibility.
  let spare: number | undefined;

  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  return {
    next,
    int: (n) => Math.floor(next() * n),
    bernoulli: (p) => next() < p,
    normal(mean, sd) {
      if (spare !== undefined) {
        const z = spare;
        spare = undefined;
        return mean + sd * z;
      }
      // 1 - next() lies in (0, 1], so the logarithm is always finite.
      const radius = Math.sqrt(-2 * Math.log(1 - next()));
      const angle = 2 * Math.PI * next();
      spare = radius * Math.sin(angle);
      return mean + sd * radius * Math.cos(angle);
    },
    poisson(lambda) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let product = next();
      while (product > limit) {
        k += 1;
        product *= next();
      }
      return k;
    },
    weighted(weights) {
      let total = 0;
      for (const w of weights) total += w;
      let target = next() * total;
      for (let i = 0; i < weights.length; i += 1) {
        target -= weights[i] ?? 0;
        if (target < 0) return i;
      }
      // Only reachable through floating-point rounding at the very top end.
      return weights.length - 1;
    },
  };
}

/**
 * Derives a sub-seed from a master seed and a label (FNV-1a over the label,
 * started from the seed). The data generator and the train/test shuffle each
 * get their own stream, so the shuffle's draws do not depend on how many
 * draws the generator happened to make.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < label.length; i += 1) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
