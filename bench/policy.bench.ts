/**
 * Policy decision cost, in process, against the built default bundle:
 *   - a header-only request (GET /v1/models),
 *   - a 16 KiB JSON chat body (parse + PII scan in TypeScript + decision, as
 *     the pipeline does),
 *   - the same body with PII in it (decision denies),
 * each beside a baseline from the same run: a bare JSON.parse of the same
 * bytes. Median and p95 of many single calls (microseconds).
 *
 * Run: npx vite-node bench/policy.bench.ts (after npm run policy:build).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { scanPii } from '../src/policy/builtins/pii.js';
import { loadPolicy } from '../src/policy/engine.js';
import type { RequestInput } from '../src/policy/input.js';
import { DEFAULT_POLICY_BUNDLE, PACKAGE_ROOT } from '../src/util/package-root.js';

const N = Number(process.env['BENCH_ITERATIONS'] ?? 2000);

function stats(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p95: s[Math.floor(s.length * 0.95)]! };
}

function time(fn: () => unknown): { p50: number; p95: number } {
  for (let i = 0; i < 200; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
  }
  return stats(samples);
}

const peer = { address: '127.0.0.1', port: 50000, tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: 'http/1.1', servername: 'localhost' } };
const headers = { host: 'localhost:8443', 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'bench/1.0' };
const base = { request_id: 'bench', query: '', parsed_query: {}, headers, peer };

const numbersProse = 'The customer asked whether the transaction of 42.50 EUR at the grocery store on Tuesday 14 May at 10:30 was flagged, and order 88123 looked normal for their history. ';
const plainProse = 'The customer asked whether the transaction at the grocery store on Tuesday morning was flagged, and we replied that it looked normal for their history. ';
function chatBody(targetBytes: number, pii: boolean, prose = numbersProse): string {
  const messages: Array<{ role: string; content: string }> = [];
  while (JSON.stringify({ model: 'enclave-demo-1', messages }).length < targetBytes) {
    messages.push({ role: messages.length % 2 ? 'assistant' : 'user', content: prose.repeat(6) });
  }
  if (pii) messages.push({ role: 'user', content: 'my card is 4111 1111 1111 1111 and mail bob@example.com' });
  return JSON.stringify({ model: 'enclave-demo-1', messages });
}

const engine = await loadPolicy(DEFAULT_POLICY_BUNDLE);
// The reference path: the whole input to wasm on every call, no memo (what a bundle built by other tooling gets).
const reference = await loadPolicy(DEFAULT_POLICY_BUNDLE, { compactInput: false });
const rows: string[] = [];
const row = (name: string, m: { p50: number; p95: number }, baseline?: { p50: number }): void => {
  rows.push(`| ${name} | ${m.p50.toFixed(1)} | ${m.p95.toFixed(1)} | ${baseline ? `${(m.p50 / baseline.p50).toFixed(1)}×` : '—'} |`);
};

const headerOnly: RequestInput = { ...base, method: 'GET', path: '/v1/models', parsed_path: ['v1', 'models'], body_size: 0 };
const tiny = time(() => JSON.parse('{"model":"m"}'));
row('baseline: JSON.parse of a 13-byte body', tiny);
const h = time(() => engine.evaluateRequest(headerOnly));
if (!engine.evaluateRequest(headerOnly).allow) throw new Error('header-only request should be allowed');
row('header-only request decision (GET /v1/models)', h, tiny);
// Body sizes vary from request to request: the memo keys on what the rules compare (body_size > 0), not on the size.
let size = 1;
row('header-only request decision, a different body_size each call (memo keyed on body_size > 0)', time(() => engine.evaluateRequest({ ...headerOnly, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: {}, pii: [], body_size: (size = (size % 100_000) + 1) })), tiny);
row('header-only request decision, whole input to wasm, no memo (reference path)', time(() => reference.evaluateRequest(headerOnly)), tiny);

for (const [label, pii, prose] of [
  ['16 KiB chat body, plain prose, no PII', false, plainProse],
  ['16 KiB chat body, prose with numbers, no PII', false, numbersProse],
  ['16 KiB chat body with PII (denied)', true, numbersProse],
] as const) {
  const raw = chatBody(16 * 1024, pii, prose);
  const parse = time(() => JSON.parse(raw));
  row(`baseline: JSON.parse of the ${raw.length}-byte body`, parse);
  const decide = (): boolean => {
    // What the pipeline does: parse, scan once in TypeScript, decide on the findings.
    const body = JSON.parse(raw) as unknown;
    const pii = scanPii(body);
    return engine.evaluateRequest({ ...base, method: 'POST', path: '/v1/chat/completions', parsed_path: ['v1', 'chat', 'completions'], body, pii, body_size: raw.length }).allow;
  };
  if (decide() === pii) throw new Error(`unexpected decision for ${label}`);
  row(`${label}: parse + decision (incl. PII scan)`, time(decide), parse);
  const scan = time(() => scanPii(JSON.parse(raw)));
  row(`${label}: parse + PII scan alone`, scan, parse);
}

const report = [
  `# Policy decision cost (${new Date().toISOString()}, node ${process.version}, ${N} calls per row)`,
  '',
  'In-process, default policy bundle; µs per call. Ratio = median ÷ median of the baseline row above it.',
  'Repeated calls with inputs that compact alike are answered from the decision memo (docs/policy.md, "What the policy is given"); the reference-path row shows a decision made by wasm every time.',
  '',
  '| case | p50 µs | p95 µs | vs baseline |',
  '|---|---|---|---|',
  ...rows,
  '',
].join('\n');
process.stdout.write(report);
writeFileSync(join(PACKAGE_ROOT, 'bench', 'results', 'policy.md'), report);
