/**
 * `enclave-gate serve --workers 2` as a real child process (the built CLI,
 * compiled here into .scratch so the test runs what `npm start` runs) in
 * front of a real upstream: requests over real TLS on the one port, each
 * worker's own RA-TLS certificate verified by our verifier, metrics summed
 * over the workers on the one admin port, a policy bundle activated on every
 * worker, a SIGKILLed worker replaced, and SIGTERM draining an in-flight
 * request before the primary exits 0. Every wait is bounded.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { bundleDigest } from '../../src/policy/bundle.js';
import { readTarGz } from '../../src/policy/tar.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { createAttestedDispatcher, type Verdict } from '../../src/verify/index.js';
import { buildBundle, scratchDir } from '../helpers/bundles.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const digestOf = (bundle: Uint8Array): string => `sha-384:${bundleDigest(readTarGz(bundle)).hex}`;

/** Polls `check` every 100 ms until it returns a value other than undefined; fails after `ms`. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

interface ReadyWorker {
  readonly id: number;
  readonly pid: number;
  readonly ready: boolean;
  readonly policy?: { digest: string; revision: string };
  readonly certificate?: { notAfter: string };
}
interface ReadyBody {
  readonly status: string;
  readonly policy: { digest: string; revision: string };
  readonly workers: ReadyWorker[];
}

let upstream: TestUpstream;
let dir: string;
let bundlePath: string;
let bundleA: Uint8Array;
let bundleB: Uint8Array;
let config: string;
let child: ChildProcess;
let childExit: Promise<number | null>;
const started: ChildProcess[] = [];
let cli = '';
let url = '';
let adminUrl = '';
const verdicts: Verdict[] = [];

/** One request on a new connection (so consecutive requests reach different workers), verified by our verifier first. */
async function attestedGet(path: string): Promise<{ status: number; body: string }> {
  const dispatcher = createAttestedDispatcher({ allowSimulated: true, cacheSize: 0, onVerdict: (v) => verdicts.push(v) });
  try {
    const res = await request(`${url}${path}`, { dispatcher, headersTimeout: 20_000, bodyTimeout: 20_000 });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

async function readyz(): Promise<{ status: number; body: ReadyBody }> {
  const res = await request(`${adminUrl}/readyz`, { headersTimeout: 10_000 });
  return { status: res.statusCode, body: (await res.body.json()) as ReadyBody };
}

async function metricValue(series: string): Promise<number> {
  const res = await request(`${adminUrl}/metrics`, { headersTimeout: 10_000 });
  expect(res.statusCode).toBe(200);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const ALLOWED_OK = 'enclave_gate_requests_total{decision="allow",code="ok"}';

beforeAll(async () => {
  // The CLI as installed: compiled JavaScript (node:cluster forks process.argv[1]).
  // The output sits two levels below .scratch/workers-cli, so PACKAGE_ROOT-relative
  // defaults do not apply; the test passes every path explicitly.
  const out = join(PACKAGE_ROOT, '.scratch', 'workers-cli', 'dist');
  cli = join(out, 'cli', 'main.js');
  execFileSync(join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(PACKAGE_ROOT, 'tsconfig.build.json'), '--outDir', out], { stdio: 'pipe', timeout: 170_000 });

  upstream = await startUpstream();
  for (const path of ['/ok', '/new']) {
    upstream.route(path, (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  }
  upstream.route('/slow', (_req, _body, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":"done"}'), 1500);
  });
  dir = scratchDir('eg-workers-');
  bundleA = buildBundle({ paths: ['/ok', '/slow'], revision: 'A' });
  bundleB = buildBundle({ paths: ['/ok', '/slow', '/new'], revision: 'B' });
  bundlePath = join(dir, 'bundle.tar.gz');
  writeFileSync(bundlePath, bundleA);
  config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ policy: { watchDebounceMs: 50, watchIntervalSeconds: 1 }, shutdownGraceMs: 10_000 }));
  await startServe(['--workers', '2'], {});
}, 300_000);

afterAll(async () => {
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await Promise.race([once(c, 'exit'), sleep(5000)]);
    }
  }
  await upstream?.close();
});

/**
 * Starts the built CLI's `serve` with `args` (and `env` on top of a
 * ENCLAVE_GATE_*-free environment); resolves once the primary logs that it is
 * serving, and points `url`/`adminUrl`/`child` at it.
 */
async function startServe(args: string[], env: Record<string, string>): Promise<void> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENCLAVE_GATE_')));
  const logLines: string[] = [];
  const proc = spawn(
    process.execPath,
    [cli, 'serve', '--config', config, ...args, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--upstream', upstream.url, '--policy', bundlePath],
    { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(proc);
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stderr!.on('data', (chunk: Buffer) => logLines.push(chunk.toString()));
  const serving = new Promise<{ url: string; admin: string }>((resolve) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      logLines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; role?: string; url?: string; admin?: string };
        if (entry.msg === 'enclave-gate is serving' && entry.role === 'primary') resolve({ url: entry.url!, admin: entry.admin! });
      } catch {
        // not a log line
      }
    });
  });
  const where = await Promise.race([
    serving,
    exit.then((code) => Promise.reject(new Error(`serve exited with ${code}:\n${logLines.join('\n')}`))),
    sleep(90_000).then(() => Promise.reject(new Error('serve did not start in 90 s'))),
  ]);
  child = proc;
  childExit = exit;
  url = where.url;
  adminUrl = where.admin;
}

describe('enclave-gate serve --workers 2', () => {
  it('serves over real TLS on one port; each worker has its own key and a certificate that verifies and binds the policy', async () => {
    const { status, body } = await waitFor('ready', 30_000, async () => {
      const r = await readyz();
      return r.status === 200 ? r : undefined;
    });
    expect(status).toBe(200);
    expect(body.workers).toHaveLength(2);
    expect(body.policy.digest).toBe(digestOf(bundleA));
    expect(new Set(body.workers.map((w) => w.pid)).size).toBe(2);

    verdicts.length = 0;
    const before = await metricValue(ALLOWED_OK);
    const n = 12;
    for (let i = 0; i < n; i++) {
      const res = await attestedGet('/ok');
      expect(res).toEqual({ status: 200, body: '{"ok":true}' });
    }
    // Our verifier checked every connection's certificate before a byte was sent.
    expect(verdicts).toHaveLength(n);
    for (const verdict of verdicts) {
      expect(verdict.ok, verdict.message).toBe(true);
      expect(verdict.ratls?.policyHash).toBe(digestOf(bundleA));
    }
    // Round-robin over fresh connections reached both workers, each with its own key.
    expect(new Set(verdicts.map((v) => v.ratls?.pubkeyHash)).size).toBe(2);
    // The admin port sums the counters of both workers.
    expect((await metricValue(ALLOWED_OK)) - before).toBe(n);
    expect(await metricValue('enclave_gate_workers{state="ready"}')).toBe(2);
    // Gauges are not summed: readiness is the minimum over workers, and so is
    // the certificate expiry (the first certificate to expire is the one to alert on).
    expect(await metricValue('enclave_gate_ready')).toBe(1);
    const expiries = body.workers.map((w) => Date.parse(w.certificate!.notAfter) / 1000);
    expect(await metricValue('enclave_gate_certificate_expiry_timestamp_seconds')).toBeCloseTo(Math.min(...expiries), 3);
  });

  it('activates a new bundle on every worker; /readyz reports the one revision', async () => {
    const tmp = `${bundlePath}.tmp`;
    writeFileSync(tmp, bundleB);
    renameSync(tmp, bundlePath);
    const body = await waitFor('bundle B on both workers', 30_000, async () => {
      const r = await readyz();
      return r.status === 200 && r.body.policy.digest === digestOf(bundleB) ? r.body : undefined;
    });
    expect(body.workers.map((w) => w.policy?.digest)).toEqual([digestOf(bundleB), digestOf(bundleB)]);
    verdicts.length = 0;
    for (let i = 0; i < 4; i++) expect((await attestedGet('/new')).status).toBe(200);
    expect(new Set(verdicts.map((v) => v.ratls?.pubkeyHash)).size).toBe(2);
    for (const verdict of verdicts) expect(verdict.ratls?.policyHash).toBe(digestOf(bundleB));
  });

  it('replaces a worker killed with SIGKILL while the other keeps serving', async () => {
    const { body } = await readyz();
    const victim = body.workers[0]!.pid;
    const survivor = body.workers[1]!.pid;
    process.kill(victim, 'SIGKILL');
    await waitFor('the killed worker to leave /readyz', 15_000, async () => {
      const r = await readyz();
      return r.body.workers.some((w) => w.pid === victim) ? undefined : true;
    });
    for (let i = 0; i < 4; i++) expect((await attestedGet('/ok')).status).toBe(200);
    const after = await waitFor('a replacement worker, ready', 60_000, async () => {
      const r = await readyz();
      return r.status === 200 && r.body.workers.length === 2 ? r.body : undefined;
    });
    const pids = after.workers.map((w) => w.pid);
    expect(pids).toContain(survivor);
    expect(pids).not.toContain(victim);
    // The replacement got the bundle in force, not the one the service started with.
    expect(after.workers.map((w) => w.policy?.digest)).toEqual([digestOf(bundleB), digestOf(bundleB)]);
    expect(await metricValue('enclave_gate_worker_restarts_total{cause="signal"}')).toBe(1);
    verdicts.length = 0;
    for (let i = 0; i < 4; i++) expect((await attestedGet('/new')).status).toBe(200);
    expect(new Set(verdicts.map((v) => v.ratls?.pubkeyHash)).size).toBe(2);
  });

  it('SIGTERM to the primary lets an in-flight request finish, then every process exits 0', async () => {
    const { body } = await readyz();
    const workerPids = body.workers.map((w) => w.pid);
    const seen = upstream.received.length;
    const slow = attestedGet('/slow');
    await waitFor('the slow request to reach the upstream', 15_000, () => (upstream.received.slice(seen).some((r) => r.url === '/slow') ? true : undefined));
    child.kill('SIGTERM');
    expect(await slow).toEqual({ status: 200, body: '{"slow":"done"}' });
    const code = await Promise.race([childExit, sleep(30_000).then(() => 'timeout' as const)]);
    expect(code).toBe(0);
    for (const pid of workerPids) {
      expect(() => process.kill(pid, 0)).toThrow();
    }
  }, 60_000);

  it('a worker that cannot start fails the whole start with its catalogue error and exit code', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as AddressInfo).port;
    try {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [cli, 'serve', '--workers', '2', '--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0', '--upstream', upstream.url, '--policy', bundlePath, '--log-level', 'silent'],
          { timeout: 60_000 },
          (error, _stdout, stderr) => resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stderr }),
        );
      });
      expect(result.stderr).toMatch(/EG_LISTEN_FAILED: worker \d+: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
      expect(result.code).toBe(12);
    } finally {
      blocker.close();
    }
  }, 90_000);

  it('SIGINT does the same; ENCLAVE_GATE_WORKERS sets the count', async () => {
    await startServe([], { ENCLAVE_GATE_WORKERS: '2' });
    const { body } = await waitFor('ready', 30_000, async () => {
      const r = await readyz();
      return r.status === 200 ? r : undefined;
    });
    expect(body.workers).toHaveLength(2);
    const seen = upstream.received.length;
    const slow = attestedGet('/slow');
    await waitFor('the slow request to reach the upstream', 15_000, () => (upstream.received.slice(seen).some((r) => r.url === '/slow') ? true : undefined));
    child.kill('SIGINT');
    expect(await slow).toEqual({ status: 200, body: '{"slow":"done"}' });
    expect(await Promise.race([childExit, sleep(30_000).then(() => 'timeout' as const)])).toBe(0);
    for (const worker of body.workers) expect(() => process.kill(worker.pid, 0)).toThrow();
  }, 120_000);
});
