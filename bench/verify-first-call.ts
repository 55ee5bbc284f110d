/**
 * Fresh-process probe for verify.bench.ts: loads the cases (modules and
 * vector files), then times exactly one verification of the case named on
 * the command line and prints `{"ms": …}`. Run by the bench in a child
 * process per sample so "first call" means a process that has verified
 * nothing yet (cold JIT, cold OpenSSL key caches, no chain cache).
 */
import { loadCases } from './verify-cases.js';
import { timeOnce } from './verify-stats.js';

const id = process.argv[2];
const found = loadCases().find((c) => c.id === id);
if (found === undefined) {
  console.error(`unknown case ${String(id)}`);
  process.exit(2);
}
console.log(JSON.stringify({ ms: timeOnce(found.cold) }));
