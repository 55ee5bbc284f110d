/**
 * One call to the model server through undici's `dispatch`, with a response
 * body the pipeline reads the way each answer needs: a JSON answer is
 * collected straight into a Buffer, a stream becomes a Readable only when
 * one is asked for.
 *
 * Why not undici's `request()`: it wraps every response body in a Readable
 * stream (and the handler in an AsyncResource) and listens on the abort
 * signal per request; for a buffered 600-byte answer that machinery cost
 * about 14 us of CPU per request in bench/ (`request()` + `arrayBuffer()`
 * against this handler, in a plain proxy). The client's going away aborts
 * the call through {@link abortUpstreamOf} instead of a signal listener.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { EnclaveGateError } from '../errors.js';
import { upstreamError } from './forward.js';

/** Response headers as undici parses them: lower-case names, repeated ones as arrays. */
export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** The model server's answer once its headers are in. */
export interface UpstreamAnswer {
  readonly statusCode: number;
  readonly headers: UpstreamHeaders;
  readonly body: UpstreamBody;
}

/**
 * Bytes of body held (before anyone has said how to read it, or in a
 * streamed body's buffer) before the upstream is paused: undici's own.
 */
const HIGH_WATER = 64 * 1024;

/**
 * Where the client side of an exchange keeps the function that aborts its
 * upstream call: set while a call is in flight, called when the client goes
 * away (pipeline.ts).
 */
export interface AbortsUpstream {
  abortUpstream?: ((reason: Error) => void) | undefined;
}

/** Aborts the upstream call `holder` has in flight, if any. */
export function abortUpstreamOf(holder: AbortsUpstream, reason: Error): void {
  const abort = holder.abortUpstream;
  holder.abortUpstream = undefined;
  abort?.(reason);
}

type Mode = 'pending' | 'collect' | 'stream' | 'discard';

/**
 * A response body as it arrives. Exactly one of `readAll`, `stream` or
 * `discard` is called, once; chunks that arrive before that are kept
 * (bounded: the upstream is paused past {@link HIGH_WATER}).
 */
export class UpstreamBody {
  #mode: Mode = 'pending';
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #error: Error | undefined;
  #limit = Infinity;
  #collected: { resolve(body: Buffer): void; reject(err: EnclaveGateError): void } | undefined;
  #readable: Readable | undefined;
  readonly #controller: Dispatcher.DispatchController;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  /** The whole body; fails with EG_UPSTREAM_RESPONSE_TOO_LARGE past `limit` bytes (the call is then aborted). */
  readAll(limit: number): Promise<Buffer> {
    this.#take('collect');
    this.#limit = limit;
    if (this.#size > limit) return Promise.reject(this.#tooLarge());
    if (this.#error !== undefined) return Promise.reject(upstreamError(this.#error));
    if (this.#ended) return Promise.resolve(this.#joined());
    this.#controller.resume();
    return new Promise((resolve, reject) => {
      this.#collected = { resolve, reject };
    });
  }

  /** The body as a Readable with backpressure; destroying it aborts the call. */
  stream(): Readable {
    this.#take('stream');
    const controller = this.#controller;
    const readable = new Readable({
      // As undici's own body streams. With Node's 16 KiB default the
      // upstream was paused and resumed four times as often, and a stalled
      // client then left about 8 MB more queued on the upstream connection
      // (test/integration/stream-policy.test.ts, "backpressure").
      highWaterMark: HIGH_WATER,
      read: () => controller.resume(),
      destroy: (err, callback) => {
        if (!this.#ended && !controller.aborted) controller.abort(err ?? new Error('response body destroyed'));
        callback(err);
      },
    });
    this.#readable = readable;
    for (const chunk of this.#chunks) readable.push(chunk);
    this.#chunks = [];
    if (this.#error !== undefined) readable.destroy(this.#error);
    else if (this.#ended) readable.push(null);
    return readable;
  }

  /** Drops the body: the call is aborted if it has not finished. */
  discard(): void {
    this.#take('discard');
    this.#chunks = [];
    if (!this.#ended && this.#error === undefined && !this.#controller.aborted) this.#controller.abort(new Error('response body discarded'));
  }

  /** Discards the body if nobody took it; a no-op otherwise. */
  release(): void {
    if (this.#mode === 'pending') this.discard();
  }

  #take(mode: Mode): void {
    if (this.#mode !== 'pending') throw new Error(`upstream body already taken (${this.#mode})`);
    this.#mode = mode;
  }

  #joined(): Buffer {
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size);
  }

  #tooLarge(): EnclaveGateError {
    this.#chunks = [];
    if (!this.#ended && !this.#controller.aborted) this.#controller.abort(new Error('response body too large'));
    return new EnclaveGateError('EG_UPSTREAM_RESPONSE_TOO_LARGE', `model server response exceeds ${this.#limit} bytes`, { details: { limit: this.#limit } });
  }

  /** A chunk from undici. */
  data(chunk: Buffer): void {
    switch (this.#mode) {
      case 'pending':
        this.#chunks.push(chunk);
        this.#size += chunk.length;
        if (this.#size >= HIGH_WATER) this.#controller.pause();
        return;
      case 'collect':
        if (this.#collected === undefined) return;
        this.#size += chunk.length;
        if (this.#size > this.#limit) {
          const { reject } = this.#collected;
          this.#collected = undefined;
          reject(this.#tooLarge());
          return;
        }
        this.#chunks.push(chunk);
        return;
      case 'stream':
        if (!this.#readable!.push(chunk)) this.#controller.pause();
        return;
      case 'discard':
        return;
    }
  }

  /** The body ended. */
  end(): void {
    this.#ended = true;
    if (this.#mode === 'collect' && this.#collected !== undefined) {
      const { resolve } = this.#collected;
      this.#collected = undefined;
      resolve(this.#joined());
    } else if (this.#mode === 'stream') {
      this.#readable!.push(null);
    }
  }

  /** The call failed after its headers arrived. */
  fail(err: Error): void {
    this.#error = err;
    if (this.#mode === 'collect' && this.#collected !== undefined) {
      const { reject } = this.#collected;
      this.#collected = undefined;
      reject(upstreamError(err));
    } else if (this.#mode === 'stream' && !this.#readable!.destroyed) {
      this.#readable!.destroy(err);
    }
  }
}

/**
 * Sends `options` through `dispatcher`; resolves with the answer once its
 * status and headers are in (1xx answers are skipped), rejects with the
 * catalogue's upstream error when the call fails before that. `client` holds
 * the abort function while the call is in flight.
 */
export function callUpstream(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, client: AbortsUpstream & { readonly aborted?: boolean }): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    let body: UpstreamBody | undefined;
    const settled = (): void => {
      client.abortUpstream = undefined;
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        if (client.aborted === true) {
          controller.abort(new Error('the client went away'));
          return;
        }
        client.abortUpstream = (reason) => controller.abort(reason);
      },
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return;
        body = new UpstreamBody(controller);
        resolve({ statusCode, headers: headers as UpstreamHeaders, body });
      },
      onResponseData(_controller, chunk) {
        body?.data(chunk);
      },
      onResponseEnd() {
        settled();
        body?.end();
      },
      onResponseError(_controller, err) {
        settled();
        if (body === undefined) reject(upstreamError(err));
        else body.fail(err);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      settled();
      reject(upstreamError(err));
    }
  });
}
