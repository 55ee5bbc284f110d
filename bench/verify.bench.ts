/**
 * Verifier benchmark: how long each platform verifier takes on a real vector
 * at its README instant, next to one raw signature check measured in the
 * same run for scale.
 *
 *  - first call, fresh process: a child process per sample loads the
 *    modules and vectors, then times its first and only verification;
 *  - loop, no cache: warm JIT, nothing reused between calls (SNP gets a new
 *    SnpChainCache per call, so all three RSA-4096 chain links are checked);
 *  - loop, cached chain: SNP with one SnpChainCache shared across calls;
 *    Intel and Nitro offer no cache, so only their warm-JIT number exists.
 *
 * Baselines: node:crypto verify of one ECDSA P-384/SHA-384, one
 * P-256/SHA-256 and one RSA-4096 PSS/SHA-384 signature with a pre-parsed
 * KeyObject (the verifiers parse their keys out of certificates on every
 * call). One more row times the online module's disk-cache hit.
 *
 * Run: npx vite-node bench/verify.bench.ts
 * Env: ENCLAVE_GATE_VECTORS, BENCH_VERIFY_ITERATIONS (200), BENCH_VERIFY_BUDGET_MS (10000 per row),
 *      BENCH_VERIFY_FIRST_CALL_RUNS (3 child processes per platform).
 */
import { spawnSync } from 'node:child_process';
import { constants, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDiskCache, fetchSnpEndorsements, type FetchLike } from '../src/verify/online/index.js';
import { loadCases, vectorsDir } from './verify-cases.js';
import { measure, measureAsync, ms, summarise, type Timing } from './verify-stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ITERATIONS = Number(process.env['BENCH_VERIFY_ITERATIONS'] ?? 200);
const BUDGET_MS = Number(process.env['BENCH_VERIFY_BUDGET_MS'] ?? 10_000);
const FIRST_CALL_RUNS = Number(process.env['BENCH_VERIFY_FIRST_CALL_RUNS'] ?? 3);
const LOOP = { maxIterations: ITERATIONS, budgetMs: BUDGET_MS, warmup: 5 };

interface Row {
  readonly what: string;
  readonly mode: string;
  readonly timing: Timing | undefined;
  readonly note?: string;
}

/** One signature verification with a pre-parsed key, as a loop body. */
function signatureCheck(type: 'ec' | 'rsa', options: { namedCurve?: string; modulusLength?: number }, hash: string): () => void {
  const { publicKey, privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: options.namedCurve! })
      : generateKeyPairSync('rsa', { modulusLength: options.modulusLength! });
  const data = Buffer.alloc(672, 7); // the size of the signed part of an SNP report
  const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 };
  const key: KeyObject | (typeof pss & { key: KeyObject }) = type === 'rsa' ? { key: publicKey, ...pss } : publicKey;
  const signature = sign(hash, data, type === 'rsa' ? { key: privateKey, ...pss } : privateKey);
  return () => {
    if (!verify(hash, data, key, signature)) throw new Error('baseline signature does not verify');
  };
}

/** Times the first verification in `runs` fresh child processes. */
function firstCalls(id: string, runs: number): Timing | undefined {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const child = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite-node/vite-node.mjs'), join(ROOT, 'bench/verify-first-call.ts'), id], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ENCLAVE_GATE_VECTORS: vectorsDir() },
      timeout: 60_000,
    });
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    try {
      samples.push((JSON.parse(line) as { ms: number }).ms);
    } catch {
      console.error(`first-call probe for ${id} failed: ${child.stderr.slice(-500)}`);
      return undefined;
    }
  }
  return summarise(samples);
}

/** Median time of a disk-cache hit of fetchSnpEndorsements (the transport must never be called). */
async function onlineCacheHit(): Promise<Timing> {
  const dir = mkdtempSync(join(tmpdir(), 'eg-bench-cache-'));
  try {
    const report = readFileSync(join(vectorsDir(), 'sev-snp/gosev-milan-report.bin'));
    const bodies = [readFileSync(join(vectorsDir(), 'sev-snp/gosev-milan-vcek.der')), readFileSync(join(vectorsDir(), 'sev-snp/amd-milan-ask-ark.pem'))];
    let calls = 0;
    const transport: FetchLike = (url) => {
      calls++;
      const body = url.endsWith('/cert_chain') ? bodies[1]! : bodies[0]!;
      return Promise.resolve({ status: 200, headers: { get: () => null }, arrayBuffer: () => Promise.resolve(new Uint8Array(body).buffer) });
    };
    const options = { product: 'milan' as const, fetch: transport, cache: createDiskCache(dir), now: () => new Date('2022-09-24T01:00:00Z') };
    await fetchSnpEndorsements(report, options);
    const timing = await measureAsync(() => fetchSnpEndorsements(report, options), LOOP);
    if (calls !== 2) throw new Error(`cache hit benchmark reached the transport ${calls} times`);
    return timing;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const baselines = {
    p384: measure(signatureCheck('ec', { namedCurve: 'P-384' }, 'sha384'), LOOP),
    p256: measure(signatureCheck('ec', { namedCurve: 'P-256' }, 'sha256'), LOOP),
    rsa4096: measure(signatureCheck('rsa', { modulusLength: 4096 }, 'sha384'), LOOP),
  };
  const rows: Row[] = [
    { what: 'baseline: crypto.verify ECDSA P-384 / SHA-384', mode: 'loop', timing: baselines.p384 },
    { what: 'baseline: crypto.verify ECDSA P-256 / SHA-256', mode: 'loop', timing: baselines.p256 },
    { what: 'baseline: crypto.verify RSA-4096 PSS / SHA-384', mode: 'loop', timing: baselines.rsa4096 },
  ];
  for (const c of loadCases()) {
    rows.push({ what: c.label, mode: `first call, fresh process (${FIRST_CALL_RUNS} processes)`, timing: firstCalls(c.id, FIRST_CALL_RUNS) });
    rows.push({ what: c.label, mode: 'loop, no cache', timing: measure(c.cold, LOOP) });
    rows.push(
      c.cached === undefined
        ? { what: c.label, mode: 'loop, cached chain', timing: undefined, note: c.cacheNote }
        : { what: c.label, mode: 'loop, cached chain', timing: measure(c.cached, LOOP), note: c.cacheNote },
    );
  }
  rows.push({ what: 'online: fetchSnpEndorsements, disk-cache hit (VCEK + cert_chain)', mode: 'loop', timing: await onlineCacheHit() });

  const ratio = (t: Timing | undefined, base: Timing): string => (t === undefined ? '—' : `${(t.medianMs / base.medianMs).toFixed(1)}×`);
  const lines = [
    `# Verifier latency (${new Date().toISOString()}, node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, load average ${loadavg()[0]!.toFixed(2)} at the end)`,
    '',
    `Each row verifies a real vector at its README instant. Loops: ${LOOP.warmup} untimed warm-up calls, then up to ${ITERATIONS} timed calls or ${BUDGET_MS / 1000} s per row. ` +
      'Ratios compare medians with one raw signature check (pre-parsed key) from the same run. First-call rows time the first verification in a fresh child process (modules and files already loaded).',
    '',
    '| evidence | mode | n | median | p95 | × P-384 verify | × P-256 verify | note |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.mode} | ${r.timing?.n ?? '—'} | ${r.timing === undefined ? '—' : ms(r.timing.medianMs)} | ${r.timing === undefined ? '—' : ms(r.timing.p95Ms)} | ${ratio(r.timing, baselines.p384)} | ${ratio(r.timing, baselines.p256)} | ${r.note ?? ''} |`,
    ),
    '',
  ];
  const out = lines.join('\n');
  console.log(out);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/verify.md'), out);
}

await main();
