/**
 * Proxy overhead benchmark: the same autocannon load, in the same run, against
 *   - direct: the upstream over plain HTTP (the floor),
 *   - enclave-gate: RA-TLS + request policy (PII scan of the body) + response
 *     policy (JSON) + forwarding,
 *   - nginx (when installed): TLS termination + proxy_pass with keep-alive, a
 *     reference for "a proxy with no policy at all".
 * Targets are interleaved for several rounds and medians reported, with
 * ratios against direct and nginx, and the proxy's CPU time per request.
 *
 * Run: npm run bench (builds first). Loopback only; every run is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const BODY = JSON.stringify({
  model: 'enclave-demo-1',
  messages: [
    { role: 'system', content: 'You are a fraud analyst.' },
    { role: 'user', content: 'Is a 42 EUR grocery purchase at 10:00, card present, 2 km from home, suspicious? Answer briefly.' },
  ],
  max_tokens: 64,
});

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

function start(cmd: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (ready.test(seen)) ok(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`${cmd} exited with ${code}: ${seen.slice(-2000)}`)));
    setTimeout(() => fail(new Error(`${cmd} not ready after 30 s: ${seen.slice(-2000)}`)), 30_000).unref();
  });
}

/** utime+stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq?: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, connections: number, pid?: number): Promise<Sample> {
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections,
    duration: SECONDS,
  });
  const cpu1 = pid ? cpuSeconds(pid) : 0;
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ...(pid ? { cpuUsPerReq: total > 0 ? ((cpu1 - cpu0) * 1e6) / total : NaN } : {}),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function startNginx(upstreamPort: number, port: number): ChildProcess | undefined {
  if (spawnSync('nginx', ['-v']).error) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'eg-bench-nginx-'));
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port} ssl; ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem; ssl_protocols TLSv1.3;
    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  return spawn('nginx', ['-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const upstreamPort = await freePort();
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const nginxPort = await freePort();
  const children: ChildProcess[] = [];
  try {
    children.push(await start(process.execPath, [join(ROOT, 'bench/fixtures/upstream.mjs'), String(upstreamPort)], /listening/));
    const proxy = await start(
      process.execPath,
      [join(ROOT, 'dist/cli/main.js'), 'serve', '--listen', `127.0.0.1:${proxyPort}`, '--admin', `127.0.0.1:${adminPort}`, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--log-level', 'warn'],
      /INSECURE/,
    );
    children.push(proxy);
    await new Promise((r) => setTimeout(r, 300));
    const nginx = startNginx(upstreamPort, nginxPort);
    if (nginx) {
      children.push(nginx);
      await new Promise((r) => setTimeout(r, 500));
    }
    const targets: Array<{ name: string; url: string; pid?: number }> = [
      { name: 'direct (http)', url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions` },
      { name: 'enclave-gate (RA-TLS + policy)', url: `https://127.0.0.1:${proxyPort}/v1/chat/completions`, pid: proxy.pid! },
      ...(nginx ? [{ name: 'nginx (TLS, no policy)', url: `https://127.0.0.1:${nginxPort}/v1/chat/completions`, pid: nginx.pid! }] : []),
    ];
    const results = new Map<string, Sample[]>();
    for (const connections of [10, 1]) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          const sample = await load(t.url, connections, t.pid);
          const key = `${connections}|${t.name}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
          process.stderr.write(`  c=${connections} round ${round + 1} ${t.name}: ${sample.rps.toFixed(0)} req/s\n`);
        }
      }
    }
    const lines = [
      `# Proxy overhead (${new Date().toISOString()}, node ${process.version}, ${SECONDS}s × ${ROUNDS} interleaved rounds, medians)`,
      '',
      `POST /v1/chat/completions, ${BODY.length}-byte JSON request, ${600}-ish-byte JSON response. Load generator, upstream and proxies share this machine's cores.`,
      '',
      '| connections | target | req/s | % of direct | % of nginx | p50 ms | p99 ms | proxy CPU µs/req | errors | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const connections of [10, 1]) {
      const med = (name: string, f: (s: Sample) => number | undefined): number => median((results.get(`${connections}|${name}`) ?? []).map((s) => f(s) ?? NaN));
      const direct = med(targets[0]!.name, (s) => s.rps);
      const ngx = nginx ? med(targets[2]!.name, (s) => s.rps) : NaN;
      for (const t of targets) {
        const rps = med(t.name, (s) => s.rps);
        const cpu = t.pid ? med(t.name, (s) => s.cpuUsPerReq).toFixed(0) : '—';
        const errs = (results.get(`${connections}|${t.name}`) ?? []).reduce((a, s) => a + s.errors, 0);
        const non2xx = (results.get(`${connections}|${t.name}`) ?? []).reduce((a, s) => a + s.non2xx, 0);
        lines.push(
          `| ${connections} | ${t.name} | ${rps.toFixed(0)} | ${((100 * rps) / direct).toFixed(0)} % | ${Number.isNaN(ngx) ? '—' : `${((100 * rps) / ngx).toFixed(0)} %`} | ${med(t.name, (s) => s.p50)} | ${med(t.name, (s) => s.p99)} | ${cpu} | ${errs} | ${non2xx} |`,
        );
      }
    }
    const report = lines.join('\n') + '\n';
    process.stdout.write(`\n${report}`);
    writeFileSync(join(ROOT, 'bench/results/proxy-overhead.md'), report);
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

await main();
