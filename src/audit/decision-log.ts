/**
 * The decision log the enclave signs (docs/audit.md). The pipeline hands
 * every finished request to `record` once its response is over; `record`
 * turns it into an OPA decision-log event with the input masked and keeps
 * only that event's JSON text. A flush, at most every `flushIntervalMs` or
 * when `batchEvents` are waiting, chains the waiting events
 * (wire/audit-log.ts), signs the chain head once per batch with a key born
 * in this process, and hands the batch to the sinks (file, HTTP). Nothing a
 * request waits for hashes, signs, serialises or touches the disk.
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
import type { LogMaskResult } from '../policy/engine.js';
import type { RequestInput } from '../policy/input.js';
import {
  AUDIT_LOG_VERSION,
  AUDIT_SIGNATURE_ALG,
  auditKeyDigest,
  batchMessage,
  genesisHash,
  type AuditBatchRecord,
  type AuditHeaderRecord,
} from '../wire/audit-log.js';
import type { HashEntry } from '../wire/hash-entry.js';
import { DecisionIds } from './decision-ids.js';
import { EventLines, PendingEvents, type LinedEvent } from './event-lines.js';
import { checkedTime, eventObject, isDeeplyFrozen, loggedBundle, NOTHING_ERASED, rfc3339Nanos, writeEvent, writeUsualEvent, type EventParts, type LoggedBundle } from './event-json.js';
import { captureInput, erasePointers, maskedHeadersOf, type MaskedHeaders, type MaskOptions } from './mask.js';

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
  /** The request policy's input, when the request got that far. Masked and serialised at `record()`, never logged whole, not kept. */
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
  /** Each event's chain position and where its JSON text is in `lines`. */
  readonly events: readonly LinedEvent[];
  /**
   * The `event` records, one JSON line each ending in "\n", UTF-8: what a
   * file appends. Valid until the sinks' `write` promises settle: the buffer
   * is reused for a later batch, so a sink that needs the bytes longer copies them.
   */
  readonly lines: Buffer;
  readonly batch: AuditBatchRecord;
}

/** Where signed batches go. */
export interface DecisionLogSink {
  readonly name: 'file' | 'http';
  /** Takes a batch; resolves once it is stored (file) or queued (HTTP), and no longer reads `batch.lines`. */
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

/** The policy in force, as an entry carries it: the engine, or what tests give in its place. */
export interface LoggedPolicy {
  readonly revision: string;
  readonly digest: { readonly alg: string; readonly hex: string };
  /** Static pointers from bundle data `data.enclave_gate.log.mask`. */
  readonly logMask?: readonly string[];
  /** The bundle's `enclave_gate/log/mask` rule (PolicyEngine.evaluateLogMask); never throws. */
  evaluateLogMask?(event: Readonly<Record<string, unknown>>): LogMaskResult;
  /** The rule answers the same for the same `input.peer` (PolicyEngine.logMaskByPeer): asked once per connection. */
  readonly logMaskByPeer?: boolean;
}

/** Per policy in force: its `bundles` member, and its mask rule's answers by connection peer. */
interface PolicyFacts {
  readonly policy: LoggedPolicy;
  readonly bundle: LoggedBundle;
  readonly maskByPeer: WeakMap<object, LogMaskResult>;
}

const round = (ms: number): number => Math.round(ms * 1e6);

/**
 * Fewer finished requests than this wait one more turn of the event loop for
 * others before their events are written: under load a turn ends with three
 * or four, and a batch of about twice that is written with warmer caches.
 */
const WRITE_BATCH = 8;

/** A mask rule's answer when there is no rule: nothing more to erase. */
const NOTHING_MORE: LogMaskResult = Object.freeze({ pointers: Object.freeze([]) });

/** The signed decision log of one proxy process. */
export class DecisionLog {
  readonly signer: AuditSigner;
  readonly #options: DecisionLogOptions;
  readonly #batchEvents: number;
  readonly #maxBuffered: number;
  readonly #overflow: OverflowPolicy;
  readonly #blockTimeoutMs: number;
  readonly #labels: Readonly<Record<string, string>>;
  readonly #labelsJson: string;
  readonly #maskedHeaders: MaskedHeaders;
  /** What is worked out once per policy, for the last policy seen (policies change rarely). */
  #policyFacts: PolicyFacts | undefined;
  /** `decisionLog.mask.extra` has pointers: every event takes the general masking path. */
  readonly #hasExtraMask: boolean;
  /** Requests finished in this turn of the event loop, whose events are written at its end ({@link record}). */
  #finished: DecisionLogEntry[] = [];
  /** The finished requests have waited one turn for others ({@link #endOfTurn}). */
  #waitedTurn = false;
  readonly #decisionIds = new DecisionIds();
  /** `requested_by` JSON strings by connection peer ({@link #requestedBy}). */
  readonly #requesters = new WeakMap<object, { readonly address: string; readonly port: number; readonly json: Buffer }>();
  /** Events waiting for their batch: each one's JSON text, UTF-8; nothing of the request is kept. */
  readonly #pending = new PendingEvents();
  /** Events whose input was erased whole since the last batch, and the last reason: reported once per batch. */
  #maskFailures = 0;
  #maskFailure = '';
  /** Size of an `event` record in the last batch: how much room the next one's buffer starts with. */
  #bytesPerEvent = 1536;
  /** The records buffer of the last batch, once every sink is done with it: the next batch writes into it. */
  #spareLines: Buffer | undefined;
  /** Events dropped since the last flush (drop-oldest), recorded in the chain at the next flush. */
  #droppedSinceFlush = 0;
  #seq = 0;
  #head: string;
  #flushing: Promise<void> = Promise.resolve();
  /** A flush waiting for its turn of the event loop: of full batches only (`full`), or of everything waiting (`all`). */
  #scheduled: 'full' | 'all' | undefined;
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
    this.#labelsJson = JSON.stringify(this.#labels);
    this.#maskedHeaders = maskedHeadersOf(options.mask);
    this.#hasExtraMask = (options.mask?.extra?.length ?? 0) > 0;
    this.#head = genesisHash(this.signer.instance);
    this.#timer = setInterval(() => this.#schedule('all'), options.flushIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Events waiting: not yet flushed, plus those a sink has not delivered. */
  get buffered(): number {
    let n = this.#pending.length + this.#finished.length;
    for (const sink of this.#options.sinks) n += sink.pending ?? 0;
    return n;
  }

  /**
   * Called before a request is admitted. Undefined (go on) while there is
   * room; otherwise, by policy: a promise that resolves when there is room
   * (`block`), or a thrown 503 (`fail-closed`, or `block` past its timeout).
   */
  admit(): Promise<void> | undefined {
    // drop-oldest never holds a request back: it does not even count what waits (every request asks).
    if (this.#overflow === 'drop-oldest' || this.buffered < this.#maxBuffered) return undefined;
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
      this.#schedule('all');
    });
  }

  /**
   * Records a finished request (the pipeline calls it once the response is
   * over). The event is written at the end of this turn of the event loop,
   * together with those of the other requests that finish in it
   * ({@link #writeFinished}), or of the next turn when fewer than
   * {@link WRITE_BATCH} are waiting: written one by one between two requests'
   * work, with the caches and branch predictors the proxy had just used, the
   * same events cost the gate about 60 % more CPU per request (docs/audit.md, "Cost").
   * Never throws into the pipeline.
   */
  record(entry: DecisionLogEntry): void {
    if (this.#closed) return;
    if (this.#finished.push(entry) === 1) setImmediate(this.#endOfTurn);
  }

  /** Writes what finished, unless that is fewer than WRITE_BATCH and they have not yet waited a turn for others. */
  readonly #endOfTurn = (): void => {
    if (this.#finished.length > 0 && this.#finished.length < WRITE_BATCH && !this.#waitedTurn) {
      this.#waitedTurn = true;
      setImmediate(this.#endOfTurn);
      return;
    }
    this.#waitedTurn = false;
    this.#writeFinished();
  };

  /**
   * Writes the events of the requests finished since the last call. Each
   * event is masked and written as JSON text, which is all that waits for
   * the batch; chaining, signing and writing happen at flush. Keeping text
   * rather than the input means neither the body nor the request stays alive
   * until then, and the garbage collector has one small buffer per waiting
   * event to move instead of a graph of objects.
   */
  readonly #writeFinished = (): void => {
    const entries = this.#finished;
    if (entries.length === 0) return;
    // A new list first, so `buffered` (and with it drop-oldest) counts each entry once its event is written.
    this.#finished = [];
    for (const entry of entries) {
      try {
        this.#recordNow(entry);
      } catch (err) {
        // This runs from setImmediate, where a throw would end the process: the log must never do that.
        this.#options.logger?.error({ err: describeThrown(err) }, 'decision log event not handled');
      }
    }
  };

  #recordNow(entry: DecisionLogEntry): void {
    try {
      this.#write(entry);
    } catch (err) {
      // Only an entry the pipeline never builds (an invalid timestamp, a policy without a digest)
      // gets here; it must not fail the request it accounts for. Counted and logged instead.
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'dropped' });
      this.#options.logger?.error({ err: describeThrown(err) }, 'decision log event not written');
      return;
    }
    if (this.#overflow === 'drop-oldest' && this.buffered > this.#maxBuffered) this.#dropOldest();
    if (this.#pending.length >= this.#batchEvents) this.#schedule('full');
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
      const dropped = this.#pending.drop(excess);
      this.#droppedSinceFlush += dropped;
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'dropped' }, dropped);
    }
  }

  #schedule(what: 'full' | 'all'): void {
    if (this.#scheduled === 'all' || this.#scheduled === what) return;
    const first = this.#scheduled === undefined;
    this.#scheduled = what;
    if (!first) return;
    setImmediate(() => {
      const fullOnly = this.#scheduled === 'full';
      this.#scheduled = undefined;
      this.#flushing = this.#flushing.then(() => this.#flushNow(false, fullOnly));
    });
  }

  /** Flushes what is waiting as one signed batch (or several of `batchEvents`). Serialised: one flush at a time. */
  flush(final = false): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushNow(final, false));
    return this.#flushing;
  }

  /**
   * A flush never chases the events that come in while it writes: they wait
   * for a full batch of their own (or the interval), rather than each write
   * making the next, ever smaller, batch with its own signature and write.
   * Under load that chase made batches of one to six events, hundreds a
   * second, each paying a 37 µs signature. So `fullOnly` (a flush because a
   * batch filled up) writes full batches only, and any other flush writes
   * what was waiting when it began; the final flush writes everything.
   */
  async #flushNow(final: boolean, fullOnly: boolean): Promise<void> {
    // What has been recorded so far is part of this flush.
    this.#writeFinished();
    let due = final || fullOnly ? Number.POSITIVE_INFINITY : this.#pending.length;
    while ((due > 0 && this.#pending.length > 0) || this.#droppedSinceFlush > 0 || final) {
      if (fullOnly && this.#pending.length < this.#batchEvents && this.#droppedSinceFlush === 0) break;
      const count = Math.min(this.#pending.length, this.#batchEvents, due);
      due -= count;
      const isLast = final && this.#pending.length === count;
      if (count === 0 && this.#droppedSinceFlush === 0 && !isLast) break;
      const lines = new EventLines(this.#head, Math.ceil((count + 1) * this.#bytesPerEvent * 1.25), this.#spareLines);
      this.#spareLines = undefined;
      const batch = this.#sign(count, isLast, lines);
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
      // Every sink has settled, so none reads the records any more.
      this.#spareLines = lines.buffer;
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'written' }, lines.count);
      if (isLast) break;
    }
    this.#wake();
  }

  /** Wakes blocked admissions while there is room. */
  #wake(): void {
    while (this.#waiters.length > 0 && this.buffered < this.#maxBuffered) this.#waiters.shift()!();
  }

  /** Chains the oldest `count` waiting events (and an overflow event first, if some were dropped) into `lines`, and signs them. */
  #sign(count: number, final: boolean, lines: EventLines): SignedBatch {
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
    const push = (source: Buffer, start?: number, end?: number): void => {
      this.#seq += 1;
      lines.append(this.#seq, source, start, end);
    };
    if (this.#droppedSinceFlush > 0) {
      push(Buffer.from(JSON.stringify({ overflow: { dropped: this.#droppedSinceFlush, timestamp: rfc3339Nanos(Date.now()) } }), 'utf8'));
      this.#droppedSinceFlush = 0;
    }
    this.#pending.take(count, push);
    this.#head = lines.head;
    if (this.#maskFailures > 0) {
      // Counted and logged once per batch; the events themselves lost their whole input.
      this.#options.metrics?.decisionLogEvents.inc({ outcome: 'mask_failed' }, this.#maskFailures);
      this.#options.logger?.warn({ events: this.#maskFailures, reason: this.#maskFailure }, 'decision log mask rule failed; the whole input of those events was erased');
      this.#maskFailures = 0;
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
    const eventBytes = lines.bytes();
    if (lines.count > 0) this.#bytesPerEvent = eventBytes.length / lines.count;
    return {
      header,
      // Made only for a sink that reads it (HTTP): the file sink appends `lines` as they are.
      get events() {
        return lines.events;
      },
      lines: eventBytes,
      batch: { type: 'batch', ...unsigned, sig },
    };
  }

  /**
   * Adds an entry's event to the waiting ones. The usual event (nothing to
   * erase beyond the built-in mask) is written as bytes straight into the
   * waiting buffer; any other is masked by {@link #masked} first. One whose
   * input does not serialise is written without its input.
   */
  #write(entry: DecisionLogEntry): void {
    const policy = entry.policy;
    const facts = policy === undefined ? undefined : this.#factsOf(policy);
    const parts = this.#partsOf(entry, facts);
    const input = entry.input;
    const known = input === undefined ? undefined : this.#maskOfPeer(facts, input.peer);
    try {
      if (input !== undefined && known !== undefined && known.pointers.length === 0) {
        const w = this.#pending.begin();
        writeUsualEvent(w, parts, input as unknown as Readonly<Record<string, unknown>>, this.#maskedHeaders);
        this.#pending.commit(w);
      } else {
        const masked = this.#masked(entry, parts, known);
        const w = this.#pending.begin();
        writeEvent(w, masked);
        this.#pending.commit(w);
      }
    } catch (err) {
      // Nothing was added: an input that does not serialise (never, by the input contract) costs the event its input.
      this.#maskFailed(`the event does not serialise (${describeThrown(err)})`);
      this.#pending.pushWith((w) => writeEvent(w, { ...parts, input: undefined, erased: ['/input'] }));
    }
  }

  /**
   * OPA's `requested_by`, "address:port", as the bytes of its JSON string:
   * made once per connection peer (proxy/input.ts makes one per connection
   * and caller), as text for a request without one.
   */
  #requestedBy(entry: DecisionLogEntry): string | Buffer {
    const peer = entry.input?.peer;
    if (typeof peer !== 'object' || peer === null) return `${entry.address}:${entry.port}`;
    const known = this.#requesters.get(peer);
    if (known !== undefined && known.address === entry.address && known.port === entry.port) return known.json;
    const json = Buffer.from(JSON.stringify(`${entry.address}:${entry.port}`), 'utf8');
    this.#requesters.set(peer, { address: entry.address, port: entry.port, json });
    return json;
  }

  #partsOf(entry: DecisionLogEntry, facts: PolicyFacts | undefined): EventParts {
    return {
      decisionId: this.#decisionIds.nextJson(),
      labelsJson: this.#labelsJson,
      labels: this.#labels,
      input: undefined,
      result: entry.result,
      erased: NOTHING_ERASED,
      requestedBy: this.#requestedBy(entry),
      timestampMs: checkedTime(entry.timestamp),
      bundle: facts?.bundle,
      policyNs: round(entry.policyMs),
      totalNs: round(entry.totalMs),
      requestId: entry.requestId,
      outcome: entry.outcome,
      code: entry.code,
      status: entry.status,
      reasons: entry.reasons,
    };
  }

  /**
   * The parts of an event that takes the general path, masked in three
   * steps: the built-in erasure (body, query, credential headers; mask.ts),
   * `decisionLog.mask` and the bundle's static pointers; then the bundle's
   * mask rule (`known`: its answer for this peer, when {@link #maskOfPeer}
   * had it), given that event as its input (OPA gives
   * `data.system.log.mask` the event too), and its pointers erased as well.
   * The rule so never sees a body, a query or a credential. A rule that
   * fails costs the event its whole input.
   */
  #masked(entry: DecisionLogEntry, parts: EventParts, known: LogMaskResult | undefined): EventParts {
    const policy = entry.policy;
    const { input, erased } =
      entry.input === undefined
        ? { input: { method: entry.method, path: entry.url.split('?', 1)[0], peer: { address: entry.address, port: entry.port } }, erased: [] }
        : captureInput(entry.input as unknown as Readonly<Record<string, unknown>>, this.#maskedHeaders);
    const extra = this.#options.mask?.extra;
    if (extra !== undefined && extra.length > 0) erasePointers(input, extra, erased);
    if (policy?.logMask !== undefined && policy.logMask.length > 0) erasePointers(input, policy.logMask, erased);
    const masked = { ...parts, input, erased };
    if (policy?.evaluateLogMask !== undefined) {
      const ruled = known ?? policy.evaluateLogMask(eventObject(masked));
      if (ruled.failure !== undefined) this.#maskFailed(ruled.failure);
      if (ruled.pointers.includes('/input')) return { ...parts, input: undefined, erased: [...erased.filter((p) => !p.startsWith('/input/')), '/input'] };
      // The rule has answered: the event it was given (which holds `input` and `erased`) is not read again.
      if (ruled.pointers.length > 0) erasePointers(input, ruled.pointers, erased);
    }
    return masked;
  }

  #maskFailed(why: string): void {
    this.#maskFailures += 1;
    this.#maskFailure = why;
  }

  /**
   * The mask rule's answer for this event, known without building the
   * event: when nothing else is erased before the rule sees it (no
   * configured or bundle pointers), and the rule is absent or reads only
   * `input.peer` of a peer frozen all the way down (proxy/input.ts makes one
   * per connection and caller). Such an answer, asked once, holds for every
   * event with that peer. Undefined: the rule must be asked with the
   * whole event (the general path, which also counts a failing rule).
   */
  #maskOfPeer(facts: PolicyFacts | undefined, peer: unknown): LogMaskResult | undefined {
    if (this.#hasExtraMask) return undefined;
    if (facts === undefined) return NOTHING_MORE;
    const { policy } = facts;
    if (policy.logMask !== undefined && policy.logMask.length > 0) return undefined;
    if (policy.evaluateLogMask === undefined) return NOTHING_MORE;
    if (policy.logMaskByPeer !== true || typeof peer !== 'object' || peer === null || !isDeeplyFrozen(peer)) return undefined;
    let ruled = facts.maskByPeer.get(peer);
    if (ruled === undefined) {
      // The rule reads nothing but input.peer, so this is the answer the whole event would get.
      ruled = policy.evaluateLogMask({ input: { peer } });
      if (ruled.failure !== undefined) return undefined;
      facts.maskByPeer.set(peer, ruled);
    }
    return ruled;
  }

  #factsOf(policy: LoggedPolicy): PolicyFacts {
    if (this.#policyFacts?.policy !== policy) {
      this.#policyFacts = { policy, bundle: loggedBundle(policy.revision, `${policy.digest.alg}:${policy.digest.hex}`), maskByPeer: new WeakMap() };
    }
    return this.#policyFacts;
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
