/**
 * PII scan speed: what `scanPii` costs on a request body of 16 KiB.
 *
 * Bodies (OpenAI chat requests, 16 KiB of JSON each, built from a seeded
 * sentence pool and parsed with JSON.parse as the proxy does):
 *  - prose: plain English, no digits;
 *  - prose with numbers: dates, times, amounts, percentages, order and
 *    version numbers in most sentences, none of them PII;
 *  - PII-dense: every other sentence holds one e-mail, card, phone, SSN,
 *    IBAN, IP, wallet, routing or NHS number (fewer than the findings cap,
 *    so the whole body is scanned).
 *
 * Rows: scanPii with all nine detectors on each body (the scan alone, and
 * JSON.parse of the body text followed by the scan, as the proxy does it);
 * the walk alone (no detectors); each detector alone; one streamed
 * chat.completion.chunk event; and, for scale, JSON.parse of the body text and
 * one `/[0-9]/` test over it.
 * Each sample times one call with process.hrtime.bigint; p50/p95 after a
 * warm-up.
 *
 * Run: npx vite-node bench/pii-speed.bench.ts
 * Env: BENCH_PII_SAMPLES (2000 per row).
 *      BENCH_PII_BASELINE: path of another module exporting scanPii and
 *      PII_DETECTORS (e.g. a copy of an older implementation), timed on the
 *      same bodies in the same run as "before" columns.
 * Writes bench/results/pii-speed.md.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { PII_DETECTORS, scanPii, type PiiDetector, type ScanOptions } from '../src/policy/builtins/pii.js';
import { createRng } from '../src/demo/prng.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = Number(process.env['BENCH_PII_SAMPLES'] ?? 2_000);
const WARMUP = 500;
const BODY_BYTES = 16 * 1024;

interface Impl {
  readonly scanPii: (value: unknown, options?: ScanOptions) => unknown[];
  readonly PII_DETECTORS: readonly PiiDetector[];
}

const current: Impl = { scanPii, PII_DETECTORS };
const baselinePath = process.env['BENCH_PII_BASELINE'];
const baseline: Impl | undefined = baselinePath === undefined ? undefined : ((await import(pathToFileURL(resolve(baselinePath)).href)) as Impl);

/** A seeded PRNG (the demo's mulberry32), so every run builds the same bodies. */
function prng(seed: number): () => number {
  return createRng(seed).next;
}

const PROSE = [
  'The customer asked whether the transaction at the grocery store on Tuesday morning was flagged, and we replied that it looked normal for their history.',
  'Please summarise the attached meeting notes in a friendly tone and keep the action items at the end.',
  'Our team reviewed the proposal carefully and agreed that the second option balances cost and risk better than the first.',
  'She wondered aloud whether the quarterly review could be moved, since half of the department would be travelling that week.',
  'Rewrite this paragraph so that it reads more naturally, without changing what it says about the refund policy.',
  'The assistant explained that the delay was caused by the warehouse, not by the carrier, and apologised for the inconvenience.',
  'When the weather is bad the hiking trail near the lake becomes slippery, so the rangers close the northern section.',
  'I would like a short poem about autumn leaves, quiet streets and the smell of coffee in the early evening.',
  'They compared three suppliers and found that the cheapest one also had the slowest delivery and the weakest support.',
  'Could you draft a polite reply declining the invitation, mentioning that we hope to join them next time?',
];

const NUMBERED = [
  'On 2024-03-15 at 10:30 the order #48213 for $1,249.99 was shipped in 3 boxes weighing 12.5 kg in total.',
  'Revenue grew 4.7% in Q3 2023 to EUR 18.2 million, while costs fell by 2,300 units compared with 2022.',
  'The 7:45 train from platform 9 was 12 minutes late, so the meeting moved to 08:15 on 14/06/2024.',
  'Invoice INV-2024-0042 lists 24 items at 19.99 each, with a 15% discount and 3 returns pending.',
  'Upgrade to version 2.14.1 before 31 March; version 1.9 reaches end of life after 18 months of support.',
  'Room 402 seats 36 people, and the conference on 5 May 2025 expects about 1,150 guests over 2 days.',
  'The recipe needs 250 g of flour, 2 eggs and 180 ml of milk, baked at 200 degrees for 25 minutes.',
  'Ticket 88412 was reopened at 16:20 after 3 failed attempts; the SLA allows 48 hours for priority 2.',
  'Between 2019 and 2024 the fleet grew from 120 to 345 vans, covering 1.2 million km per year.',
  'The customer asked whether the transaction at the grocery store on Tuesday morning was flagged, and we replied that it looked normal for their history.',
];

const PII = [
  'Please email the statement to jane.doe@example.com before Friday.',
  'My card is 4111 1111 1111 1111 and it expires next year.',
  'Call me on +44 20 7946 0958 after lunch.',
  'My SSN is 536-22-1945, please update the file.',
  'Pay into GB82 WEST 1234 5698 7654 32 by the end of the week.',
  'The login came from 81.2.69.160 late at night.',
  'Send the coins to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa when ready.',
  'Our routing number is 021000021 for domestic wires.',
  'Her NHS number is 943 476 5919 according to the letter.',
];

/** A chat request of about `bytes` bytes of JSON, eight messages, sentences drawn from `pool`. */
function body(pool: readonly string[], seed: number, bytes = BODY_BYTES): unknown {
  const next = prng(seed);
  const messages = Array.from({ length: 8 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: '' }));
  const size = () => JSON.stringify({ model: 'enclave-demo-1', messages }).length;
  for (let m = 0; size() < bytes; m = (m + 1) % messages.length) {
    messages[m]!.content += `${pool[Math.floor(next() * pool.length)]!} `;
  }
  const text = JSON.stringify({ model: 'enclave-demo-1', messages });
  return JSON.parse(text) as unknown;
}

const bodies = {
  prose: body(PROSE, 1),
  numbers: body(NUMBERED, 2),
  dense: body([...PII, ...PROSE.slice(0, 9)], 3),
};
const sse = JSON.parse(
  JSON.stringify({ id: 'chatcmpl-9x8y7z', object: 'chat.completion.chunk', created: 1767225600, model: 'enclave-demo-1', choices: [{ index: 0, delta: { content: ' amused' }, finish_reason: null }] }),
) as unknown;

interface Stats {
  readonly p50: number;
  readonly p95: number;
  /** CPU time per call (process.cpuUsage over batches of calls), best batch. */
  readonly cpu: number;
}

/** Batches of calls over which CPU time is summed, and calls per batch. */
const CPU_BATCHES = 40;
const CPU_BATCH = 50;

/**
 * The process's CPU time per call in the best of several batches. Unlike
 * wall time this leaves out the time the thread waits for a core, and the
 * best batch is the one least disturbed by other processes sharing the
 * cores' caches, so it estimates what a call costs on a quiet machine.
 */
function cpuPerCall(runs: ReadonlyArray<() => void>): number[] {
  const perRun = runs.map(() => [] as number[]);
  for (let b = 0; b < CPU_BATCHES; b++) {
    runs.forEach((run, k) => {
      const before = process.cpuUsage();
      for (let i = 0; i < CPU_BATCH; i++) run();
      const used = process.cpuUsage(before);
      perRun[k]!.push((used.user + used.system) / CPU_BATCH);
    });
  }
  return perRun.map((batches) => Math.min(...batches));
}

function stats(samples: number[], cpu: number): Stats {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]! / 1000;
  return { p50: at(0.5), p95: at(0.95), cpu };
}

function time(run: () => void): Stats {
  for (let i = 0; i < WARMUP; i++) run();
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    run();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return stats(samples, cpuPerCall([run])[0]!);
}

/**
 * Times two implementations in alternation, one call of each per round, so
 * that both see the same machine: on a shared machine the load changes
 * within a run, and timing one after the other would credit it to one side.
 */
function timePair(after: () => void, before: () => void): { after: Stats; before: Stats } {
  for (let i = 0; i < WARMUP; i++) {
    after();
    before();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    let t0 = process.hrtime.bigint();
    after();
    a.push(Number(process.hrtime.bigint() - t0));
    t0 = process.hrtime.bigint();
    before();
    b.push(Number(process.hrtime.bigint() - t0));
  }
  const [cpuAfter, cpuBefore] = cpuPerCall([after, before]);
  return { after: stats(a, cpuAfter!), before: stats(b, cpuBefore!) };
}

interface Row {
  readonly what: string;
  readonly findings: number | undefined;
  readonly after: Stats;
  readonly before?: Stats | undefined;
}

const rows: Row[] = [];

function scanRow(what: string, value: unknown, pick: (impl: Impl) => ScanOptions): void {
  const findings = current.scanPii(value, pick(current)).length;
  const run = () => void current.scanPii(value, pick(current));
  if (baseline === undefined) {
    rows.push({ what, findings, after: time(run) });
    return;
  }
  const old = baseline.scanPii(value, pick(baseline)).length;
  if (old !== findings) console.warn(`${what}: ${findings} findings now, ${old} before`);
  rows.push({ what, findings, ...timePair(run, () => void baseline.scanPii(value, pick(baseline))) });
}

/** What the proxy does with a request body: parse the bytes' text, then scan. */
function parseScanRow(what: string, text: string): void {
  const findings = current.scanPii(JSON.parse(text)).length;
  const run = () => void current.scanPii(JSON.parse(text));
  if (baseline === undefined) rows.push({ what, findings, after: time(run) });
  else rows.push({ what, findings, ...timePair(run, () => void baseline.scanPii(JSON.parse(text))) });
}

const all = (impl: Impl): ScanOptions => ({ detectors: impl.PII_DETECTORS });
const none = (): ScanOptions => ({ detectors: [] });
const only = (type: string) => (impl: Impl): ScanOptions => ({ detectors: impl.PII_DETECTORS.filter((d) => d.type === type) });

const sizes = Object.fromEntries(Object.entries(bodies).map(([k, v]) => [k, JSON.stringify(v).length]));

scanRow('scanPii, all detectors: prose', bodies.prose, all);
scanRow('scanPii, all detectors: prose with numbers', bodies.numbers, all);
scanRow('scanPii, all detectors: PII-dense', bodies.dense, all);
scanRow('scanPii, no detectors (walk only): prose with numbers', bodies.numbers, none);
const texts = Object.fromEntries(Object.entries(bodies).map(([k, v]) => [k, JSON.stringify(v)])) as Record<keyof typeof bodies, string>;
parseScanRow('JSON.parse + scanPii, all detectors: prose', texts.prose);
parseScanRow('JSON.parse + scanPii, all detectors: prose with numbers', texts.numbers);
parseScanRow('JSON.parse + scanPii, all detectors: PII-dense', texts.dense);
scanRow('scanPii, all detectors: one SSE chunk event (~200 B)', sse, all);
for (const d of PII_DETECTORS) scanRow(`${d.type} alone: prose`, bodies.prose, only(d.type));
for (const d of PII_DETECTORS) scanRow(`${d.type} alone: prose with numbers`, bodies.numbers, only(d.type));

const proseText = JSON.stringify(bodies.prose);
const numbersText = JSON.stringify(bodies.numbers);
const DIGIT = /[0-9]/;
rows.push({ what: 'baseline: JSON.parse of the prose body text', findings: undefined, after: time(() => void JSON.parse(proseText)) });
rows.push({ what: 'baseline: JSON.parse of the numbers body text', findings: undefined, after: time(() => void JSON.parse(numbersText)) });
// The body text holds a digit early (the model name), so the search is over the message texts, which have none.
const proseContent = (bodies.prose as { messages: Array<{ content: string }> }).messages.map((m) => m.content).join('');
rows.push({ what: `baseline: one /[0-9]/ test over the prose messages (${proseContent.length} chars, no digit)`, findings: undefined, after: time(() => void DIGIT.test(proseContent)) });

const fmt = (v: number | undefined) => (v === undefined ? '' : v.toFixed(1));
const head =
  baseline === undefined
    ? ['| 16 KiB body | findings | CPU µs/call | wall p50 µs | wall p95 µs |', '|---|---:|---:|---:|---:|']
    : ['| 16 KiB body | findings | CPU µs/call | wall p50 µs | wall p95 µs | before: CPU µs/call | before: wall p50 µs | before: wall p95 µs |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
const lines = rows.map((r) => {
  const cells = [r.what, r.findings === undefined ? '' : String(r.findings), fmt(r.after.cpu), fmt(r.after.p50), fmt(r.after.p95)];
  if (baseline !== undefined) cells.push(fmt(r.before?.cpu), fmt(r.before?.p50), fmt(r.before?.p95));
  return `| ${cells.join(' | ')} |`;
});
const cpu = cpus()[0]?.model ?? 'unknown CPU';
// The machine may be shared: the load average says how much of it this run had.
const load = loadavg().map((l) => l.toFixed(1)).join(' / ');
const md = `# PII scan speed

\`npx vite-node bench/pii-speed.bench.ts\` on ${cpu} (${cpus().length} cores, load average ${load} at the end of the run), Node ${process.version}, ${SAMPLES} samples per row after ${WARMUP} warm-up calls.
Bodies: OpenAI chat requests of eight messages built from a seeded sentence pool and parsed with JSON.parse;
JSON sizes ${sizes['prose']} (prose), ${sizes['numbers']} (prose with numbers), ${sizes['dense']} (PII-dense) bytes.
${baseline === undefined ? '' : `"before" columns: ${baselinePath}, timed in the same run on the same bodies, one call of each in alternation.\n`}
${[...head, ...lines].join('\n')}

"CPU µs/call": the process's CPU time per call (process.cpuUsage over ${CPU_BATCHES} batches of ${CPU_BATCH} calls, best
batch): what a call costs with the least disturbance from other processes. "wall": one call timed with hrtime, p50 and
p95, which on a loaded machine includes waiting for a core. Before and after are measured in alternation, so their
ratio holds whatever the load; absolute figures move with it.

Targets (issue 8): parse + scan + policy decision of the 16 KiB prose-with-numbers body ≤ 150 µs p50,
so the scan itself well under 80 µs. The decision (wasm) is measured in bench/results/policy.md.
A detector row includes the walk, the digit-run search and the gate pass that scanPii does once
per string (the "walk only" row); a detector whose gate is closed on a string does not run there
(src/policy/builtins/detectors/gates.ts).
`;
writeFileSync(resolve(ROOT, 'bench', 'results', 'pii-speed.md'), md);
console.log(md);
