/**
 * Streaming policy benchmark: what checking one SSE event costs, unpaced
 * (rows and method: bench/stream-cost.ts). Writes bench/results/stream-policy.md.
 * bench/stream-latency.ts measures what a paced chat stream feels like.
 *
 * Run: npx vite-node bench/stream-policy.bench.ts
 * Env: BENCH_STREAM_EVENTS (20000 per row).
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureStreamCost } from './stream-cost.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(process.env['BENCH_STREAM_EVENTS'] ?? 20_000);

const rows = await measureStreamCost({ events: EVENTS });
const fmt = (v: number) => v.toFixed(1);
const table = ['| per SSE event | p50 µs | p95 µs | mean µs |', '|---|---:|---:|---:|', ...rows.map((s) => `| ${s.what} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.mean)} |`)].join('\n');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Streaming policy: cost per SSE event

\`npx vite-node bench/stream-policy.bench.ts\` on ${cpu} (${cpus().length} cores), Node ${process.version}, ${EVENTS} events per row after 2000 warm-up events.
Events are OpenAI \`chat.completion.chunk\`s of one token (~200 bytes); default release rule (no fixed window) unless the row says otherwise, default PII detectors.

${table}

The stream policy's own cost is the difference to the baseline. The last row is what asking the
wasm policy about every event would add; the transform asks only about events with findings.
`;
writeFileSync(resolve(ROOT, 'bench', 'results', 'stream-policy.md'), md);
console.log(md);
