/**
 * Reproducible property tests (fast-check). Every property runs under a fixed
 * set of seeds (the same in CI and on every machine) plus one random seed per
 * run, so new inputs keep being tried without making failures unrepeatable:
 * a failure names its seed, and `FC_SEED=<seed> npx vitest run <file>` runs
 * that seed alone. Counterexamples are also shrunk and printed by fast-check.
 */
import fc from 'fast-check';

/** Seeds every run tries. Changing them changes what CI proves: add, do not replace. */
export const FIXED_SEEDS: readonly number[] = [1, 42, 4242, 20_261_204, 0x5eed];

/** The random seed of this run (printed once, so a green run can be repeated too). */
const RANDOM_SEED = Math.floor(Math.random() * 0x7fffffff);

/** Seeds this run uses: FC_SEED alone when set, else the fixed set plus the run's random seed. */
export function propertySeeds(): number[] {
  const forced = process.env['FC_SEED'];
  if (forced !== undefined && forced !== '') {
    const seed = Number(forced);
    if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got "${forced}"`);
    return [seed];
  }
  return [...FIXED_SEEDS, RANDOM_SEED];
}

/** Totals over the run, for docs/security.md's figures. */
export const propertyTally = { properties: 0, cases: 0 };

/**
 * Asserts `property` under every seed of this run. On failure the error names
 * the seed and how to rerun it; fast-check's own report (shrunk counterexample,
 * path) follows.
 */
export function checkProperty<T>(name: string, property: fc.IProperty<T>, numRuns = 200): void {
  propertyTally.properties++;
  for (const seed of propertySeeds()) {
    try {
      fc.assert(property, { seed, numRuns });
      propertyTally.cases += numRuns;
    } catch (error) {
      const rerun = `FC_SEED=${seed} npx vitest run -t ${JSON.stringify(name)}`;
      throw new Error(`property "${name}" failed with seed ${seed}; reproduce with: ${rerun}\n${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * Mutations of a real, valid input: bytes overwritten, a cut, bytes inserted,
 * a region duplicated, a 32-bit length-looking field set to an extreme. Valid
 * inputs reach deep into a parser; random bytes rarely get past the header.
 */
export function mutationsOf(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = seed.length;
  const overwrite = fc
    .array(fc.tuple(fc.nat({ max: Math.max(0, n - 1) }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })
    .map((edits) => {
      const out = Uint8Array.from(seed);
      for (const [at, value] of edits) out[at] = value;
      return out;
    });
  const cut = fc.nat({ max: n }).map((at) => seed.slice(0, at));
  const insert = fc
    .tuple(fc.nat({ max: n }), fc.uint8Array({ minLength: 1, maxLength: 64 }))
    .map(([at, bytes]) => new Uint8Array(Buffer.concat([seed.subarray(0, at), bytes, seed.subarray(at)])));
  const extremeLength = fc
    .tuple(fc.nat({ max: Math.max(0, n - 4) }), fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x80000000, n, n + 1))
    .map(([at, value]) => {
      const out = Uint8Array.from(seed);
      if (out.length >= at + 4) new DataView(out.buffer).setUint32(at, value >>> 0, true);
      return out;
    });
  return fc.oneof(overwrite, cut, insert, extremeLength);
}
