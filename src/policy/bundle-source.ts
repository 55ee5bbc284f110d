/**
 * Where policy bundles come from after start: a bundle file that is watched
 * (fs.watch on its directory, debounced, plus a periodic stat in case the
 * watcher misses an event: network file systems, some container mounts), or
 * an OPA bundle service polled over HTTP with ETag / If-None-Match, so an
 * unchanged bundle costs a 304 and no download.
 *
 * A source only delivers bytes. Verifying, loading and activating them (and
 * re-issuing the certificate) is the gateway's job (proxy/gateway.ts); what
 * goes wrong there comes back as `false` from `bundle()` so an HTTP source
 * forgets the ETag and downloads the bundle again next time.
 *
 * Sources never log bundle bytes; failures are reported with a reason from
 * {@link BundleFailureReason} for the metrics.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

import { request, type Dispatcher } from 'undici';

import { describeThrown, EnclaveGateError } from '../errors.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES } from './tar.js';

/** Why a bundle was not activated: the `reason` label of the failure metric. */
export type BundleFailureReason = 'download' | 'read' | 'archive' | 'signature' | 'bundle' | 'load' | 'certificate';

/** Maps an error from reading, verifying or loading a bundle to its reason. */
export function bundleFailureReason(err: unknown): BundleFailureReason {
  if (err instanceof EnclaveGateError) {
    const stage = err.details?.['stage'];
    if (stage === 'download' || stage === 'read' || stage === 'archive' || stage === 'signature' || stage === 'bundle' || stage === 'load') return stage;
    if (err.code === 'EG_CERT_ISSUE_FAILED' || err.code === 'EG_ATTESTATION_FAILED' || err.code === 'EG_ATTESTATION_UNAVAILABLE') return 'certificate';
  }
  return 'load';
}

/** What a source calls when it has news. */
export interface BundleHandlers {
  /**
   * A (possibly) new bundle. Resolves true when the bytes were dealt with for
   * good (activated, or equal to the active bundle, or refused for what they
   * are), false when the same bytes should be tried again later (e.g. the
   * certificate could not be re-issued).
   */
  bundle(bytes: Uint8Array, origin: string): Promise<boolean>;
  /** The source could not obtain a bundle (download or read failure). */
  failure(reason: BundleFailureReason, error: unknown): void;
}

/** A running origin of bundle updates. */
export interface BundleSource {
  /** For logs: the file path or URL. */
  readonly description: string;
  /** Reads the bundle once (at start). Throws EG_POLICY_LOAD_FAILED. */
  initial(): Promise<Uint8Array>;
  /** Starts watching / polling; news goes to `handlers`. */
  start(handlers: BundleHandlers): void;
  /** Checks now (a manual reload); resolves when that check is done. */
  check(): Promise<void>;
  /** Stops watching / polling and waits for a check in progress. */
  close(): Promise<void>;
}

function sourceFailed(stage: 'download' | 'read', message: string, cause?: unknown): EnclaveGateError {
  return new EnclaveGateError('EG_POLICY_LOAD_FAILED', message, { cause, details: { stage } });
}

/**
 * Runs `task` one at a time: a trigger while one runs schedules exactly one
 * more run after it (changes that arrive meanwhile are all seen by that run).
 */
function serialised(task: () => Promise<void>): { run: () => Promise<void>; idle: () => Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    do {
      again = false;
      await task();
    } while (again);
  };
  return {
    run: () => {
      if (running !== undefined) {
        again = true;
        return running;
      }
      running = loop().finally(() => {
        running = undefined;
      });
      return running;
    },
    idle: async () => {
      await running;
    },
  };
}

// ---------------------------------------------------------------------------
// File

/** Settings of {@link createFileBundleSource}. */
export interface FileBundleSourceOptions {
  readonly path: string;
  /** Watch for changes at all; false = read once at start. Default true. */
  readonly watch?: boolean;
  /** Quiet time after the last change event before the file is read. Default 500 ms. */
  readonly debounceMs?: number;
  /** Period of the stat fallback (mtime, size, inode). Default 10 s; 0 disables. */
  readonly statIntervalMs?: number;
  /** Files larger than this are refused without being read. Default 64 MiB + 1 MiB. */
  readonly maxBytes?: number;
}

/**
 * A bundle file. The directory is watched rather than the file, because the
 * usual way to replace a file atomically (write elsewhere, rename over it)
 * gives the path a new inode that a watch on the old one never reports.
 */
export function createFileBundleSource(options: FileBundleSourceOptions): BundleSource {
  const { path } = options;
  const debounceMs = options.debounceMs ?? 500;
  const statIntervalMs = options.statIntervalMs ?? 10_000;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES + 1024 * 1024;
  let handlers: BundleHandlers | undefined;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;
  let seen = ''; // "mtime:size:ino" of the last file read

  const signature = async (): Promise<string> => {
    const info = await stat(path);
    return `${info.mtimeMs}:${info.size}:${info.ino}`;
  };

  const read = async (): Promise<{ bytes: Uint8Array; sig: string }> => {
    try {
      const info = await stat(path);
      if (info.size > maxBytes) throw sourceFailed('read', `policy bundle ${path} is larger than ${maxBytes} bytes`);
      const bytes = await readFile(path);
      return { bytes, sig: `${info.mtimeMs}:${info.size}:${info.ino}` };
    } catch (err) {
      if (err instanceof EnclaveGateError) throw err;
      throw sourceFailed('read', `policy bundle ${path} cannot be read (${describeThrown(err)})`, err);
    }
  };

  const checker = serialised(async () => {
    if (closed || handlers === undefined) return;
    let current: string;
    try {
      current = await signature();
    } catch (err) {
      // The file may be mid-replacement; the next event or stat tick retries.
      if (seen !== 'missing') handlers.failure('read', sourceFailed('read', `policy bundle ${path} cannot be read (${describeThrown(err)})`, err));
      seen = 'missing';
      return;
    }
    if (current === seen) return;
    let result: { bytes: Uint8Array; sig: string };
    try {
      result = await read();
    } catch (err) {
      handlers.failure('read', err);
      return;
    }
    const done = await handlers.bundle(result.bytes, path);
    seen = done ? result.sig : '';
  });

  const trigger = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void checker.run(), debounceMs);
    debounce.unref();
  };

  return {
    description: path,
    async initial() {
      const { bytes, sig } = await read();
      seen = sig;
      return bytes;
    },
    start(h) {
      handlers = h;
      if (options.watch === false) return;
      const name = basename(path);
      try {
        watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
          if (filename === null || filename === name) trigger();
        });
        watcher.on('error', () => {
          // The stat fallback keeps working without the watcher.
          watcher?.close();
          watcher = undefined;
        });
      } catch {
        watcher = undefined;
      }
      if (statIntervalMs > 0) {
        poller = setInterval(() => void checker.run(), statIntervalMs);
        poller.unref();
      }
    },
    check: () => checker.run(),
    async close() {
      closed = true;
      clearTimeout(debounce);
      clearInterval(poller);
      watcher?.close();
      await checker.idle();
    },
  };
}

// ---------------------------------------------------------------------------
// HTTP bundle service

/** Settings of {@link createHttpBundleSource}. */
export interface HttpBundleSourceOptions {
  /** Full URL of the bundle resource (http or https). */
  readonly url: string;
  /** Mean time between polls. Default 60 s. */
  readonly intervalMs?: number;
  /** Each delay is the interval times a random factor in [1 - jitter, 1 + jitter]. Default 0.1. */
  readonly jitter?: number;
  /** Time allowed for one download (headers and body). Default 30 s. */
  readonly timeoutMs?: number;
  /** Downloads larger than this are aborted. Default 64 MiB + 1 MiB. */
  readonly maxBytes?: number;
  /** Extra request headers (e.g. authorization for the bundle service). */
  readonly headers?: Readonly<Record<string, string>>;
  /** undici dispatcher (tests, custom TLS trust). */
  readonly dispatcher?: Dispatcher;
  readonly random?: () => number;
}

/** An OPA bundle service endpoint, polled with ETag / If-None-Match. */
export function createHttpBundleSource(options: HttpBundleSourceOptions): BundleSource {
  const intervalMs = options.intervalMs ?? 60_000;
  const jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 1);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES + 1024 * 1024;
  const random = options.random ?? Math.random;
  // Never log the URL's userinfo or query (may hold credentials).
  const description = (() => {
    try {
      const u = new URL(options.url);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return '(invalid url)';
    }
  })();
  let etag: string | undefined;
  let handlers: BundleHandlers | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const abort = new AbortController();

  /** One conditional GET: the bytes and their ETag, or undefined on 304. */
  const download = async (conditional: boolean): Promise<{ bytes: Uint8Array; etag?: string } | undefined> => {
    const headers: Record<string, string> = { accept: 'application/gzip, application/vnd.openpolicyagent.bundles, */*', ...options.headers };
    if (conditional && etag !== undefined) headers['if-none-match'] = etag;
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(options.url, {
        method: 'GET',
        headers,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
    } catch (err) {
      throw sourceFailed('download', `policy bundle download from ${description} failed (${describeThrown(err)})`, err);
    }
    if (response.statusCode === 304) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw sourceFailed('download', `policy bundle download from ${description} answered ${response.statusCode}`);
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      response.body.destroy();
      throw sourceFailed('download', `policy bundle at ${description} is larger than ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) {
          response.body.destroy();
          throw sourceFailed('download', `policy bundle at ${description} is larger than ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof EnclaveGateError) throw err;
      throw sourceFailed('download', `policy bundle download from ${description} broke off (${describeThrown(err)})`, err);
    }
    const tag = response.headers['etag'];
    return { bytes: new Uint8Array(Buffer.concat(chunks)), ...(typeof tag === 'string' ? { etag: tag } : {}) };
  };

  const poller = serialised(async () => {
    if (closed || handlers === undefined) return;
    let result: { bytes: Uint8Array; etag?: string } | undefined;
    try {
      result = await download(true);
    } catch (err) {
      if (!closed) handlers.failure('download', err);
      return;
    }
    if (result === undefined) return; // 304: the active bundle is current
    const done = await handlers.bundle(result.bytes, description);
    etag = done ? result.etag : undefined;
  });

  const schedule = (): void => {
    if (closed) return;
    const delay = Math.max(0, Math.round(intervalMs * (1 + jitter * (2 * random() - 1))));
    timer = setTimeout(() => {
      void poller.run().finally(schedule);
    }, delay);
    timer.unref();
  };

  return {
    description,
    async initial() {
      const result = await download(false);
      if (result === undefined) throw sourceFailed('download', `policy bundle service ${description} answered 304 to an unconditional request`);
      etag = result.etag;
      return result.bytes;
    },
    start(h) {
      handlers = h;
      schedule();
    },
    check: () => poller.run(),
    async close() {
      closed = true;
      clearTimeout(timer);
      abort.abort();
      await poller.idle();
    },
  };
}
