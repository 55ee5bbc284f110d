/**
 * The fault-load run (bench/fault-load.ts is its command line). Sustained load with faults (loopback only, bounded in time and
 * concurrency): while requests run, the model server restarts, the policy
 * bundle changes and the RA-TLS certificate rotates. Reports requests served,
 * answers by status and code, RSS over time, and the two numbers that must be
 * zero: wrong decisions (a request the policy denies answered 2xx, or an
 * allowed one denied) and planted PII that reached the client unredacted or a
 * PII-carrying request that reached the model server.
 *
 *   npx vite-node bench/fault-load.ts -- --minutes 5        # the on-demand run
 *   npx vite-node bench/fault-load.ts -- --seconds 20 --concurrency 8 --out report.json
 *
 * A short run is an integration test (test/integration/adversarial/fault-load.test.ts).
 * RSS is the whole process: proxy, load client and model server run in it.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { configSchema } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { startGateway } from '../src/proxy/gateway.js';
import { DEFAULT_POLICY_BUNDLE } from '../src/util/package-root.js';
import { rewriteBundle } from '../test/helpers/bundles.js';

/** Planted in some model answers; must never reach the client. */
const PLANTED = ['planted.alice@example.com', '4111 1111 1111 1111'];
/** Sent in some requests; the policy must stop them before the model server. */
const REQUEST_PII = 'request.bob@example.com';

export interface FaultLoadOptions {
  readonly durationMs: number;
  readonly concurrency: number;
  /** Fault periods; defaults scale with nothing (fixed seconds) so short runs still see several of each. */
  readonly upstreamRestartEveryMs?: number;
  readonly bundleChangeEveryMs?: number;
  readonly certRotateEveryMs?: number;
  readonly rssEveryMs?: number;
  readonly log?: (line: string) => void;
}

export interface FaultLoadReport {
  readonly durationMs: number;
  readonly requests: number;
  readonly byKind: Record<string, number>;
  /** "200", "403 EG_POLICY_DENIED", "502 EG_UPSTREAM_UNAVAILABLE", "error ECONNRESET", … */
  readonly answers: Record<string, number>;
  readonly wrongDecisions: number;
  readonly wrongDecisionSamples: string[];
  readonly piiLeaksToClient: number;
  /** 2xx answers that carried a redaction marker: proof the planted PII was there and was caught. */
  readonly redactedAnswers: number;
  readonly piiLeaksToUpstream: number;
  readonly faults: { upstreamRestarts: number; bundleChanges: number; certRotations: number; faultErrors: number };
  /** [seconds since start, RSS MiB, V8 heap used MiB]; after a full GC when node runs with --expose-gc. */
  readonly rss: [number, number, number][];
  /** Median RSS of the last fifth of the run over the median of the second fifth (after warm-up), in percent. */
  readonly rssGrowthPercent: number;
  /** The same comparison for the V8 heap in use (a leak in JS objects shows here first). */
  readonly heapGrowthPercent: number;
  /** True when samples were taken after a forced GC (node --expose-gc). */
  readonly gcBeforeSamples: boolean;
}

type Kind = 'models' | 'chat' | 'chat-pii' | 'denied-path' | 'stream';
const KINDS: Kind[] = ['models', 'chat', 'chat', 'chat-pii', 'denied-path', 'stream'];
const DENIED_KINDS = new Set<Kind>(['chat-pii', 'denied-path']);

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const chatChunk = (content: string): string => sse({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });

/** The model server: answers on a fixed port so a restart comes back at the same address. */
function modelServer(counters: { piiLeaksToUpstream: number }): Server {
  let n = 0;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (body.includes(REQUEST_PII)) counters.piiLeaksToUpstream++;
      const plant = n++ % 3 === 0;
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"m"}]}');
      } else if (req.url === '/v1/chat/completions' && body.includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // PII split across events: only the hold-back window can catch it.
        const pieces = plant ? ['Write to planted.al', 'ice@example.com or pay ', 'with 4111 1111', ' 1111 1111.'] : ['Hello ', 'there.'];
        for (const p of pieces) res.write(chatChunk(p));
        res.end('data: [DONE]\n\n');
      } else if (req.url === '/v1/chat/completions') {
        const content = plant ? `Contact ${PLANTED[0]} or card ${PLANTED[1]}.` : 'Paris.';
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', choices: [{ message: { role: 'assistant', content } }] }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
      }
    });
  });
}

async function listenOn(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function requestFor(kind: Kind): { method: 'GET' | 'POST'; path: string; body?: string } {
  switch (kind) {
    case 'models':
      return { method: 'GET', path: '/v1/models' };
    case 'denied-path':
      return { method: 'GET', path: '/raw_customer_data' };
    case 'chat':
      return { method: 'POST', path: '/v1/chat/completions', body: '{"model":"m","messages":[{"role":"user","content":"capital of France?"}]}' };
    case 'chat-pii':
      return { method: 'POST', path: '/v1/chat/completions', body: `{"model":"m","messages":[{"role":"user","content":"mail ${REQUEST_PII}"}]}` };
    case 'stream':
      return { method: 'POST', path: '/v1/chat/completions', body: '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' };
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
};

/** Runs the load and the faults; resolves with the report. */
export async function runFaultLoad(options: FaultLoadOptions): Promise<FaultLoadReport> {
  const log = options.log ?? (() => undefined);
  const counters = { piiLeaksToUpstream: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'eg-fault-load-'));
  // Two bundles with the same rules and different digests: every change is a
  // real activation (new certificate binding the new digest), and the expected
  // decision of every request is the same under both, so any change is wrong.
  const bundleA = new Uint8Array(readFileSync(DEFAULT_POLICY_BUNDLE));
  const bundleB = rewriteBundle(bundleA, (files) => files.set('/.manifest', Buffer.from('{"revision":"fault-load-b"}')));
  const bundlePath = join(dir, 'bundle.tar.gz');
  writeFileSync(bundlePath, bundleA);

  let upstream = modelServer(counters);
  const upstreamPort = await listenOn(upstream, 0);
  const config = configSchema.parse({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    upstream: `http://127.0.0.1:${upstreamPort}`,
    policy: { path: bundlePath, watch: false },
    log: { level: 'silent' },
    shutdownGraceMs: 2000,
    limits: { upstreamHeadersTimeoutMs: 5000 },
  });
  const gateway = await startGateway({ config, logger: createLogger('silent'), metrics: createMetrics({ defaults: false }) });
  // Real TLS handshakes; trust is not what this run measures (the certificate
  // rotates every few seconds and each is self-signed), so the client does not pin it.
  const pool = new Pool(gateway.url, { connections: options.concurrency, connect: { rejectUnauthorized: false }, pipelining: 1 });

  const started = Date.now();
  const deadline = started + options.durationMs;
  const answers: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const wrongSamples: string[] = [];
  let requests = 0;
  let wrongDecisions = 0;
  let piiLeaksToClient = 0;
  let redactedAnswers = 0;
  const faults = { upstreamRestarts: 0, bundleChanges: 0, certRotations: 0, faultErrors: 0 };
  const rss: [number, number, number][] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
  const count = (key: string): void => void (answers[key] = (answers[key] ?? 0) + 1);

  const worker = async (id: number): Promise<void> => {
    let i = id;
    while (Date.now() < deadline) {
      const kind = KINDS[i++ % KINDS.length]!;
      const spec = requestFor(kind);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      requests++;
      try {
        const res = await pool.request({
          method: spec.method,
          path: spec.path,
          headers: spec.body === undefined ? {} : { 'content-type': 'application/json' },
          body: spec.body ?? null,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await res.body.text();
        let code = '';
        if (String(res.headers['content-type']).startsWith('application/problem+json')) {
          code = (JSON.parse(text) as { code: string }).code;
        }
        count(code === '' ? String(res.statusCode) : `${res.statusCode} ${code}`);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        const policyDenied = code === 'EG_POLICY_DENIED' || code === 'EG_RESPONSE_DENIED';
        if ((DENIED_KINDS.has(kind) && ok) || (!DENIED_KINDS.has(kind) && policyDenied)) {
          wrongDecisions++;
          if (wrongSamples.length < 5) wrongSamples.push(`${kind} → ${res.statusCode} ${code}`);
        }
        if (ok && PLANTED.some((p) => text.includes(p))) piiLeaksToClient++;
        if (ok && text.includes('[REDACTED:')) redactedAnswers++;
      } catch (err) {
        count(`error ${(err as { code?: string }).code ?? (err as Error).name}`);
      }
    }
  };

  const every = (ms: number, fn: () => Promise<void>): NodeJS.Timeout =>
    setInterval(() => {
      if (Date.now() < deadline - ms / 2) fn().catch(() => void faults.faultErrors++);
    }, ms);
  let useB = false;
  const timers = [
    every(options.upstreamRestartEveryMs ?? 5000, async () => {
      const old = upstream;
      old.closeAllConnections();
      await new Promise<void>((r) => old.close(() => r()));
      await new Promise((r) => setTimeout(r, 300));
      upstream = modelServer(counters);
      await listenOn(upstream, upstreamPort);
      faults.upstreamRestarts++;
      log(`upstream restarted (${faults.upstreamRestarts})`);
    }),
    every(options.bundleChangeEveryMs ?? 4000, async () => {
      useB = !useB;
      writeFileSync(bundlePath, useB ? bundleB : bundleA);
      const before = gateway.policy.digest.hex;
      await gateway.reloadPolicy();
      if (gateway.policy.digest.hex === before) throw new Error('bundle not activated');
      faults.bundleChanges++;
      log(`policy bundle changed (${faults.bundleChanges})`);
    }),
    every(options.certRotateEveryMs ?? 3000, async () => {
      await gateway.rotateCertificate();
      faults.certRotations++;
    }),
    every(options.rssEveryMs ?? 1000, async () => {
      gc?.();
      const memory = process.memoryUsage();
      const sample: [number, number, number] = [Math.round((Date.now() - started) / 1000), mib(memory.rss), mib(memory.heapUsed)];
      rss.push(sample);
      if (sample[0] % 30 === 0) log(`t=${sample[0]}s rss=${sample[1]} MiB heap=${sample[2]} MiB requests=${requests}`);
    }),
  ];
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, id) => worker(id)));
  } finally {
    for (const t of timers) clearInterval(t);
    await pool.close();
    await gateway.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
  const fifth = Math.max(1, Math.floor(rss.length / 5));
  const growth = (pick: (s: [number, number, number]) => number): number => {
    const early = median(rss.slice(fifth, 2 * fifth).map(pick));
    const late = median(rss.slice(-fifth).map(pick));
    return early === 0 ? 0 : Math.round(((late - early) / early) * 1000) / 10;
  };
  return {
    durationMs: Date.now() - started,
    requests,
    byKind,
    answers,
    wrongDecisions,
    wrongDecisionSamples: wrongSamples,
    piiLeaksToClient,
    redactedAnswers,
    piiLeaksToUpstream: counters.piiLeaksToUpstream,
    faults,
    rss,
    rssGrowthPercent: growth((s) => s[1]),
    heapGrowthPercent: growth((s) => s[2]),
    gcBeforeSamples: gc !== undefined,
  };
}
