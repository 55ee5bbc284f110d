/**
 * Worker scaling: the same autocannon load against `enclave-gate serve
 * --workers 1` and `--workers 2`, started side by side in one run, rounds
 * interleaved, medians reported (docs/workers.md). CPU per request is summed
 * over the whole process tree (primary + workers) from /proc.
 *
 * Run: npm run build && npx vite-node bench/workers-scaling.ts
 * (bench/run.sh does both). Loopback only; every wait and run is bounded.
 * Writes bench/results/workers-scaling.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { CHAT_BODY as BODY } from './lib/workload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = [10, 32];
const WORKERS = [1, 2];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** utime+stime in seconds of `pid` and, recursively, its children (Linux /proc). */
function treeCpuSeconds(pid: number): number {
  let total = 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    total += (Number(fields[11]) + Number(fields[12])) / 100;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const child of children === '' ? [] : children.split(' ')) total += treeCpuSeconds(Number(child));
  } catch {
    // A process that exited between the listing and the read adds nothing.
  }
  return total;
}

/** Polls `url` until it answers 200; fails after 60 s. */
async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after 60 s`);
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, connections: number, pid: number): Promise<Sample> {
  const cpu0 = treeCpuSeconds(pid);
  const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections, duration: SECONDS });
  const cpu1 = treeCpuSeconds(pid);
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: total > 0 ? ((cpu1 - cpu0) * 1e6) / total : Number.NaN,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const cli = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const loadBefore = loadavg()[0]!;
  const children: ChildProcess[] = [];
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  try {
    const upstreamPort = await freePort();
    const upstream = spawn(process.execPath, [join(ROOT, 'bench/fixtures/upstream.mjs'), String(upstreamPort)], { stdio: 'ignore' });
    children.push(upstream);
    const proxies: Array<{ workers: number; url: string; pid: number }> = [];
    for (const workers of WORKERS) {
      const port = await freePort();
      const admin = await freePort();
      const proxy = spawn(
        process.execPath,
        [cli, 'serve', '--workers', String(workers), '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--log-level', 'warn'],
        { stdio: 'ignore' },
      );
      children.push(proxy);
      await waitReady(`http://127.0.0.1:${admin}/readyz`, proxy);
      proxies.push({ workers, url: `https://127.0.0.1:${port}/v1/chat/completions`, pid: proxy.pid! });
    }
    const results = new Map<string, Sample[]>();
    for (const connections of CONNECTIONS) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const p of proxies) {
          const sample = await load(p.url, connections, p.pid);
          const key = `${connections}|${p.workers}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
          process.stderr.write(`  c=${connections} round ${round + 1} workers=${p.workers}: ${sample.rps.toFixed(0)} req/s\n`);
        }
      }
    }
    const model = cpus()[0]?.model ?? 'unknown CPU';
    const lines = [
      `# Worker scaling (${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} CPUs: ${model}; ${SECONDS}s × ${ROUNDS} interleaved rounds, medians)`,
      '',
      `\`enclave-gate serve --workers 1\` against \`--workers 2\`, both started in this run with the default policy and simulated attestation; POST /v1/chat/completions, ${BODY.length}-byte JSON request, ~600-byte JSON answer from bench/fixtures/upstream.mjs. CPU per request is the whole process tree (primary and workers). The load generator, the upstream and the proxy share the machine's cores, so with 2 CPUs a second worker competes with autocannon and the upstream for the same cores: read the ratio as a lower bound on what a machine with spare cores gets.`,
      '',
      `Machine load average (1 min) when the run started: ${loadBefore.toFixed(1)}, when it ended: ${loadavg()[0]!.toFixed(1)} (other work on the machine shows up as noise between rounds).`,
      '',
      '| connections | workers | req/s | × 1 worker | req/s in each round | p50 ms | p99 ms | CPU µs/req (all processes) | errors | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const connections of CONNECTIONS) {
      const med = (workers: number, f: (s: Sample) => number): number => median((results.get(`${connections}|${workers}`) ?? []).map(f));
      const base = med(1, (s) => s.rps);
      for (const workers of WORKERS) {
        const samples = results.get(`${connections}|${workers}`) ?? [];
        const rps = med(workers, (s) => s.rps);
        lines.push(
          `| ${connections} | ${workers} | ${rps.toFixed(0)} | ${(rps / base).toFixed(2)} | ${samples.map((s) => s.rps.toFixed(0)).join(', ')} | ${med(workers, (s) => s.p50)} | ${med(workers, (s) => s.p99)} | ${med(workers, (s) => s.cpuUsPerReq).toFixed(0)} | ${samples.reduce((a, s) => a + s.errors, 0)} | ${samples.reduce((a, s) => a + s.non2xx, 0)} |`,
        );
      }
    }
    const report = lines.join('\n') + '\n';
    process.stdout.write(`\n${report}`);
    writeFileSync(join(ROOT, 'bench/results/workers-scaling.md'), report);
  } finally {
    stop();
  }
}

await main();
