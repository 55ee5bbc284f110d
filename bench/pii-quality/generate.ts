/**
 * Writes the labelled PII corpora to .scratch/ (not committed: they are
 * rebuilt from their seeds in a second): the tuning corpus to
 * .scratch/pii-corpus.json and the held-out one (holdout.ts) to
 * .scratch/pii-holdout.json.
 *
 *   npx vite-node bench/pii-quality/generate.ts [seed] [count]
 */
import { mkdirSync, writeFileSync } from 'node:fs';

import { generateCorpus } from './corpus.js';
import { generateHoldout, HOLDOUT_COUNT, HOLDOUT_SEED } from './holdout.js';

/** Default seed and size of the benchmark corpus. */
export const DEFAULT_SEED = 20240917;
export const DEFAULT_COUNT = 6000;

const seed = Number(process.argv[2] ?? DEFAULT_SEED);
const count = Number(process.argv[3] ?? DEFAULT_COUNT);
mkdirSync('.scratch', { recursive: true });
const corpus = generateCorpus(seed, count);
writeFileSync('.scratch/pii-corpus.json', JSON.stringify({ seed, count, samples: corpus }));
console.log(`wrote .scratch/pii-corpus.json: ${count} samples, ${corpus.reduce((n, s) => n + s.labels.length, 0)} labels (seed ${seed})`);
const holdout = generateHoldout(HOLDOUT_SEED, HOLDOUT_COUNT);
writeFileSync('.scratch/pii-holdout.json', JSON.stringify({ seed: HOLDOUT_SEED, count: HOLDOUT_COUNT, samples: holdout }));
console.log(`wrote .scratch/pii-holdout.json: ${HOLDOUT_COUNT} samples, ${holdout.reduce((n, s) => n + s.labels.length, 0)} labels (seed ${HOLDOUT_SEED})`);
