/**
 * The decision log the enclave signs (docs/audit.md). The pipeline hands
 * every finished request to `record` (one object push, nothing else); a
 * flush, at most every `flushIntervalMs` or when `batchEvents` are waiting,
 * turns them into OPA decision-log events with the input masked, chains them
 * (wire/audit-log.ts), signs the chain head once per batch with a key born
 * in this process, and hands the batch to the sinks (file, HTTP). Nothing on
 * the request path hashes, signs, serialises or touches the disk.
 *
 * The buffer is bounded (`maxBufferedEvents`, counting events not yet handed
 * to every sink). When it is full, `overflow` decides: `drop-oldest` drops the
 * oldest waiting events and records their number in the chain (an `overflow`
 * event), `block` makes new requests wait for room (up to `blockTimeoutMs`,
 * then 503), `fail-closed` refuses new requests with 503
 * EG_DECISION_LOG_UNAVAILABLE until there is room.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { EnclaveGateError, describeThrown } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Decision } from '../policy/decision.js';
import type { RequestInput } from '../policy/input.js';
import {
  AUDIT_LOG_VERSION,
  AUDIT_SIGNATURE_ALG,
  auditKeyDigest,
  batchMessage,
  chainHash,
  genesisHash,
  type AuditBatchRecord,
  type AuditEventRecord,
  type AuditHeaderRecord,
} from '../wire/audit-log.js';
import type { HashEntry } from '../wire/hash-entry.js';
import { maskInput, type MaskOptions } from './mask.js';

/** What the pipeline knows about one finished request; built once in its account stage. */
export interface DecisionLogEntry {
  readonly requestId: string;
  /** Epoch ms when the request finished. */
  readonly timestamp: number;
  readonly method: string;
  /** Request target as received; only its path is logged (the query never is). */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  /** The request policy's input, when the request got that far. Masked at flush, never logged whole. */
  readonly input: RequestInput | undefined;
  /** The request decision, when the policy was asked. */
  readonly result: Decision | undefined;
  readonly status: number | undefined;
  readonly outcome: 'allow' | 'deny' | 'error';
  readonly code: string;
  readonly reasons: readonly string[] | undefined;
  readonly policyMs: number;
  readonly totalMs: number;
  /** The policy in force (its revision and digest are logged; its `logMask` erases more of the input). */
  readonly policy: LoggedPolicy | undefined;
}

/** A signed run of events with what a sink needs to start a file. */
export interface SignedBatch {
  /** The header a file that starts with this batch gets. */
  readonly header: AuditHeaderRecord;
  readonly events: readonly AuditEventRecord[];
  /** The events' JSON lines, serialised once for every sink. */
  readonly eventLines: readonly string[];
  readonly batch: AuditBatchRecord;
}

/** Where signed batches go. */
export interface DecisionLogSink {
  readonly name: 'file' | 'http';
  /** Takes a batch; resolves once it is stored (file) or queued (HTTP). */
  write(batch: SignedBatch): Promise<void>;
  /** Events accepted but not yet delivered (HTTP retry queue); counted against the buffer. */
  readonly pending?: number;
  /** Drops up to `n` of the oldest undelivered events (drop-oldest); returns how many went. */
  dropOldest?(n: number): number;
  close(): Promise<void>;
}

export type OverflowPolicy = 'drop-oldest' | 'block' | 'fail-closed';

/** Settings of {@link DecisionLog}. */
export interface DecisionLogOptions {
  readonly sinks: readonly DecisionLogSink[];
  readonly signer: AuditSigner;
  /** PEM of the certificate in service (its claims bind the signer's key). */
  readonly certificate: () => string;
  readonly batchEvents?: number;
  readonly flushIntervalMs?: number;
  readonly maxBufferedEvents?: number;
  readonly overflow?: OverflowPolicy;
  readonly blockTimeoutMs?: number;
  readonly mask?: MaskOptions;
  /** OPA `labels` of every event (the instance id is added as `id`). */
  readonly labels?: Readonly<Record<string, string>>;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
}

/** The decision-log signing key: Ed25519, generated in process memory, never exported. */
export class AuditSigner {
  readonly instance: string;
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly spki: Buffer;
  readonly #privateKey: KeyObject;

  constructor(instance: string = randomUUID()) {
    this.instance = instance;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    this.#privateKey = privateKey;
    this.spki = publicKey.export({ type: 'spki', format: 'der' });
  }

  /** The `audit-key-hash` claim value. */
  get keyHash(): HashEntry {
    return { alg: 'sha-256', digest: auditKeyDigest(this.spki) };
  }

  sign(message: Buffer): Buffer {
    return sign(null, message, this.#privateKey);
  }

  /** Never serialise the private key. */
  toJSON(): { instance: string; alg: string; spki: string } {
    return { instance: this.instance, alg: AUDIT_SIGNATURE_ALG, spki: this.spki.toString('base64') };
  }
}

/** "2026-12-04T13:00:00.123Z" → RFC 3339 with nanoseconds, as OPA writes timestamps. */
function rfc3339Nanos(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}000000Z`;
}

const round = (ms: number): number => Math.round(ms * 1e6);

/** The policy in force, as an entry carries it: the engine, or what tests give in its place. */
export interface LoggedPolicy {
  readonly revision: string;
  readonly digest: { readonly alg: string; readonly hex: string };
  /** Static pointers from bundle data `data.enclave_gate.log.mask`. */
  readonly logMask?: readonly string[];
  /** The bundle's `enclave_gate/log/mask` rule (PolicyEngine.evaluateLogMask); never throws. */
  evaluateLogMask?(event: Readonly<Record<string, unknown>>): { readonly pointers: readonly string[]; readonly failure?: string };
}

/**
 * The OPA decision-log event of one entry, masked in two steps: first the
 * built-in erasure, `decisionLog.mask` and the bundle's static pointers
 * (mask.ts); then the bundle's mask rule, given that event as its input
 * (OPA gives `data.system.log.mask` the event too), and its pointers
 * erased as well. The rule so never sees a body, a query or a credential.
 * `onMaskFailure` hears about a rule that failed (the whole input is then
 * erased).
 */
function toEvent(entry: DecisionLogEntry, labels: Readonly<Record<string, string>>, mask: MaskOptions | undefined, onMaskFailure: (why: string) => void): Record<string, unknown> {
  const input = entry.input ?? { method: entry.method, path: entry.url.split('?', 1)[0], peer: { address: entry.address, port: entry.port } };
  const bundleMask = entry.policy?.logMask;
  const masked = maskInput(
    input as unknown as Record<string, unknown>,
    bundleMask === undefined || bundleMask.length === 0 ? mask : { ...mask, extra: [...(mask?.extra ?? []), ...bundleMask] },
  );
  const result = entry.result;
  const event: Record<string, unknown> = {
    decision_id: randomUUID(),
    labels,
    path: 'enclave_gate/request/decision',
    input: masked.input,
    ...(result === undefined
      ? {}
      : {
          result: {
            allow: result.allow,
            reasons: result.reasons,
            ...(result.status === undefined ? {} : { status: result.status }),
            ...(result.headers === undefined ? {} : { headers: result.headers }),
            ...(result.rate_limit === undefined ? {} : { rate_limit: result.rate_limit }),
            ...(result.failure === undefined ? {} : { failure: result.failure }),
          },
        }),
    ...(masked.erased.length === 0 ? {} : { erased: masked.erased }),
    requested_by: `${entry.address}:${entry.port}`,
    timestamp: rfc3339Nanos(entry.timestamp),
    ...(entry.policy === undefined ? {} : { bundles: { 'enclave-gate': { revision: entry.policy.revision, digest: `${entry.policy.digest.alg}:${entry.policy.digest.hex}` } } }),
    metrics: { timer_rego_query_eval_ns: round(entry.policyMs), timer_server_handler_ns: round(entry.totalMs) },
    // What the proxy did in the end, which the request decision alone does not say
    // (a response withheld, a rate limit, an upstream failure).
    enclave_gate: {
      request_id: entry.requestId,
      outcome: entry.outcome,
      code: entry.code,
      ...(entry.status === undefined ? {} : { status: entry.status }),
      ...(entry.reasons === undefined || entry.reasons.length === 0 ? {} : { reasons: entry.reasons }),
    },
  };
  if (entry.policy?.evaluateLogMask === undefined) return event;
  const ruled = entry.policy.evaluateLogMask(event);
  if (ruled.failure !== undefined) onMaskFailure(ruled.failure);
  if (ruled.pointers.length === 0) return event;
  let erased: string[];
  if (ruled.pointers.includes('/input')) {
    delete event['input'];
    erased = [...masked.erased.filter((p) => !p.startsWith('/input/')), '/input'];
  } else {
    const more = maskInput(masked.input, { extra: ruled.pointers.filter((p) => !masked.erased.includes(p)) });
    event['input'] = more.input;
    erased = [...masked.erased, ...more.erased];
  }
  if (erased.length > 0) event['erased'] = erased;
  return event;
}

/** The signed decision log of one proxy process. */
export class DecisionLog {
  readonly signer: AuditSigner;
  readonly #options: DecisionLogOptions;
  readonly #batchEvents: number;
  readonly #maxBuffered: number;
  readonly #overflow: OverflowPolicy;
  readonly #blockTimeoutMs: number;
  readonly #labels: Readonly<Record<string, string>>;
  #pending: DecisionLogEntry[] = [];
  /** Events dropped since the last flush (drop-oldest), recorded in the chain at the next flush. */
  #droppedSinceFlush = 0;
  #seq = 0;
  #head: string;
  #flushing: Promise<void> = Promise.resolve();
  #flushScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(options: DecisionLogOptions) {
    this.#options = options;
    this.signer = options.signer;
    this.#batchEvents = options.batchEvents ?? 256;
    this.#maxBuffered = options.maxBufferedEvents ?? 10_000;
    this.#overflow = options.overflow ?? 'drop-oldest';
    this.#blockTimeoutMs = options.blockTimeoutMs ?? 5000;
    this.#labels = Object.freeze({ id: this.signer.instance, app: 'enclave-gate', ...(options.labels ?? {}) });
    this.#head = genesisHash(this.signer.instance);
    this.#timer = setInterval(() => this.#schedule(), options.flushIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Events waiting: not yet flushed, plus those a sink has not delivered. */
  get buffered(): number {
    let n = this.#pending.length;
    for (const sink of this.#options.sinks) n += sink.pending ?? 0;
    return n;
  }

  /**
   * Called before a request is admitted. Undefined (go on) while there is
   * room; otherwise, by policy: a promise that resolves when there is room
   * (`block`), or a thrown 503 (`fail-closed`, or `block` past its timeout).
   */
  admit(): Promise<void> | undefined {
    if (this.buffered < this.#maxBuffered || this.#overflow === 'drop-oldest') return undefined;
    if (this.#overflow === 'fail-closed') {
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'refused' });
      throw new EnclaveGateError('EG_DECISION_LOG_UNAVAILABLE', 'the decision log buffer is full; request refused');
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== onRoom);
        this.#options.metrics?.decisionLogEvents.inc({ outcome: 'refused' });
        reject(new EnclaveGateError('EG_DECISION_LOG_UNAVAILABLE', `the decision log buffer stayed full for ${this.#blockTimeoutMs} ms; request refused`));
      }, this.#blockTimeoutMs);
      const onRoom = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(onRoom);
      this.#schedule();
    });
  }

  /** Records a finished request. Cheap: one push; the work happens at flush. */
  record(entry: DecisionLogEntry): void {
    if (this.#closed) return;
    this.#pending.push(entry);
    if (this.#overflow === 'drop-oldest' && this.buffered > this.#maxBuffered) this.#dropOldest();
    if (this.#pending.length >= this.#batchEvents) this.#schedule();
  }

  #dropOldest(): void {
    let excess = this.buffered - this.#maxBuffered;
    // Undelivered batches first: they are already in the file sink, if there is one.
    for (const sink of this.#options.sinks) {
      if (excess <= 0) break;
      const dropped = sink.dropOldest?.(excess) ?? 0;
      excess -= dropped;
      if (dropped > 0) this.#options.metrics?.decisionLogEvents.inc({ outcome: 'dropped' }, dropped);
    }
    if (excess > 0) {
      const dropped = this.#pending.splice(0, excess).length;
      this.#droppedSinceFlush += dropped;
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'dropped' }, dropped);
    }
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.flush();
    });
  }

  /** Flushes what is waiting as one signed batch (or several of `batchEvents`). Serialised: one flush at a time. */
  flush(final = false): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushNow(final));
    return this.#flushing;
  }

  async #flushNow(final: boolean): Promise<void> {
    while (this.#pending.length > 0 || this.#droppedSinceFlush > 0 || final) {
      const entries = this.#pending.splice(0, this.#batchEvents);
      const isLast = final && this.#pending.length === 0;
      if (entries.length === 0 && this.#droppedSinceFlush === 0 && !isLast) break;
      const batch = this.#sign(entries, isLast);
      this.#options.metrics?.decisionLogBuffered.set(this.buffered);
      await Promise.all(
        this.#options.sinks.map(async (sink) => {
          try {
            await sink.write(batch);
            this.#options.metrics?.decisionLogBatches.inc({ sink: sink.name, outcome: 'ok' });
          } catch (err) {
            this.#options.metrics?.decisionLogBatches.inc({ sink: sink.name, outcome: 'failed' });
            this.#options.logger?.error({ sink: sink.name, err: describeThrown(err) }, 'decision log batch not written');
          }
        }),
      );
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'written' }, batch.events.length);
      if (isLast) break;
    }
    this.#wake();
  }

  /** Wakes blocked admissions while there is room. */
  #wake(): void {
    while (this.#waiters.length > 0 && this.buffered < this.#maxBuffered) this.#waiters.shift()!();
  }

  /** Chains and signs one batch. */
  #sign(entries: readonly DecisionLogEntry[], final: boolean): SignedBatch {
    const prev = this.#head;
    const firstSeq = this.#seq + 1;
    const header: AuditHeaderRecord = {
      type: 'header',
      version: AUDIT_LOG_VERSION,
      instance: this.signer.instance,
      alg: AUDIT_SIGNATURE_ALG,
      signing_key: this.signer.spki.toString('base64'),
      certificate: this.#options.certificate(),
      opened_at: new Date().toISOString(),
      next_seq: firstSeq,
      prev,
    };
    const events: AuditEventRecord[] = [];
    const eventLines: string[] = [];
    const push = (event: Record<string, unknown>): void => {
      const json = JSON.stringify(event);
      this.#seq += 1;
      this.#head = chainHash(this.#head, this.#seq, json);
      const record: AuditEventRecord = { type: 'event', seq: this.#seq, hash: this.#head, event };
      events.push(record);
      eventLines.push(`{"type":"event","seq":${this.#seq},"hash":"${this.#head}","event":${json}}`);
    };
    if (this.#droppedSinceFlush > 0) {
      push({ overflow: { dropped: this.#droppedSinceFlush, timestamp: rfc3339Nanos(Date.now()) } });
      this.#droppedSinceFlush = 0;
    }
    let maskFailures = 0;
    let maskFailure = '';
    const onMaskFailure = (why: string): void => {
      maskFailures += 1;
      maskFailure = why;
    };
    for (const entry of entries) push(toEvent(entry, this.#labels, this.#options.mask, onMaskFailure));
    if (maskFailures > 0) {
      // Counted and logged once per batch; the events themselves lost their whole input.
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'mask_failed' }, maskFailures);
      this.#options.logger?.warn({ events: maskFailures, reason: maskFailure }, 'decision log mask rule failed; the whole input of those events was erased');
    }
    const unsigned = {
      instance: this.signer.instance,
      first_seq: firstSeq,
      last_seq: this.#seq,
      prev,
      head: this.#head,
      signed_at: new Date().toISOString(),
      ...(final ? { final: true as const } : {}),
    };
    const sig = this.signer.sign(batchMessage(unsigned)).toString('base64');
    return { header, events, eventLines, batch: { type: 'batch', ...unsigned, sig } };
  }

  /** Flushes everything with a final signed batch and closes the sinks (SIGTERM). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush(true);
    for (const sink of this.#options.sinks) await sink.close();
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
