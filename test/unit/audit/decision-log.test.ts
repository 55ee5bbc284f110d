import { describe, expect, it } from 'vitest';
import { AuditSigner, DecisionLog, type DecisionLogSink, type LoggedPolicy, type SignedBatch } from '../../../src/audit/decision-log.js';
import { maskInput } from '../../../src/audit/mask.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { loadPolicy } from '../../../src/policy/engine.js';
import type { RequestInput } from '../../../src/policy/input.js';
import { verifyCertificate } from '../../../src/verify/certificate.js';
import { verifyAuditLog } from '../../../src/verify/audit-log.js';
import { decodeClaims, encodeClaims } from '../../../src/wire/claims.js';
import { formatHashEntry } from '../../../src/wire/hash-entry.js';
import { auditCertificate, logEntry } from '../../helpers/audit.js';

const entry = logEntry;
const certificate = auditCertificate;

/** A sink that keeps what it gets as JSON Lines, and can be held up. */
class MemorySink implements DecisionLogSink {
  readonly name = 'file' as const;
  text = '';
  hold: Promise<void> | undefined;
  async write(batch: SignedBatch): Promise<void> {
    if (this.hold !== undefined) await this.hold;
    if (this.text === '') this.text = `${JSON.stringify(batch.header)}\n`;
    this.text += batch.lines.toString('utf8') + `${JSON.stringify(batch.batch)}\n`;
  }
  async close(): Promise<void> {}
}

/** A memory sink that also notes the number of events in each batch it is given. */
function countingSink(): { sink: MemorySink; batches: number[] } {
  const sink = new MemorySink();
  const batches: number[] = [];
  const write = sink.write.bind(sink);
  sink.write = async (batch) => {
    batches.push(batch.events.length);
    await write(batch);
  };
  return { sink, batches };
}


/** The events of a written log, in order. */
function eventsOf(text: string): Record<string, unknown>[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown> })
    .filter((r) => r.type === 'event')
    .map((r) => r.event!);
}

describe('audit-key-hash claim', () => {
  it('round-trips through the claims buffer and is exposed by the verifier', async () => {
    const signer = new AuditSigner();
    const claims = { pubkeyHash: { alg: 'sha-384' as const, digest: new Uint8Array(48).fill(1) }, auditKeyHash: signer.keyHash };
    expect(decodeClaims(encodeClaims(claims)).auditKeyHash).toEqual(signer.keyHash);
    const verdict = verifyCertificate(await certificate(signer), { at: new Date(), allowSimulated: true });
    expect(verdict.ok).toBe(true);
    expect(verdict.ratls?.auditKeyHash).toBe(formatHashEntry(signer.keyHash));
    expect(JSON.stringify(signer)).not.toContain('PRIVATE');
  });
});

describe('maskInput', () => {
  it('erases the body, credential headers and configured pointers from a copy', () => {
    const input = { query: 'email=a%40b.c', parsed_query: { email: ['a@b.c'] }, body: { secret: 1 }, headers: { authorization: 'Bearer x', 'x-key': 'k', accept: '*/*' }, peer: { jwt: { sub: 'a', email: 'a@b.c' } } };
    const { input: masked, erased } = maskInput(input, { headers: ['x-key'], extra: ['/input/peer/jwt/email', '/input/nothing/here'] });
    expect(masked).toEqual({ headers: { accept: '*/*' }, peer: { jwt: { sub: 'a' } } });
    expect(erased).toEqual(['/input/body', '/input/query', '/input/parsed_query', '/input/headers/authorization', '/input/headers/x-key', '/input/peer/jwt/email']);
    expect(input.peer.jwt.email).toBe('a@b.c');
    expect(input.headers.authorization).toBe('Bearer x');
  });
});

describe('DecisionLog', () => {
  it('block: a full buffer makes admission wait until the sink catches up', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const sink = new MemorySink();
    let release!: () => void;
    sink.hold = new Promise((r) => (release = r));
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, batchEvents: 2, maxBufferedEvents: 2, overflow: 'block', flushIntervalMs: 10_000 });
    log.record(entry(1));
    log.record(entry(2));
    // Room is judged before a request is admitted: two events wait, so the third request waits too.
    const waiting = log.admit();
    expect(waiting).toBeInstanceOf(Promise);
    let admitted = false;
    void waiting!.then(() => (admitted = true));
    // The batch was taken from the buffer; the sink is still holding it, so wait for it.
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBe(false);
    release();
    sink.hold = undefined;
    await log.flush();
    await new Promise((r) => setTimeout(r, 0));
    expect(admitted).toBe(true);
    await log.close();
    expect(verifyAuditLog([{ name: 'mem', text: sink.text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 2, closed: true });
  });

  it('a full batch is flushed alone: events that finish while it is written wait for their own batch', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const { sink, batches } = countingSink();
    let release!: () => void;
    sink.hold = new Promise((r) => (release = r));
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, batchEvents: 4, flushIntervalMs: 10_000 });
    for (let n = 1; n <= 4; n += 1) log.record(entry(n));
    await new Promise((r) => setImmediate(r));
    // The first batch is being written; two more requests finish meanwhile.
    log.record(entry(5));
    log.record(entry(6));
    release();
    sink.hold = undefined;
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([4]);
    expect(log.buffered).toBe(2);
    // The interval (or shutdown) takes what is left.
    await log.close();
    expect(batches).toEqual([4, 2]);
    expect(verifyAuditLog([{ name: 'mem', text: sink.text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 6, closed: true });
  });

  it('a flush takes what was waiting when it began, and does not chase events that finish while it writes', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const { sink, batches } = countingSink();
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, batchEvents: 100, flushIntervalMs: 10_000 });
    for (let n = 1; n <= 3; n += 1) log.record(entry(n));
    // Each write is held up while one more request finishes: a flush that chased those
    // would write batches of one, each with its own signature, for as long as traffic lasts.
    let n = 3;
    for (let round = 0; round < 5; round += 1) {
      let release!: () => void;
      sink.hold = new Promise((r) => (release = r));
      const flushed = log.flush();
      await new Promise((r) => setImmediate(r));
      log.record(entry((n += 1)));
      release();
      await flushed;
    }
    sink.hold = undefined;
    expect(batches).toEqual([3, 1, 1, 1, 1]);
    expect(log.buffered).toBe(1);
    await log.close();
    expect(batches).toEqual([3, 1, 1, 1, 1, 1]);
    expect(verifyAuditLog([{ name: 'mem', text: sink.text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 8, closed: true });
  });

  it('names who asked (requested_by) from each entry, also when requests share a connection peer', async () => {
    const signer = new AuditSigner();
    const sink = new MemorySink();
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => 'CERT', flushIntervalMs: 10_000 });
    const peer = Object.freeze({ address: '10.0.0.7', port: 5001, tls: Object.freeze({ protocol: 'TLSv1.3' }) });
    const input = (id: string): RequestInput => ({ request_id: id, method: 'GET', path: '/v1/models', headers: {}, peer }) as unknown as RequestInput;
    log.record({ ...entry(1), address: '10.0.0.7', port: 5001, input: input('a') });
    log.record({ ...entry(2), address: '10.0.0.7', port: 5001, input: input('b') });
    // The same peer object with another address or port (never made by the proxy) still gets its own text.
    log.record({ ...entry(3), address: '10.0.0.8', port: 5001, input: input('c') });
    log.record({ ...entry(4), address: '10.0.0.8', port: 5002, input: input('d') });
    log.record({ ...entry(5), address: '::1', port: 443 });
    await log.close();
    expect(eventsOf(sink.text).map((e) => e['requested_by'])).toEqual(['10.0.0.7:5001', '10.0.0.7:5001', '10.0.0.8:5001', '10.0.0.8:5002', '::1:443']);
  });

  it('an input that does not serialise costs its event the input, not the request or the log', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const sink = new MemorySink();
    const metrics = createMetrics({ defaults: false });
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, flushIntervalMs: 10_000, metrics });
    const odd = { request_id: 'r', method: 'GET', path: '/x', headers: { accept: '*/*' }, peer: { address: '::1', port: 1 }, body_size: 10n } as unknown as RequestInput;
    expect(() => log.record({ ...entry(1), input: odd })).not.toThrow();
    log.record(entry(2));
    await log.close();
    const events = eventsOf(sink.text);
    expect(events[0]).not.toHaveProperty('input');
    expect(events[0]).toMatchObject({ erased: ['/input'], enclave_gate: { request_id: 'r1', outcome: 'allow' } });
    expect(events[1]).toMatchObject({ input: { method: 'POST', path: '/v1/chat/completions' } });
    expect(await metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toContain('outcome="mask_failed"} 1');
    expect(verifyAuditLog([{ name: 'mem', text: sink.text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 2 });
  });

  it('an entry it cannot write at all is counted as dropped, and record() does not throw into the pipeline', async () => {
    const signer = new AuditSigner();
    const sink = new MemorySink();
    const metrics = createMetrics({ defaults: false });
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => 'CERT', flushIntervalMs: 10_000, metrics });
    expect(() => log.record({ ...entry(1), timestamp: Number.NaN })).not.toThrow();
    log.record(entry(2));
    await log.close();
    expect(sink.text.match(/"type":"event"/g)).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toContain('outcome="dropped"} 1');
  });

  it('a sink that throws where the end-of-turn write calls it is logged, and the process and the log go on', async () => {
    const signer = new AuditSigner();
    const sink = new MemorySink();
    const broken: DecisionLogSink = {
      name: 'http',
      pending: 10,
      dropOldest: () => {
        throw new Error('boom');
      },
      write: async () => {},
      close: async () => {},
    };
    const lines: string[] = [];
    const logger = createLogger('error', { write: (line: string) => void lines.push(line) });
    const log = new DecisionLog({ sinks: [sink, broken], signer, certificate: () => 'CERT', maxBufferedEvents: 5, overflow: 'drop-oldest', flushIntervalMs: 10_000, logger });
    log.record(entry(1));
    log.record(entry(2));
    // The events are written at the end of this turn, where a throw would end the process.
    await new Promise((r) => setImmediate(r));
    log.record(entry(3));
    await log.close();
    expect(lines.filter((l) => l.includes('decision log event not handled'))).toHaveLength(3);
    expect(eventsOf(sink.text).map((e) => (e['enclave_gate'] as { request_id: string }).request_id)).toEqual(['r1', 'r2', 'r3']);
  });

  it('drop-oldest: records the number of lost events in the chain', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const sink = new MemorySink();
    const metrics = createMetrics({ defaults: false });
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, batchEvents: 100, maxBufferedEvents: 3, overflow: 'drop-oldest', flushIntervalMs: 10_000, metrics });
    for (let n = 1; n <= 5; n += 1) log.record(entry(n));
    await log.close();
    const events = eventsOf(sink.text);
    expect(events[0]).toMatchObject({ overflow: { dropped: 2 } });
    expect(events[1]).toMatchObject({ input: { method: 'POST', path: '/v1/chat/completions' }, bundles: { 'enclave-gate': { revision: 'r1', digest: 'sha-384:00' } } });
    expect(sink.text).not.toContain('secret=1');
    expect(events.slice(1).map((e) => (e['enclave_gate'] as { request_id: string }).request_id)).toEqual(['r3', 'r4', 'r5']);
    expect(await metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toContain('outcome="dropped"} 2');
    expect(verifyAuditLog([{ name: 'mem', text: sink.text }], { allowSimulated: true }).ok).toBe(true);
  });
});

describe('DecisionLog with the bundle mask rule (enclave_gate/log/mask)', () => {
  const ROOT = new URL('../../../', import.meta.url);
  const identified = {
    request_id: 'r',
    method: 'POST',
    path: '/v1/chat/completions',
    query: 'q=1',
    headers: { authorization: 'Bearer t', accept: '*/*' },
    body: { messages: [] },
    peer: { address: '127.0.0.1', port: 5001, jwt: { sub: 'u-1', party: 'bank-a', email: 'ann@bank-a.example' }, certificate: { subject: 'O=Bank A,CN=Ann', fingerprint: 'ab' } },
  } as unknown as RequestInput;

  async function run(policy: Awaited<ReturnType<typeof loadPolicy>>, labels: Record<string, string> = {}) {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const sink = new MemorySink();
    const metrics = createMetrics({ defaults: false });
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, flushIntervalMs: 10_000, metrics, labels, mask: { extra: ['/input/peer/jwt/party'] } });
    log.record({ ...entry(1), input: identified, policy });
    await log.close();
    const event = sink.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown> })
      .find((r) => r.type === 'event')!.event!;
    return { event, text: sink.text, metrics };
  }

  it('erases what the default policy rule asks, on top of the built-in and configured masks, and lists it all', async () => {
    const { event, text } = await run(await loadPolicy(new URL('rego/build/bundle.tar.gz', ROOT).pathname));
    expect(event['input']).toEqual({ request_id: 'r', method: 'POST', path: '/v1/chat/completions', headers: { accept: '*/*' }, peer: { address: '127.0.0.1', port: 5001, jwt: { sub: 'u-1' }, certificate: { fingerprint: 'ab' } } });
    expect(event['erased']).toEqual(['/input/body', '/input/query', '/input/headers/authorization', '/input/peer/jwt/party', '/input/peer/jwt/email', '/input/peer/certificate/subject']);
    expect(text).not.toContain('ann@bank-a.example');
    expect(verifyAuditLog([{ name: 'mem', text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 1 });
  });

  it('erases the whole input, and counts it, when the rule answers something malformed', async () => {
    const { event, text, metrics } = await run(await loadPolicy(new URL('test/unit/policy/fixtures/log-mask', ROOT).pathname), { case: 'outside' });
    expect(event).not.toHaveProperty('input');
    expect(event['erased']).toEqual(['/input']);
    expect(event['result']).toMatchObject({ allow: true });
    expect(text).not.toContain('bank-a');
    expect(await metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_events_total')).toContain('outcome="mask_failed"} 1');
    expect(verifyAuditLog([{ name: 'mem', text }], { allowSimulated: true }).ok).toBe(true);
  });
});

describe('DecisionLog with a mask rule that reads only the peer', () => {
  const ROOT = new URL('../../../', import.meta.url);
  const tls = Object.freeze({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: null, servername: null });
  const peers = [
    Object.freeze({ address: '127.0.0.1', port: 5001, tls }),
    Object.freeze({ address: '127.0.0.1', port: 5002, tls }),
    // Frozen, and with an identity the default rule erases: such an event must still lose the email.
    Object.freeze({ address: '127.0.0.1', port: 5003, tls, jwt: Object.freeze({ sub: 'u-1', email: 'ann@bank-a.example' }) }),
    // Not frozen (as a peer built outside the proxy may be): always the general path.
    { address: '127.0.0.1', port: 5004, tls, jwt: { sub: 'u-2', email: 'bob@bank-b.example' } },
  ];
  const input = (n: number): RequestInput =>
    ({
      request_id: `r${n}`,
      method: 'POST',
      path: '/v1/chat/completions',
      parsed_path: ['v1', 'chat', 'completions'],
      query: n % 3 === 0 ? 'token=hunter2' : '',
      parsed_query: n % 3 === 0 ? { token: ['hunter2'] } : {},
      headers: n % 2 === 0 ? { authorization: 'Bearer hunter2', accept: '*/*' } : { accept: '*/*' },
      body: { card: 'hunter2' },
      body_size: 17,
      pii: [],
      peer: peers[n % peers.length],
    }) as unknown as RequestInput;

  /** The events a log writes for 40 requests under `policy`, without the members that differ between two logs (ids). */
  async function events(policy: LoggedPolicy): Promise<string[]> {
    const signer = new AuditSigner('instance');
    const sink = new MemorySink();
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => 'CERT', flushIntervalMs: 10_000 });
    for (let n = 0; n < 40; n += 1) log.record({ ...entry(n), input: input(n), policy });
    await log.close();
    return eventsOf(sink.text).map((e) => JSON.stringify({ ...e, decision_id: undefined }));
  }

  it('asks the rule once per connection peer and writes what asking it for every event writes', async () => {
    const engine = await loadPolicy(new URL('rego/build/bundle.tar.gz', ROOT).pathname);
    expect(engine.logMaskByPeer).toBe(true);
    const asked: unknown[] = [];
    const counted = (byPeer: boolean): LoggedPolicy => ({
      revision: engine.revision,
      digest: engine.digest,
      logMaskByPeer: byPeer,
      evaluateLogMask: (event) => {
        asked.push(event);
        return engine.evaluateLogMask(event);
      },
    });
    const everyEvent = await events(counted(false));
    expect(asked).toHaveLength(40);
    asked.length = 0;
    const perPeer = await events(counted(true));
    // The three frozen peers: one question each; the open peer: one for each of its 10 events.
    expect(asked).toHaveLength(3 + 10);
    expect(perPeer).toEqual(everyEvent);
    const text = perPeer.join('\n');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('@bank-');
    expect(JSON.parse(perPeer[2]!)).toMatchObject({ erased: ['/input/body', '/input/headers/authorization', '/input/peer/jwt/email'] });
  });
});

describe('verifyAuditLog on hostile input', () => {
  it('stays fast on a forged huge sequence number and on many events', async () => {
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const sink = new MemorySink();
    const log = new DecisionLog({ sinks: [sink], signer, certificate: () => pem, batchEvents: 1000, maxBufferedEvents: 1_000_000, flushIntervalMs: 60_000 });
    for (let n = 0; n < 30_000; n += 1) log.record(entry(n % 50));
    await log.close();
    const t0 = performance.now();
    expect(verifyAuditLog([{ name: 'big', text: sink.text }], { allowSimulated: true })).toMatchObject({ ok: true, events: 30_000 });
    const forged = `${sink.text}{"type":"event","seq":1000000000000,"hash":"${'0'.repeat(64)}","event":{}}\n`;
    const report = verifyAuditLog([{ name: 'forged', text: forged }], { allowSimulated: true });
    expect(report.findings.map((f) => f.kind)).toEqual(['dropped', 'unsigned']);
    expect(report.findings[0]).toMatchObject({ seq: 30_001, lastSeq: 999_999_999_999 });
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 60_000);
});

describe('FileSink', () => {
  it('refuses at start a path it cannot write', async () => {
    const { FileSink } = await import('../../../src/audit/file-sink.js');
    await expect(FileSink.open({ path: '/nonexistent-dir/decisions.jsonl', maxBytes: 4096, maxFiles: 1 })).rejects.toMatchObject({ code: 'EG_CONFIG_INVALID' });
  });

  it('reports a batch the disk refuses, closes the file, and tries again with the next batch', async () => {
    const { FileSink } = await import('../../../src/audit/file-sink.js');
    const { readdirSync } = await import('node:fs');
    // /dev/full takes the open and refuses every write with ENOSPC.
    const file = await FileSink.open({ path: '/dev/full', maxBytes: 1 << 30, maxFiles: 1 });
    const signer = new AuditSigner();
    const pem = await certificate(signer);
    const lines: string[] = [];
    const logger = createLogger('error', { write: (line: string) => void lines.push(line) });
    const metrics = createMetrics({ defaults: false });
    const log = new DecisionLog({ sinks: [file], signer, certificate: () => pem, batchEvents: 4, flushIntervalMs: 60_000, logger, metrics });
    const failed = (): string[] => lines.filter((l) => l.includes('decision log batch not written'));
    const fds = readdirSync('/proc/self/fd').length;
    for (let round = 0; round < 3; round += 1) {
      for (let n = 0; n < 4; n += 1) log.record(entry(round * 4 + n));
      await log.flush();
    }
    // Each batch failed on its own (not the one after it), and no descriptor was left open.
    expect(failed()).toHaveLength(3);
    expect(failed()[0]).toContain('ENOSPC');
    expect(await metrics.registry.getSingleMetricAsString('enclave_gate_decision_log_batches_total')).toContain('sink="file",outcome="failed"} 3');
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
    // The log goes on: a later batch is handed to the sink again.
    log.record(entry(99));
    await log.close();
    expect(failed()).toHaveLength(4);
  });

  it('keeps every batch intact on disk while later batches reuse the records buffer', async () => {
    const { FileSink } = await import('../../../src/audit/file-sink.js');
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'eg-file-sink-'));
    try {
      const path = join(dir, 'decisions.jsonl');
      const signer = new AuditSigner();
      const pem = await certificate(signer);
      const file = await FileSink.open({ path, maxBytes: 1 << 30, maxFiles: 1 });
      // A second sink that reads each batch's records only after a turn of the event loop, as a slow sink would.
      const slow = new MemorySink();
      slow.hold = new Promise((resolve) => setTimeout(resolve, 1));
      const log = new DecisionLog({ sinks: [file, slow], signer, certificate: () => pem, batchEvents: 8, maxBufferedEvents: 10_000, flushIntervalMs: 60_000 });
      // Batches of 8, flushed while more events come in, each one written into the buffer the one before used.
      for (let n = 0; n < 200; n += 1) {
        log.record({ ...entry(n), requestId: `r${n}-${'x'.repeat(n % 37)}` });
        if (n % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
      }
      await log.close();
      const text = await readFile(path, 'utf8');
      for (const written of [text, slow.text]) {
        expect(verifyAuditLog([{ name: 'file', text: written }], { allowSimulated: true })).toMatchObject({ ok: true, events: 200 });
        expect(eventsOf(written).map((e) => (e['enclave_gate'] as { request_id: string }).request_id)).toEqual(Array.from({ length: 200 }, (_, n) => `r${n}-${'x'.repeat(n % 37)}`));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
