/**
 * Uploads signed decision-log batches to an HTTP service in OPA's
 * decision-log upload format: `POST <url>` with a gzip'd JSON array of
 * events (`content-encoding: gzip`). Each event carries its place in the
 * chain as `enclave_gate_chain: {seq, hash}` (the hash covers the event
 * without that key), and the request carries the batch record, signature
 * included, base64 in `x-enclave-gate-batch` (docs/audit.md).
 *
 * Batches wait in a queue while the service is down, retried with backoff;
 * the queue counts against the decision log's buffer, whose overflow policy
 * decides what happens when it is full.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import type { DecisionLogSink, SignedBatch } from './decision-log.js';

const gzipAsync = promisify(gzip);

/** Settings of {@link HttpSink}. */
export interface HttpSinkOptions {
  readonly url: string;
  /** Extra CA (PEM) trusted for an https URL. */
  readonly ca?: string;
  readonly timeoutMs: number;
  /** First retry delay; doubles up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long close() keeps trying to deliver what is queued. */
  readonly closeDeadlineMs?: number;
  readonly onFailure?: (reason: string) => void;
}

interface Upload {
  readonly events: number;
  readonly body: Buffer;
  readonly batch: string;
}

export class HttpSink implements DecisionLogSink {
  readonly name = 'http' as const;
  readonly #options: HttpSinkOptions;
  readonly #dispatcher: Dispatcher;
  readonly #queue: Upload[] = [];
  #pending = 0;
  #sending = false;
  #backoffMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Uploads accepted by the service (tests, diagnostics). */
  delivered = 0;

  constructor(options: HttpSinkOptions) {
    this.#options = options;
    this.#backoffMs = options.minBackoffMs ?? 500;
    this.#dispatcher = new Agent({ connect: options.ca === undefined ? {} : { ca: options.ca }, connections: 2 });
  }

  get pending(): number {
    return this.#pending;
  }

  async write(signed: SignedBatch): Promise<void> {
    if (signed.events.length === 0) return;
    const body = await gzipAsync(uploadJson(signed));
    this.#queue.push({ events: signed.events.length, body, batch: Buffer.from(JSON.stringify(signed.batch)).toString('base64') });
    this.#pending += signed.events.length;
    this.#kick();
  }

  dropOldest(n: number): number {
    let dropped = 0;
    // Never the upload in flight (index 0 while sending).
    const start = this.#sending ? 1 : 0;
    while (dropped < n && this.#queue.length > start) {
      const [upload] = this.#queue.splice(start, 1);
      dropped += upload!.events;
      this.#pending -= upload!.events;
    }
    return dropped;
  }

  #kick(): void {
    if (this.#sending || this.#timer !== undefined || this.#queue.length === 0) return;
    this.#sending = true;
    void this.#sendHead().finally(() => {
      this.#sending = false;
    });
  }

  async #sendHead(): Promise<void> {
    while (this.#queue.length > 0) {
      const upload = this.#queue[0]!;
      let reason: string | undefined;
      try {
        const res = await request(this.#options.url, {
          method: 'POST',
          dispatcher: this.#dispatcher,
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-enclave-gate-batch': upload.batch },
          body: upload.body,
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.timeoutMs,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          if (this.#queue[0] === upload) this.#queue.shift();
          this.#pending -= upload.events;
          this.delivered += 1;
          this.#backoffMs = this.#options.minBackoffMs ?? 500;
          continue;
        }
        reason = `status ${res.statusCode}`;
      } catch (err) {
        reason = (err as { code?: string }).code ?? 'error';
      }
      this.#options.onFailure?.(reason);
      if (this.#closed) return;
      const delay = this.#backoffMs;
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs ?? 30_000);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, delay);
      this.#timer.unref();
      return;
    }
  }

  async close(): Promise<void> {
    const deadline = Date.now() + (this.#options.closeDeadlineMs ?? 5000);
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0 && Date.now() < deadline) {
      if (!this.#sending) this.#kick();
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    }
    this.#closed = true;
    await this.#dispatcher.close();
  }
}

/**
 * The upload: a JSON array of the batch's OPA events, each with its chain
 * position added as its last member, spliced into the event's text as the
 * file has it (an event is never an empty object), without parsing or
 * serialising it again.
 */
function uploadJson(signed: SignedBatch): Buffer {
  const pieces: Buffer[] = [];
  for (const [i, { seq, hash, start, end }] of signed.events.entries()) {
    pieces.push(Buffer.from(i === 0 ? '[' : ','), signed.lines.subarray(start, end - 1), Buffer.from(`,"enclave_gate_chain":{"seq":${seq},"hash":"${hash}"}}`));
  }
  pieces.push(Buffer.from(']'));
  return Buffer.concat(pieces);
}
