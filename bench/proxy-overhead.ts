/**
 * Proxy overhead: the same load, interleaved in one run, against
 *   - direct: the upstream over plain HTTP (the floor),
 *   - nginx: TLS termination + proxy_pass with upstream keep-alive, one worker,
 *     no policy (a proxy that does nothing else),
 *   - nginx + OPA: the same nginx asking an OPA server (the pinned OPA, `opa run
 *     --server`) through auth_request with the default policy's request rules
 *     (bench/fixtures/opa-authz; no body: nginx sends none to an auth request),
 *   - plain Node: node:https + an undici Pool that buffers and JSON.parses both
 *     bodies, no policy (bench/fixtures/plain-proxy.mjs): the floor any Node
 *     proxy starts from,
 *   - enclave-gate: RA-TLS, request policy (PII scan + wasm decision), response
 *     policy (PII scan + decision), forwarding, metrics,
 *   - enclave-gate writing the signed decision log (--decision-log; issue 11
 *     asks that it cost at most 10 % CPU per request),
 *   - enclave-gate with its access log on (full run only).
 * 10 and 1 connections with autocannon (req/s, the proxy's CPU per request
 * from /proc, its process tree included), and one connection with a
 * microsecond client for the added latency over direct. Rounds are
 * interleaved and medians reported, with ratios against the baselines of the
 * same run: bench/results/proxy-overhead.{md,json,svg}. The logs' cost comes
 * from a paired phase after the rounds (see PAIRED_SEGMENTS).
 *
 * Run: npm run bench (builds first), or `npm run bench -- --quick` (under 3
 * minutes). Loopback only; every run is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

import { barChart } from './lib/chart.js';
import { measureLatency } from './lib/latency-client.js';
import { cpuSeconds, freePort, rssMiB, start, stop, waitForHttp } from './lib/procs.js';
import { CHAT_BODY as BODY, CHAT_PATH as PATH } from './lib/workload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.argv.includes('--quick');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? (QUICK ? 3 : 5));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? (QUICK ? 2 : 3));
const LATENCY_SECONDS = QUICK ? 1.5 : 4;
/**
 * The logs' cost is a ratio of two CPU figures a few per cent apart, on a
 * machine whose speed drifts by more than that from one round to the next.
 * So it gets its own phase: the gate with and without a log, alternating in
 * short segments, so that both see the same mix of the machine's fast and
 * slow moments; each one's CPU over all its segments, divided by its
 * requests, gives the cost.
 *
 * The segments are split over PAIRED_SETS sets of fresh processes. One
 * process keeps its own speed for its whole life (where the JIT and the
 * allocator happened to put things): two identical gates measured here
 * differed by 5 to 8 % through a whole paired run, while sets of fresh
 * processes averaged it out. With that spread per process, four sets left
 * the ratio uncertain by about ±3 points: three full runs of the same code
 * on 2026-12-05 gave 7.0, 8.1 and 10.3 %. Eight sets halve the variance for
 * about 90 s more.
 */
const PAIRED_SEGMENTS = Number(process.env['BENCH_PAIRED_SEGMENTS'] ?? (QUICK ? 8 : 32));
const PAIRED_SETS = Number(process.env['BENCH_PAIRED_SETS'] ?? (QUICK ? 2 : 8));
const PAIRED_SECONDS = 1.5;

interface Target {
  readonly key: string;
  readonly name: string;
  readonly origin: string;
  /** Processes whose CPU is the proxy's (empty for direct). */
  readonly pids: readonly number[];
}

interface LoadSample {
  readonly rps: number;
  readonly requests: number;
  /** The proxy's CPU time over the sample, µs. */
  readonly cpuUs: number;
  readonly cpuUsPerReq: number;
  readonly errors: number;
  readonly non2xx: number;
}

async function load(target: Target, connections: number, seconds = SECONDS): Promise<LoadSample> {
  const cpu0 = cpuSeconds(target.pids);
  const result = await autocannon({
    url: `${target.origin}${PATH}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections,
    duration: seconds,
  });
  const cpu1 = cpuSeconds(target.pids);
  const total = result.requests.total;
  const cpuUs = (cpu1 - cpu0) * 1e6;
  return {
    rps: result.requests.average,
    requests: total,
    cpuUs,
    cpuUsPerReq: target.pids.length > 0 && total > 0 ? cpuUs / total : NaN,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost']);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr.toString()}`);
  return { key, cert };
}

/** One nginx worker with TLS 1.3 and upstream keep-alive; with `authzPort`, every request first asks OPA. */
function nginxConfig(dir: string, tls: { key: string; cert: string }, port: number, upstreamPort: number, authzPort?: number): string {
  const conf = join(dir, `nginx-${port}.conf`);
  const authz =
    authzPort === undefined
      ? ''
      : `
    location = /_authz {
      internal;
      proxy_pass http://opa/v0/data/bench/authz/allow;
      proxy_method POST;
      proxy_pass_request_body off;
      # The client's headers (its Content-Length above all) must not describe this body.
      proxy_pass_request_headers off;
      proxy_set_header Content-Type "application/json";
      # In a subrequest $uri is /_authz; $request_uri is the client's target (the bench sends no query).
      proxy_set_body '{"method":"$request_method","path":"$request_uri","content_type":"$http_content_type"}';
      proxy_http_version 1.1; proxy_set_header Connection "";
    }`;
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; master_process off; pid ${dir}/nginx-${port}.pid; error_log ${dir}/error-${port}.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 32; }
  ${authzPort === undefined ? '' : `upstream opa { server 127.0.0.1:${authzPort}; keepalive 32; }`}
  server {
    listen 127.0.0.1:${port} ssl; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key}; ssl_protocols TLSv1.3;
    ${authz}
    location / {
      ${authzPort === undefined ? '' : 'auth_request /_authz;'}
      proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
`,
  );
  return conf;
}

async function main(): Promise<void> {
  if (spawnSync('nginx', ['-v']).error) throw new Error('nginx is not installed (bench/run.sh installs nginx-light)');
  const opa = join(ROOT, '.tools/bin/opa');
  const dir = mkdtempSync(join(tmpdir(), 'eg-bench-'));
  const tls = selfSignedCert(dir);
  const children: ChildProcess[] = [];
  const keep = (c: ChildProcess): ChildProcess => (children.push(c), c);
  try {
    const upstreamPort = await freePort();
    keep(await start(process.execPath, [join(ROOT, 'bench/fixtures/upstream.mjs'), String(upstreamPort)], /listening/));

    const opaPort = await freePort();
    const opaServer = keep(spawn(opa, ['run', '--server', '--addr', `127.0.0.1:${opaPort}`, '--log-level', 'error', join(ROOT, 'bench/fixtures/opa-authz/authz.rego')], { stdio: 'ignore' }));
    await waitForHttp(`http://127.0.0.1:${opaPort}/health`);

    const nginxPort = await freePort();
    const nginx = keep(await startNginx(nginxConfig(dir, tls, nginxPort, upstreamPort), nginxPort));
    const nginxOpaPort = await freePort();
    const nginxOpa = keep(await startNginx(nginxConfig(dir, tls, nginxOpaPort, upstreamPort, opaPort), nginxOpaPort));

    const plainPort = await freePort();
    const plain = keep(await start(process.execPath, [join(ROOT, 'bench/fixtures/plain-proxy.mjs'), String(plainPort), String(upstreamPort), tls.key, tls.cert], /listening/));

    const gate = async (logLevel: string, extra: readonly string[] = []): Promise<{ child: ChildProcess; port: number }> => {
      const port = await freePort();
      const admin = await freePort();
      const child = keep(
        await start(
          process.execPath,
          [join(ROOT, 'dist/cli/main.js'), 'serve', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--log-level', logLevel, ...extra],
          /INSECURE|listening/i,
        ),
      );
      await waitForHttp(`http://127.0.0.1:${admin}/readyz`);
      // Drain the access log so a full pipe never stalls the proxy.
      child.stdout!.resume();
      child.stderr!.resume();
      return { child, port };
    };
    const quiet = await gate('warn');
    const audited = await gate('warn', ['--decision-log', join(dir, 'decisions.jsonl')]);
    const logged = QUICK ? undefined : await gate('info');

    const targets: Target[] = [
      { key: 'direct', name: 'direct (HTTP, no proxy)', origin: `http://127.0.0.1:${upstreamPort}`, pids: [] },
      { key: 'nginx', name: 'nginx (TLS, no policy)', origin: `https://127.0.0.1:${nginxPort}`, pids: [nginx.pid!] },
      { key: 'nginx_opa', name: 'nginx + OPA server (auth_request)', origin: `https://127.0.0.1:${nginxOpaPort}`, pids: [nginxOpa.pid!, opaServer.pid!] },
      { key: 'plain_node', name: 'plain Node https + undici', origin: `https://127.0.0.1:${plainPort}`, pids: [plain.pid!] },
      { key: 'gate', name: 'enclave-gate (request + response policy)', origin: `https://127.0.0.1:${quiet.port}`, pids: [quiet.child.pid!] },
      { key: 'gate_audited', name: 'enclave-gate + signed decision log', origin: `https://127.0.0.1:${audited.port}`, pids: [audited.child.pid!] },
      ...(logged ? [{ key: 'gate_logged', name: 'enclave-gate, access log on', origin: `https://127.0.0.1:${logged.port}`, pids: [logged.child.pid!] }] : []),
    ];
    // Warm every target up (JIT, connection pools) before anything counts.
    for (const t of targets) await autocannon({ url: `${t.origin}${PATH}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: 10, duration: 1 });

    const samples = new Map<string, LoadSample[]>();
    const latency = new Map<string, { p50: number[]; p99: number[]; errors: number }>();
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with another target, so no target always runs right after the same one.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const connections of [10, 1]) {
        for (const t of order) {
          const s = await load(t, connections);
          const key = `${t.key}@${connections}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          process.stderr.write(`  round ${round + 1} c=${connections} ${t.name}: ${s.rps.toFixed(0)} req/s, ${Number.isFinite(s.cpuUsPerReq) ? s.cpuUsPerReq.toFixed(0) : '-'} µs CPU/req\n`);
        }
      }
      for (const t of order) {
        const l = await measureLatency(t.origin, PATH, BODY, LATENCY_SECONDS);
        const acc = latency.get(t.key) ?? { p50: [], p99: [], errors: 0 };
        acc.p50.push(l.p50Ms);
        acc.p99.push(l.p99Ms);
        acc.errors += l.errors;
        latency.set(t.key, acc);
        process.stderr.write(`  round ${round + 1} latency ${t.name}: p50 ${l.p50Ms.toFixed(3)} ms, p99 ${l.p99Ms.toFixed(3)} ms\n`);
      }
    }

    // The logs' cost: gate, gate + decision log (and gate + access log) in turn, segment after segment,
    // in sets of fresh processes (see PAIRED_SETS).
    const pairedKinds = [
      { key: 'gate', logLevel: 'warn', extra: [] as string[] },
      { key: 'gate_audited', logLevel: 'warn', extra: ['--decision-log', join(dir, 'paired-decisions.jsonl')] },
      ...(logged ? [{ key: 'gate_logged', logLevel: 'info', extra: [] as string[] }] : []),
    ];
    const pairedTotals = new Map<string, { cpuUs: number; requests: number }>(pairedKinds.map((k) => [k.key, { cpuUs: 0, requests: 0 }]));
    let segment = 0;
    for (let set = 0; set < PAIRED_SETS; set++) {
      const started: { child: ChildProcess; target: Target }[] = [];
      for (const kind of pairedKinds) {
        const { child, port } = await gate(kind.logLevel, kind.extra);
        started.push({ child, target: { key: kind.key, name: kind.key, origin: `https://127.0.0.1:${port}`, pids: [child.pid!] } });
      }
      for (const { target } of started) await autocannon({ url: `${target.origin}${PATH}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: 10, duration: 1 });
      const segmentsOfSet = Math.round((PAIRED_SEGMENTS * (set + 1)) / PAIRED_SETS) - Math.round((PAIRED_SEGMENTS * set) / PAIRED_SETS);
      for (let k = 0; k < segmentsOfSet; k++, segment++) {
        for (const { target } of started.map((_, i) => started[(i + segment) % started.length]!)) {
          const sample = await load(target, 10, PAIRED_SECONDS);
          const totals = pairedTotals.get(target.key)!;
          totals.cpuUs += sample.cpuUs;
          totals.requests += sample.requests;
        }
      }
      await Promise.all(started.map(({ child }) => stop(child)));
    }
    const pairedCpu = (key: string): number => pairedTotals.get(key)!.cpuUs / pairedTotals.get(key)!.requests;
    const pairedCost = (key: string): number => pairedCpu(key) / pairedCpu('gate') - 1;
    process.stderr.write(`  paired segments: decision log ${(100 * pairedCost('gate_audited')).toFixed(1)} %${logged ? `, access log ${(100 * pairedCost('gate_logged')).toFixed(1)} %` : ''}\n`);

    const med = (key: string, c: number, f: (s: LoadSample) => number): number => median((samples.get(`${key}@${c}`) ?? []).map(f));
    const rows = targets.map((t) => ({
      key: t.key,
      name: t.name,
      rps10: med(t.key, 10, (s) => s.rps),
      rps1: med(t.key, 1, (s) => s.rps),
      cpu10: med(t.key, 10, (s) => s.cpuUsPerReq),
      cpu1: med(t.key, 1, (s) => s.cpuUsPerReq),
      p50Ms: median(latency.get(t.key)!.p50),
      p99Ms: median(latency.get(t.key)!.p99),
      errors: [...samples.entries()].filter(([k]) => k.startsWith(`${t.key}@`)).reduce((a, [, v]) => a + v.reduce((b, s) => b + s.errors + s.non2xx, 0), 0) + latency.get(t.key)!.errors,
      rssMiB: t.pids.length > 0 ? rssMiB(t.pids) : NaN,
    }));
    const row = (key: string): (typeof rows)[number] => rows.find((r) => r.key === key)!;
    const gateRow = row('gate');
    const ratios = {
      gateVsNginxOpa: gateRow.rps10 / row('nginx_opa').rps10,
      gateVsNginx: gateRow.rps10 / row('nginx').rps10,
      gateCpuVsPlain: gateRow.cpu10 / row('plain_node').cpu10,
      addedP50Ms: gateRow.p50Ms - row('direct').p50Ms,
      addedP99Ms: gateRow.p99Ms - row('direct').p99Ms,
      decisionLogCpuCost: pairedCost('gate_audited'),
      ...(logged ? { accessLogCpuCost: pairedCost('gate_logged') } : {}),
    };
    const checks = [
      { what: 'req/s at 10 connections ≥ 2× nginx + OPA', value: `${ratios.gateVsNginxOpa.toFixed(2)}×`, met: ratios.gateVsNginxOpa >= 2 },
      { what: 'req/s at 10 connections ≥ 0.45× nginx', value: `${ratios.gateVsNginx.toFixed(2)}×`, met: ratios.gateVsNginx >= 0.45 },
      { what: 'CPU per request ≤ 2× plain Node proxy', value: `${ratios.gateCpuVsPlain.toFixed(2)}×`, met: ratios.gateCpuVsPlain <= 2 },
      { what: 'added p50 at 1 connection ≤ 0.25 ms', value: `${ratios.addedP50Ms.toFixed(3)} ms`, met: ratios.addedP50Ms <= 0.25 },
      { what: 'added p99 at 1 connection ≤ 1 ms', value: `${ratios.addedP99Ms.toFixed(3)} ms`, met: ratios.addedP99Ms <= 1 },
      { what: 'decision log adds ≤ 10 % CPU per request (issue 11)', value: `${(100 * ratios.decisionLogCpuCost).toFixed(1)} %`, met: ratios.decisionLogCpuCost <= 0.1 },
    ];

    const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');
    const when = new Date().toISOString();
    const lines = [
      `# Proxy overhead`,
      '',
      `${when}, node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${QUICK ? 'quick' : 'full'} run: ${ROUNDS} interleaved rounds of ${SECONDS} s per target and connection count, medians. ` +
        `POST ${PATH}, ${BODY.length}-byte JSON request, ~600-byte JSON answer. Load generator, upstream and proxies share the machine's cores; compare ratios within this run, not absolute numbers across runs.`,
      '',
      '| target | req/s @10c | × nginx | req/s @1c | proxy CPU µs/req @10c | × plain Node | p50 / p99 ms @1c | added p50 / p99 ms | RSS MiB | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${fmt(r.rps10)} | ${fmt(r.rps10 / row('nginx').rps10, 2)} | ${fmt(r.rps1)} | ${fmt(r.cpu10)} | ${fmt(r.cpu10 / row('plain_node').cpu10, 2)} | ${fmt(r.p50Ms, 3)} / ${fmt(r.p99Ms, 3)} | ${r.key === 'direct' ? '—' : `${fmt(r.p50Ms - row('direct').p50Ms, 3)} / ${fmt(r.p99Ms - row('direct').p99Ms, 3)}`} | ${fmt(r.rssMiB)} | ${r.errors} |`,
      ),
      '',
      '| target | this run | met |',
      '|---|---|---|',
      ...checks.map((c) => `| ${c.what} | ${c.value} | ${c.met ? 'yes' : 'no'} |`),
      '',
      `The logs' cost is measured in a phase of its own: ${PAIRED_SEGMENTS} segments of ${PAIRED_SECONDS} s at 10 connections over ${PAIRED_SETS} sets of fresh processes, the gate with and without each log taking turns; ` +
        `the cost is the ratio of CPU per request over all segments, ${fmt(pairedCpu('gate_audited'))} µs with the decision log against ${fmt(pairedCpu('gate'))} µs without ` +
        `(the table's rows, medians of separate rounds, give ${fmt(100 * (row('gate_audited').cpu10 / gateRow.cpu10 - 1), 1)} %). ` +
        `Signed decision log: ${fmt(100 * ratios.decisionLogCpuCost, 1)} % CPU per request` +
        (ratios.accessLogCpuCost === undefined ? '.' : `; access log (one pino line per request, to a pipe): ${fmt(100 * ratios.accessLogCpuCost, 1)} %.`),
      '',
      'Latency columns come from a closed-loop client timing each request in microseconds over one keep-alive connection (autocannon rounds to whole milliseconds). ' +
        'The nginx + OPA row sees no body (auth_request sends none), so it checks routes, methods and content type only; enclave-gate also scans both bodies for PII and decides on the response.',
      '',
    ];
    const report = lines.join('\n');
    process.stdout.write(`\n${report}`);
    writeFileSync(join(ROOT, 'bench/results/proxy-overhead.md'), report);
    writeFileSync(join(ROOT, 'bench/results/proxy-overhead.json'), `${JSON.stringify({ when, node: process.version, quick: QUICK, seconds: SECONDS, rounds: ROUNDS, rows, ratios, checks }, null, 2)}\n`);
    writeFileSync(
      join(ROOT, 'bench/results/proxy-overhead.svg'),
      barChart(`Proxy overhead (${when.slice(0, 10)}, same run)`, [
        { title: 'Throughput, 10 connections', unit: 'req/s', bars: rows.map((r) => ({ label: r.name, value: r.rps10, highlight: r.key.startsWith('gate') })) },
        { title: 'Proxy CPU per request, 10 connections', unit: 'µs', bars: rows.filter((r) => r.key !== 'direct').map((r) => ({ label: r.name, value: r.cpu10, highlight: r.key.startsWith('gate') })) },
        { title: 'Added latency over direct, 1 connection, p50', unit: 'ms', bars: rows.filter((r) => r.key !== 'direct').map((r) => ({ label: r.name, value: r.p50Ms - row('direct').p50Ms, highlight: r.key.startsWith('gate') })) },
      ]),
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

async function startNginx(conf: string, port: number): Promise<ChildProcess> {
  const child = spawn('nginx', ['-c', conf], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => {
        // A TLS port answers a plain HTTP request with an error page or a reset: either way it listens.
        if ((e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') throw e;
      });
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

await main();
