/**
 * CPU cost of the signed decision log per decision, in process: `record()`
 * (what the request path pays) and the flush it leads to (mask, serialise,
 * hash-chain, one Ed25519 signature per batch, append to a file), amortised
 * per event. Inputs are shaped like the proxy's: a header-only GET and a POST
 * whose 16 KiB body the mask erases (with PII findings and a JWT identity).
 * The proxy's whole CPU per request (README, bench/results/proxy-overhead.md)
 * is the yardstick for the issue's ≤ 10 % budget; `npm run bench` measures the
 * proxy with and without `--decision-log` end to end.
 *
 * Run: npx vite-node bench/decision-log.bench.ts
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditSigner, DecisionLog, type DecisionLogEntry } from '../src/audit/decision-log.js';
import { FileSink } from '../src/audit/file-sink.js';
import type { RequestInput } from '../src/policy/input.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const peer = {
  address: '10.0.0.7',
  port: 50000,
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: 'http/1.1', servername: 'localhost' },
  jwt: { iss: 'https://idp.bank-a.example', aud: 'enclave-gate', sub: 'analyst-7', party: 'bank-a', exp: 1_900_000_000 },
};
const headers = { host: 'localhost:8443', 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'bench/1.0', authorization: 'Bearer x.y.z' };
const small: RequestInput = { request_id: 'r', method: 'GET', path: '/v1/models', parsed_path: ['v1', 'models'], query: '', parsed_query: {}, headers, body_size: 0, peer };
const big: RequestInput = {
  ...small,
  method: 'POST',
  path: '/v1/chat/completions',
  parsed_path: ['v1', 'chat', 'completions'],
  body: { messages: [{ role: 'user', content: 'x'.repeat(16 * 1024) }] },
  body_size: 16 * 1024 + 40,
  pii: [{ type: 'email', path: '/messages/0/content', start: 10, end: 30 }],
};
const policy = { revision: 'bench', digest: { alg: 'sha-384', hex: 'ab'.repeat(48) } };

function entry(i: number, input: RequestInput): DecisionLogEntry {
  return {
    requestId: `req-${i}`,
    timestamp: Date.now(),
    method: input.method,
    url: input.path,
    address: '10.0.0.7',
    port: 50000,
    input,
    result: { allow: true, reasons: [], headers: { 'x-enclave-party': 'bank-a' } },
    status: 200,
    outcome: 'allow',
    code: 'ok',
    reasons: undefined,
    policyMs: 0.02,
    totalMs: 0.8,
    policy,
  };
}

const rows: string[] = [];

/** Baseline from the same run: serialising the unmasked input once per event, nothing else. */
function baseline(label: string, input: RequestInput): void {
  const cpu0 = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < N; i++) bytes += JSON.stringify({ i, input }).length;
  const cpu = process.cpuUsage(cpu0);
  const us = (cpu.user + cpu.system) / N;
  console.log(`${label}: ${us.toFixed(1)} µs CPU/event (${(bytes / N).toFixed(0)} bytes)`);
  rows.push(`| ${label} | — | ${us.toFixed(1)} | — |`);
}

async function run(label: string, input: RequestInput): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eg-bench-log-'));
  const path = join(dir, 'decisions.jsonl');
  const sink = await FileSink.open({ path, maxBytes: 1024 * 1024 * 1024, maxFiles: 1 });
  const log = new DecisionLog({ sinks: [sink], signer: new AuditSigner(), certificate: () => 'CERT', batchEvents: 256, flushIntervalMs: 60_000, maxBufferedEvents: N * 2 });
  const entries = Array.from({ length: N }, (_, i) => entry(i, input));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const e of entries) log.record(e);
  const recordMs = performance.now() - t0;
  await log.close();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / N;
  console.log(
    `${label}: record() ${((recordMs * 1000) / N).toFixed(2)} µs/event on the request path; record + flush ${cpuUs.toFixed(1)} µs CPU/event ` +
      `(${((wallMs * 1000) / N).toFixed(1)} µs wall), ${(statSync(path).size / N).toFixed(0)} bytes/event, ${N} events`,
  );
  rows.push(`| ${label} | ${((recordMs * 1000) / N).toFixed(2)} | ${cpuUs.toFixed(1)} | ${(statSync(path).size / N).toFixed(0)} |`);
  rmSync(dir, { recursive: true, force: true });
}

await run('warm-up', small);
rows.length = 0;
baseline('baseline: JSON.stringify of the GET input', small);
await run('GET, no body', small);
baseline('baseline: JSON.stringify of the POST input (body included)', big);
await run('POST, 16 KiB body erased', big);

writeFileSync(
  join(import.meta.dirname, 'results', 'decision-log.md'),
  `# Decision log cost (${new Date().toISOString()}, node ${process.version}, ${N} events per row)

In-process: \`record()\` is what the request path pays; "record + flush" adds the
batched work (mask, serialise, hash chain, one Ed25519 signature per 256
events, append to a file), amortised per event, as process CPU time. The
yardstick for the issue's 10 % budget is the proxy's whole CPU per request,
about 750 µs on this machine ([proxy-overhead.md](proxy-overhead.md)); the
end-to-end on/off comparison belongs to \`npm run bench\`.

| case | record() µs/event | record + flush µs CPU/event | bytes/event |
|---|---|---|---|
${rows.join('\n')}
`,
);
