/**
 * Writes the labelled PII corpus to .scratch/pii-corpus.json (not committed:
 * it is rebuilt from the seed in a second).
 *
 *   npx vite-node bench/pii-quality/generate.ts [seed] [count]
 */
import { mkdirSync, writeFileSync } from 'node:fs';

import { generateCorpus } from './corpus.js';

/** Default seed and size of the benchmark corpus. */
export const DEFAULT_SEED = 20240917;
export const DEFAULT_COUNT = 6000;

const seed = Number(process.argv[2] ?? DEFAULT_SEED);
const count = Number(process.argv[3] ?? DEFAULT_COUNT);
mkdirSync('.scratch', { recursive: true });
const corpus = generateCorpus(seed, count);
writeFileSync('.scratch/pii-corpus.json', JSON.stringify({ seed, count, samples: corpus }));
console.log(`wrote .scratch/pii-corpus.json: ${count} samples, ${corpus.reduce((n, s) => n + s.labels.length, 0)} labels (seed ${seed})`);
