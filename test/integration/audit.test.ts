/**
 * The signed decision log end to end (docs/audit.md). A real `enclave-gate
 * serve` child process writes the log (`--decision-log`) while real requests
 * go through it, and signs the last batch on SIGTERM. The log is then
 * verified as written, and tampered with — an event edited, dropped,
 * reordered, inserted, a signature changed, the tail cut off, a foreign
 * certificate put in the header — and each tampering must be reported at its
 * position with its exit class, by the library and by the CLI.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/errors.js';
import { loadPolicy } from '../../src/policy/engine.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { issueCertificate } from '../../src/ratls/issue.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { verifyAuditLog, type AuditReport } from '../../src/verify/audit-log.js';
import { batchMessage } from '../../src/wire/audit-log.js';
import { ensurePolicyBundle, startTestGateway, closeTestResources } from '../helpers/gateway.js';
import { CLI_MAIN, serveChild, stopChild, VITE_NODE } from '../helpers/cli-child.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const API_KEY = 'egk_audit_4c1d9e';
const EMAIL = 'carol.secret@example.org';

let upstream: TestUpstream;
let scratch: string;
let logPath: string;
/** The log exactly as the proxy left it after SIGTERM. */
let written: string;
let childExit: number | null;
const gateways: Gateway[] = [];
const agents: Dispatcher[] = [];

async function call(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  agents.push(agent);
  const res = await request(`${url}${path}`, { dispatcher: agent, method: (options.method ?? 'GET') as 'GET', headers: options.headers ?? {}, ...(options.body === undefined ? {} : { body: options.body }) });
  await res.body.dump();
  return res.statusCode;
}

/** Runs `enclave-gate audit …` and resolves with its exit code and output. */
function auditCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(VITE_NODE, [CLI_MAIN, 'audit', ...args], { cwd: PACKAGE_ROOT, timeout: 90_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
    });
  });
}

const verify = (text: string, name = 'decisions.jsonl'): AuditReport => verifyAuditLog([{ name, text }], { allowSimulated: true });
const lines = (text: string): string[] => text.trimEnd().split('\n');
const join_ = (ls: string[]): string => `${ls.join('\n')}\n`;
/** Line index (0-based) of the event with this sequence number. */
const lineOf = (ls: string[], seq: number): number => ls.findIndex((l) => l.startsWith(`{"type":"event","seq":${seq},`));

beforeAll(async () => {
  ensurePolicyBundle();
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  upstream.route('/v1/chat/completions', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"message":{"content":"ok"}}]}'));
  scratch = mkdtempSync(join(tmpdir(), 'eg-audit-'));
  logPath = join(scratch, 'decisions.jsonl');
  const config = join(scratch, 'config.json');
  writeFileSync(config, JSON.stringify({ identity: { apiKeys: { keys: [{ id: 'bank-a-batch', sha256: createHash('sha256').update(API_KEY).digest('hex') }] } }, decisionLog: { flushIntervalMs: 50, batchEvents: 4 } }));
  const { child, url } = await serveChild(['--config', config, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--upstream', upstream.url, '--decision-log', logPath]);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push(await call(url, '/v1/models', { headers: { 'x-api-key': API_KEY } }));
    // A query can carry identifiers: it is erased from the log like the body.
    statuses.push(await call(url, `/v1/models?owner=${encodeURIComponent(EMAIL)}`, { headers: { 'x-api-key': API_KEY } }));
    statuses.push(
      await call(url, '/v1/chat/completions', {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: `mail ${EMAIL}` }] }),
      }),
    );
    statuses.push(await call(url, '/v1/models', { headers: { 'x-api-key': 'wrong-key' } }));
    statuses.push(await call(url, '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"hello"}]}' }));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 403, 401, 200]);
  } finally {
    childExit = await stopChild(child);
  }
  written = readFileSync(logPath, 'utf8');
}, 180_000);

afterAll(() => closeTestResources({ gateways, agents, upstream, scratch }));

describe('the log the running proxy wrote', () => {
  it('was flushed and signed on SIGTERM, and verifies: chain, signatures, attested key', () => {
    expect(childExit).toBe(0);
    const report = verify(written);
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ ok: true, exitCode: 0, events: 8, firstSeq: 1, lastSeq: 8, closed: true });
    // The key that signs the log is the one the attested certificate binds.
    expect(report.attestation).toMatchObject({ ok: true, platform: 'simulated', auditKeyHash: report.signingKeyHash });
    expect(report.batches).toBeGreaterThanOrEqual(2);
  });

  it('holds OPA decision-log events with the caller identity, masked: no body, no PII value, no credential', () => {
    const events = lines(written)
      .map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown> })
      .filter((r) => r.type === 'event')
      .map((r) => r.event!);
    const first = events[0]!;
    expect(first).toMatchObject({
      path: 'enclave_gate/request/decision',
      labels: { app: 'enclave-gate' },
      input: { method: 'GET', path: '/v1/models', peer: { api_key: { id: 'bank-a-batch' } } },
      result: { allow: true, reasons: [] },
      bundles: { 'enclave-gate': { revision: expect.any(String) } },
      metrics: { timer_rego_query_eval_ns: expect.any(Number) },
      enclave_gate: { outcome: 'allow', code: 'ok', status: 200 },
    });
    expect(first['decision_id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first['timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(first['erased']).toContain('/input/headers/x-api-key');
    const denied = events[5]!;
    expect(denied).toMatchObject({ result: { allow: false, reasons: ['pii_detected:email:/messages/0/content'] }, enclave_gate: { code: 'EG_POLICY_DENIED' } });
    expect(denied['erased']).toContain('/input/body');
    expect(events[4]!['erased']).toContain('/input/query');
    expect(events[6]).toMatchObject({ enclave_gate: { code: 'EG_UNAUTHENTICATED', reasons: ['api_key_unknown'] } });
    expect(written).not.toContain(EMAIL);
    expect(written).not.toContain('carol.secret');
    expect(written).not.toContain(API_KEY);
    expect(written).not.toContain('wrong-key');
    expect(written).not.toContain('"hello"');
  });

  it('`enclave-gate audit verify` exits 0 on it, and 9 without --allow-simulated', async () => {
    const ok = await auditCli(['verify', logPath, '--allow-simulated', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, events: 8 });
    const strict = await auditCli(['verify', logPath]);
    expect(strict.code).toBe(EXIT.referenceValues);
    expect(strict.stdout).toContain('EG_VERIFY_SIMULATED');
  }, 120_000);
});

describe('tampering is found, with its position', () => {
  it('an edited event', async () => {
    const ls = lines(written);
    const i = lineOf(ls, 6);
    ls[i] = ls[i]!.replace('"allow":false', '"allow":true');
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.auditChain);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'edited', seq: 6, line: i + 1 })]);
    const tampered = join(scratch, 'edited.jsonl');
    writeFileSync(tampered, join_(ls));
    const cli = await auditCli(['verify', tampered, '--allow-simulated']);
    expect(cli.code).toBe(EXIT.auditChain);
    expect(cli.stdout).toMatch(/EDITED EG_AUDIT_CHAIN \(.*edited\.jsonl:\d+\): event 6 does not match its chain hash/);
  }, 120_000);

  it('an edited event whose chain hashes were recomputed (fails against the signed head)', async () => {
    const { chainHash } = await import('../../src/wire/audit-log.js');
    const records = lines(written).map((l) => JSON.parse(l) as Record<string, unknown>);
    let prev: string | undefined;
    for (const r of records) {
      if (r['type'] !== 'event') continue;
      if (r['seq'] === 2) (r['event'] as { input: { path: string } }).input.path = '/v1/other';
      if (prev !== undefined && (r['seq'] as number) >= 2) r['hash'] = chainHash(prev, r['seq'] as number, JSON.stringify(r['event']));
      prev = r['hash'] as string;
    }
    const report = verify(join_(records.map((r) => JSON.stringify(r))));
    expect(report.exitCode).toBe(EXIT.auditChain);
    const finding = report.findings[0]!;
    expect(finding.kind).toBe('edited');
    expect(finding.seq! <= 2 && finding.lastSeq! >= 2).toBe(true);
    expect(finding.message).toMatch(/do not end on the head their batch signed/);
  });

  it('a dropped event', () => {
    const ls = lines(written);
    ls.splice(lineOf(ls, 3), 1);
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.auditChain);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'dropped', seq: 3, lastSeq: 3, message: 'event 3 is missing' })]);
  });

  it('reordered events', () => {
    const ls = lines(written);
    const a = lineOf(ls, 2);
    const b = lineOf(ls, 3);
    [ls[a], ls[b]] = [ls[b]!, ls[a]!];
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.auditChain);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'reordered', seq: 2, line: b + 1 })]);
  });

  it('an inserted event', () => {
    const ls = lines(written);
    const i = lineOf(ls, 4);
    const forged = JSON.parse(ls[i]!) as { event: { input: { path: string } } };
    forged.event.input.path = '/v1/admin';
    ls.splice(i + 1, 0, JSON.stringify(forged));
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.auditChain);
    expect(report.findings.map((f) => [f.kind, f.seq, f.line])).toContainEqual(['inserted', 4, i + 2]);
  });

  it('a changed batch signature', () => {
    const ls = lines(written);
    const i = ls.findIndex((l) => l.startsWith('{"type":"batch"'));
    const batch = JSON.parse(ls[i]!) as { sig: string };
    const sig = Buffer.from(batch.sig, 'base64');
    sig[0]! ^= 1;
    batch.sig = sig.toString('base64');
    ls[i] = JSON.stringify(batch);
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.signature);
    expect(report.findings.map((f) => f.kind)).toEqual(['signature', 'unsigned']);
    expect(report.findings[0]).toMatchObject({ line: i + 1 });
  });

  it('signatures cut off: events after the last batch record are unsigned', () => {
    const ls = lines(written);
    const lastEvent = lineOf(ls, 8);
    const report = verify(join_(ls.slice(0, lastEvent + 1)));
    expect(report.exitCode).toBe(EXIT.auditUnsigned);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'unsigned', lastSeq: 8 })]);
    expect(report.closed).toBe(false);
  });

  it('a truncated log no longer ends with the final batch (reported as not closed)', () => {
    const ls = lines(written);
    const lastBatchBeforeEnd = ls.findLastIndex((l, i) => i < ls.length - 1 && l.startsWith('{"type":"batch"'));
    const report = verify(join_(ls.slice(0, lastBatchBeforeEnd + 1)));
    expect(report.closed).toBe(false);
    expect(verify(written).closed).toBe(true);
  });

  it('a log whose header names another certificate (the signing key is not the attested one)', async () => {
    const other = await issueCertificate({
      provider: createSimulatedProvider(),
      policyHash: { alg: 'sha-384', digest: new Uint8Array(48) },
      keyAlgorithm: 'P-256',
      validitySeconds: 3600,
      subjectAltNames: ['localhost'],
      commonName: 'impostor',
    });
    const ls = lines(written);
    const header = JSON.parse(ls[0]!) as { certificate: string; opened_at: string };
    header.certificate = other.certPem;
    header.opened_at = new Date().toISOString();
    ls[0] = JSON.stringify(header);
    const report = verify(join_(ls));
    expect(report.exitCode).toBe(EXIT.binding);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'key', code: 'EG_AUDIT_KEY', message: expect.stringContaining('binds no decision-log key') })]);
  });
});

describe('rotation, the HTTP sink and a full buffer (in-process gateway)', () => {
  it('rotated files verify together, and a missing middle file is a gap', async () => {
    const path = join(scratch, 'rotating.jsonl');
    const gw = await startTestGateway(upstream.url, { decisionLog: { path, maxFileBytes: 4096, maxFiles: 20, batchEvents: 2, flushIntervalMs: 10 } });
    const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
    agents.push(agent);
    for (let i = 0; i < 12; i += 1) await (await request(`${gw.url}/v1/models`, { dispatcher: agent })).body.dump();
    await gw.close();
    const files = readdirSync(scratch).filter((f) => f.startsWith('rotating.jsonl')).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const all = files.map((name) => ({ name, text: readFileSync(join(scratch, name), 'utf8') }));
    const report = verifyAuditLog(all, { allowSimulated: true });
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ ok: true, events: 12, closed: true, files: files.length });
    const withoutMiddle = all.filter((f) => f.name !== 'rotating.jsonl.2');
    const gap = verifyAuditLog(withoutMiddle, { allowSimulated: true });
    expect(gap.exitCode).toBe(EXIT.auditChain);
    expect(gap.findings[0]).toMatchObject({ kind: 'dropped' });
  }, 60_000);

  it('a file cut by the size limit (EFBIG) keeps its cut at its end, and the log goes on in a file of its own', async () => {
    const dir = join(scratch, 'limited');
    mkdirSync(dir);
    const path = join(dir, 'limited.jsonl');
    // 64 KiB per file at most; SIGXFSZ ignored, so the write fails with EFBIG instead of killing the process.
    const script = `trap '' XFSZ; ulimit -f 64; exec "$0" "$@"`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', script, VITE_NODE, join(PACKAGE_ROOT, 'test', 'helpers', 'limited-file-log.ts'), path, '600'], { cwd: PACKAGE_ROOT, timeout: 90_000 }, (error, out, err) =>
        error === null ? resolve(out) : reject(new Error(`${error.message}\n${err}`)),
      ),
    );
    const { failed } = JSON.parse(stdout.trim().split('\n').pop()!) as { failed: string[] };
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const err of failed) expect(err).toContain('EFBIG');
    // Each failure rotated the cut file away: one file per failure, and the current one.
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(failed.length + 1);
    const all = files.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
    for (const file of all) expect(JSON.parse(file.text.split('\n', 1)[0]!)).toMatchObject({ type: 'header' });
    const report = verifyAuditLog(all, { allowSimulated: true });
    const kinds = new Set(report.findings.map((f) => f.kind));
    // What happened is reported: cut lines and the events lost with them. No header in the middle of a file.
    expect(kinds.has('dropped')).toBe(true);
    expect(kinds.has('inserted')).toBe(false);
    expect(report.events).toBeGreaterThan(500);
    expect(report.closed).toBe(true);
  }, 120_000);

  it('erases what the bundle asks for (data.enclave_gate.log.mask), so the masking is part of the attested policy', async () => {
    const dir = join(scratch, 'masking-policy');
    mkdirSync(dir);
    for (const f of ['lib/lib.rego', 'request/request.rego', 'response/response.rego']) {
      copyFileSync(join(PACKAGE_ROOT, 'rego', 'policy', 'enclave_gate', f), join(dir, f.replace('/', '-')));
    }
    writeFileSync(join(dir, 'data.json'), JSON.stringify({ enclave_gate: { log: { mask: ['/input/headers/user-agent', '/input/peer/tls'] } } }));
    const policy = await loadPolicy(dir);
    expect(policy.logMask).toEqual(['/input/headers/user-agent', '/input/peer/tls']);
    const path = join(scratch, 'masked.jsonl');
    const gw = await startTestGateway(upstream.url, { decisionLog: { path, flushIntervalMs: 10 } }, { policy });
    const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
    agents.push(agent);
    await (await request(`${gw.url}/v1/models`, { dispatcher: agent, headers: { 'user-agent': 'agent-7f3e' } })).body.dump();
    await gw.close();
    const text = readFileSync(path, 'utf8');
    const event = (JSON.parse(lines(text)[1]!) as { event: { input: { peer: object }; erased: string[]; bundles: object } }).event;
    expect(event.erased).toEqual(expect.arrayContaining(['/input/headers/user-agent', '/input/peer/tls']));
    expect(event.input.peer).not.toHaveProperty('tls');
    expect(text).not.toContain('agent-7f3e');
    expect(event.bundles).toEqual({ 'enclave-gate': { revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` } });
    expect(verifyAuditLog([{ name: 'masked', text }], { allowSimulated: true }).ok).toBe(true);
    // A mask that is not a list of /input/ pointers refuses the bundle rather than logging more than meant.
    writeFileSync(join(dir, 'data.json'), JSON.stringify({ enclave_gate: { log: { mask: ['/body'] } } }));
    await expect(loadPolicy(dir)).rejects.toMatchObject({ code: 'EG_POLICY_LOAD_FAILED', message: expect.stringContaining('data.enclave_gate.log.mask') });
  }, 60_000);

  describe('HTTP sink', () => {
    let sink: Server;
    let sinkUrl: string;
    let up = true;
    const uploads: { events: Record<string, unknown>[]; batch: Record<string, unknown>; encoding: string | undefined }[] = [];
    beforeAll(async () => {
      sink = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (!up) {
            res.writeHead(503).end();
            return;
          }
          uploads.push({
            events: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as Record<string, unknown>[],
            batch: JSON.parse(Buffer.from(String(req.headers['x-enclave-gate-batch']), 'base64').toString('utf8')) as Record<string, unknown>,
            encoding: req.headers['content-encoding'],
          });
          res.writeHead(204).end();
        });
      });
      sink.listen(0, '127.0.0.1');
      await once(sink, 'listening');
      sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/logs`;
    });
    afterAll(() => void sink?.close());

    it("uploads gzip'd JSON arrays of OPA events with the signed batch", async () => {
      const gw = await startTestGateway(upstream.url, { decisionLog: { url: sinkUrl, batchEvents: 3, flushIntervalMs: 10 } });
      const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
      agents.push(agent);
      for (let i = 0; i < 3; i += 1) await (await request(`${gw.url}/v1/models`, { dispatcher: agent })).body.dump();
      await gw.close();
      expect(uploads.length).toBeGreaterThanOrEqual(1);
      const events = uploads.flatMap((u) => u.events);
      expect(events).toHaveLength(3);
      expect(uploads[0]!.encoding).toBe('gzip');
      expect(events[0]).toMatchObject({ path: 'enclave_gate/request/decision', result: { allow: true }, enclave_gate_chain: { seq: 1 } });
      // The batch signature verifies with the key the certificate binds.
      const batch = uploads[0]!.batch as Parameters<typeof batchMessage>[0] & { sig: string };
      const spki = gw.decisionLog!.signer.spki;
      expect(verifySignature(null, batchMessage(batch), createPublicKey({ key: spki, format: 'der', type: 'spki' }), Buffer.from(batch.sig, 'base64'))).toBe(true);
    }, 60_000);

    it('fail-closed: a full buffer while the service is down refuses requests with 503, counted', async () => {
      up = false;
      const gw = await startTestGateway(upstream.url, { decisionLog: { url: sinkUrl, batchEvents: 1, flushIntervalMs: 10, maxBufferedEvents: 2, overflow: 'fail-closed' } });
      gateways.push(gw);
      const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
      agents.push(agent);
      const statuses: number[] = [];
      let code: unknown;
      for (let i = 0; i < 4; i += 1) {
        const res = await request(`${gw.url}/v1/models`, { dispatcher: agent });
        statuses.push(res.statusCode);
        const body = (await res.body.json()) as { code?: string };
        if (res.statusCode === 503) code = body.code;
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(statuses).toEqual([200, 200, 503, 503]);
      expect(code).toBe('EG_DECISION_LOG_UNAVAILABLE');
      expect(await gw.metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toContain('outcome="refused"} 2');
      up = true;
      // Once the service is back, the queue drains and requests are served again.
      await new Promise((r) => setTimeout(r, 1500));
      const after = await request(`${gw.url}/v1/models`, { dispatcher: agent });
      await after.body.dump();
      expect(after.statusCode).toBe(200);
    }, 60_000);

    it('drop-oldest: a full buffer drops the oldest events, counts them and serves on', async () => {
      up = false;
      const gw = await startTestGateway(upstream.url, { decisionLog: { url: sinkUrl, batchEvents: 1, flushIntervalMs: 10, maxBufferedEvents: 2, overflow: 'drop-oldest' } });
      gateways.push(gw);
      const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
      agents.push(agent);
      for (let i = 0; i < 5; i += 1) {
        const res = await request(`${gw.url}/v1/models`, { dispatcher: agent });
        await res.body.dump();
        expect(res.statusCode).toBe(200);
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(await gw.metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toMatch(/outcome="dropped"\} [1-9]/);
      up = true;
    }, 60_000);
  });
});
