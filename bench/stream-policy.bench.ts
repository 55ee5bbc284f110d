/**
 * Streaming policy benchmark: what checking one SSE event costs.
 *
 * Rows (per OpenAI chat.completion.chunk event of one token, ~200 bytes):
 *  - baseline: JSON.parse of the event's data, the least any inspecting
 *    proxy must do;
 *  - stream policy, clean text: StreamPolicy.push of the event bytes (SSE
 *    parse, JSON parse, text slots, per-event scan, window commit, release);
 *    the policy is not asked because there are no findings;
 *  - stream policy, PII every 20th token: the same with an e-mail address in
 *    the text, so that the real wasm response decision is asked and the
 *    event is redacted and re-serialised;
 *  - wasm decision per event: one evaluateResponse with an event input and no
 *    findings - the cost every event would pay if the policy were asked about
 *    each one (the design not taken; docs/streaming.md).
 *
 * Each sample times one event with process.hrtime.bigint; p50/p95 over all
 * samples after a warm-up. Writes bench/results/stream-policy.md.
 *
 * Run: npx vite-node bench/stream-policy.bench.ts
 * Env: BENCH_STREAM_EVENTS (20000 per row).
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../src/policy/engine.js';
import type { ResponseInput, StreamEventInput } from '../src/policy/input.js';
import { StreamPolicy } from '../src/proxy/stream/policy-stream.js';
import { DEFAULT_POLICY_BUNDLE } from '../src/util/package-root.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(process.env['BENCH_STREAM_EVENTS'] ?? 20_000);
const WARMUP = 2_000;

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.', ' It', ' was', ' not', ' amused', ',', ' so', ' it', ' left', ' early', '\n'];

function chunk(content: string): Buffer {
  const event = { id: 'chatcmpl-9x8y7z', object: 'chat.completion.chunk', created: 1767225600, model: 'enclave-demo-1', choices: [{ index: 0, delta: { content }, finish_reason: null }] };
  return Buffer.from(`data: ${JSON.stringify(event)}\n\n`, 'utf8');
}

/** Tokens for `n` events; with `pii`, every 20th token group spells an address over three tokens. */
function tokens(n: number, pii: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (pii && i % 20 === 0) out.push(' mail bob.s', 'mith@exam', 'ple.org');
    else out.push(WORDS[i % WORDS.length]!);
  }
  return out.slice(0, n);
}

interface Stats {
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
}

function stats(samplesNs: number[]): Stats {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / 1000;
  return { p50: at(0.5), p95: at(0.95), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length / 1000 };
}

function time(events: readonly Buffer[], run: (event: Buffer) => void): Stats {
  for (let i = 0; i < Math.min(WARMUP, events.length); i++) run(events[i]!);
  const samples: number[] = [];
  for (const event of events) {
    const t0 = process.hrtime.bigint();
    run(event);
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return stats(samples);
}

const policy = await loadPolicy(DEFAULT_POLICY_BUNDLE);
const base: ResponseInput = {
  request: { method: 'POST', path: '/v1/chat/completions', parsed_path: ['v1', 'chat', 'completions'], request_id: 'bench' },
  status: 200,
  headers: { 'content-type': 'text/event-stream' },
  body_format: 'event-stream',
};
let asked = 0;
const decide = (event: StreamEventInput) => {
  asked++;
  return policy.evaluateResponse({ ...base, event });
};

const clean = tokens(EVENTS, false).map(chunk);
const dirty = tokens(EVENTS, true).map(chunk);

const rows: Array<[string, Stats]> = [];
rows.push(['baseline: JSON.parse of the event data', time(clean, (e) => void JSON.parse(e.toString('utf8', 6, e.length - 2)))]);

function streamRow(events: readonly Buffer[]): Stats {
  // A fresh stream per 2 000 events, as a long answer would be.
  let p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'bench', decide });
  let n = 0;
  return time(events, (e) => {
    if (++n % 2000 === 0) {
      p.end();
      p = new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'bench', decide });
    }
    p.push(e);
  });
}
rows.push(['stream policy, clean text (policy not asked)', streamRow(clean)]);
asked = 0;
const dirtyStats = streamRow(dirty);
rows.push([`stream policy, PII every ~20 tokens (wasm decision on ${((asked / (EVENTS + WARMUP)) * 100).toFixed(1)}% of events)`, dirtyStats]);
const emptyEvent: StreamEventInput = { protocol: 'openai-chat', index: 1, findings: [] };
rows.push(['wasm response decision per event (not done; for scale)', time(clean, () => void policy.evaluateResponse({ ...base, event: emptyEvent }))]);

const fmt = (v: number) => v.toFixed(1);
const table = ['| per SSE event | p50 µs | p95 µs | mean µs |', '|---|---:|---:|---:|', ...rows.map(([what, s]) => `| ${what} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.mean)} |`)].join('\n');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Streaming policy: cost per SSE event

\`npx vite-node bench/stream-policy.bench.ts\` on ${cpu} (${cpus().length} cores), Node ${process.version}, ${EVENTS} events per row after ${WARMUP} warm-up events.
Events are OpenAI \`chat.completion.chunk\`s of one token (~200 bytes); window W = 64, default PII detectors.

${table}

The stream policy's own cost is the difference to the baseline. The last row is what asking the
wasm policy about every event would add; the transform asks only about events with findings.
`;
writeFileSync(resolve(ROOT, 'bench', 'results', 'stream-policy.md'), md);
console.log(md);
