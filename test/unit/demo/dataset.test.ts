import { describe, expect, it } from 'vitest';
import { generateDataset, splitDataset } from '../../../src/demo/dataset.js';
import { createRng, deriveSeed } from '../../../src/demo/prng.js';
import { validateTransaction } from '../../../src/demo/transaction.js';

describe('seeded PRNG', () => {
  it('repeats its stream for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const first = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(first);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws with roughly the requested distributions', () => {
    const rng = createRng(7);
    const n = 20_000;
    const normals = Array.from({ length: n }, () => rng.normal(3, 2));
    const mean = normals.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(normals.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    expect(mean).toBeCloseTo(3, 1);
    expect(sd).toBeCloseTo(2, 1);
    const poisson = Array.from({ length: n }, () => rng.poisson(1.8));
    expect(poisson.reduce((s, x) => s + x, 0) / n).toBeCloseTo(1.8, 1);
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i += 1) counts[rng.weighted([1, 2, 7])]! += 1;
    expect(counts[2]! / n).toBeCloseTo(0.7, 1);
  });

  it('derives different sub-seeds per label', () => {
    expect(deriveSeed(1, 'dataset')).not.toBe(deriveSeed(1, 'split'));
    expect(deriveSeed(1, 'dataset')).toBe(deriveSeed(1, 'dataset'));
  });
});

describe('synthetic transaction data set', () => {
  it('is deterministic for a seed', () => {
    expect(generateDataset({ seed: 99, samples: 500 })).toEqual(generateDataset({ seed: 99, samples: 500 }));
    expect(generateDataset({ seed: 99, samples: 50 })).not.toEqual(generateDataset({ seed: 100, samples: 50 }));
  });

  it('has a 3–5 % fraud rate and only valid transactions', () => {
    const rows = generateDataset({ seed: 20250101, samples: 20_000 });
    const rate = rows.filter((r) => r.fraud).length / rows.length;
    expect(rate).toBeGreaterThan(0.03);
    expect(rate).toBeLessThan(0.05);
    expect(rows.filter((row) => !validateTransaction(row.transaction).ok)).toEqual([]);
  });

  it('makes fraud more common in the risky corners, as the hidden model says', () => {
    const rows = generateDataset({ seed: 5, samples: 20_000 });
    const rate = (pick: (r: (typeof rows)[number]) => boolean): number => {
      const group = rows.filter(pick);
      return group.filter((r) => r.fraud).length / group.length;
    };
    expect(rate((r) => r.transaction.foreign)).toBeGreaterThan(2 * rate((r) => !r.transaction.foreign));
    expect(rate((r) => !r.transaction.card_present)).toBeGreaterThan(rate((r) => r.transaction.card_present));
  });

  it('splits by seed into disjoint, stratified partitions', () => {
    const rows = generateDataset({ seed: 3, samples: 5000 });
    const split = splitDataset(rows, { seed: 3, testFraction: 0.2 });
    expect(split.train.length + split.test.length).toBe(rows.length);
    expect(split.test.length).toBeCloseTo(1000, -1);
    const trainSet = new Set(split.train);
    expect(split.test.some((r) => trainSet.has(r))).toBe(false);
    const rate = (part: readonly { fraud: boolean }[]): number => part.filter((r) => r.fraud).length / part.length;
    expect(Math.abs(rate(split.train) - rate(split.test))).toBeLessThan(0.002);
    expect(splitDataset(rows, { seed: 3, testFraction: 0.2 })).toEqual(split);
    expect(splitDataset(rows, { seed: 4, testFraction: 0.2 }).test).not.toEqual(split.test);
  });
});
