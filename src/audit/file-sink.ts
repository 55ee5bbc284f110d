/**
 * The decision log's local file (`--decision-log PATH`; docs/audit.md): JSON
 * Lines, appended one signed batch at a time, rotated by size. Every file
 * starts with a header record, so each one verifies on its own; `PATH` is the
 * newest, `PATH.1` the one before it, up to `PATH.<maxFiles>`. A file left by
 * an earlier process is rotated away at start, so one file holds one instance.
 *
 * A batch is one `writev` of its records and its batch line on the file
 * descriptor, run by libuv's thread pool (nothing synchronous on the event
 * loop). The log hands over one batch at a time and waits for it, so writes
 * never overlap. A write stream did the same with about 0.3 µs more CPU per
 * event (its buffering and events, per batch of a few hundred KiB).
 */
import { existsSync, close, open as openFd, writev } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { EnclaveGateError } from '../errors.js';
import type { DecisionLogSink, SignedBatch } from './decision-log.js';

/** Settings of {@link FileSink}. */
export interface FileSinkOptions {
  readonly path: string;
  /** A file is rotated once it would grow beyond this. */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly maxFiles: number;
}

const openAppend = (path: string): Promise<number> =>
  new Promise((resolve, reject) => openFd(path, 'a', 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));

const closeFd = (fd: number): Promise<void> => new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));

/** Writes all of `chunks` at the end of the file (opened to append), however many calls that takes. */
function writeAll(fd: number, chunks: readonly Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (pending: readonly Buffer[]): void => {
      writev(fd, pending, (err, written) => {
        if (err) return reject(err);
        // A regular file takes everything at once; a short write goes on where it stopped.
        let rest = written;
        const left: Buffer[] = [];
        for (const chunk of pending) {
          if (rest >= chunk.length) rest -= chunk.length;
          else {
            left.push(rest > 0 ? chunk.subarray(rest) : chunk);
            rest = 0;
          }
        }
        if (left.length === 0) resolve();
        else next(left);
      });
    };
    next(chunks);
  });
}

export class FileSink implements DecisionLogSink {
  readonly name = 'file' as const;
  readonly #options: FileSinkOptions;
  /** The open file, once the first batch since start or rotation has written its header. */
  #fd: number | undefined;
  #bytes = 0;
  /** A write failed: the next batch starts a file of its own ({@link write}). */
  #startAfresh = false;

  private constructor(options: FileSinkOptions) {
    this.#options = options;
  }

  /** Opens the sink; an existing file at `path` is rotated away first. */
  static async open(options: FileSinkOptions): Promise<FileSink> {
    const sink = new FileSink(options);
    try {
      await sink.#rotateIfWritten();
      // Fail at start, not silently at the first batch, when the file cannot be written.
      await (await open(options.path, 'a', 0o600)).close();
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `decisionLog.path: cannot prepare ${options.path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
    return sink;
  }

  /** Rotates `PATH` away when it is a file with something in it (never a device such as /dev/stdout). */
  async #rotateIfWritten(): Promise<void> {
    const path = this.#options.path;
    if (!existsSync(path)) return;
    const info = await stat(path);
    if (info.isFile() && info.size > 0) await this.#shift();
  }

  /** PATH.(n-1) → PATH.n … PATH → PATH.1; the oldest beyond maxFiles is deleted. */
  async #shift(): Promise<void> {
    const { path, maxFiles } = this.#options;
    await rm(`${path}.${maxFiles}`, { force: true });
    for (let i = maxFiles - 1; i >= 1; i -= 1) {
      if (existsSync(`${path}.${i}`)) await rename(`${path}.${i}`, `${path}.${i + 1}`);
    }
    if (maxFiles >= 1) await rename(path, `${path}.1`);
    else await rm(path, { force: true });
  }

  /**
   * Appends the batch: its records and its batch line, after the header when
   * the file is new. A failed write is thrown (the log counts the batch as
   * failed) and the file is closed. Part of that batch may be in the file,
   * ending in a cut line, so the next batch rotates it away and starts a file
   * of its own: the cut stays the last line of the old file (a parse error
   * there and a gap in the sequence, which is what happened), never followed
   * by a header in the middle of a file, which `audit verify` reports as an
   * insertion.
   */
  async write(signed: SignedBatch): Promise<void> {
    const batchLine = Buffer.from(`${JSON.stringify(signed.batch)}\n`, 'utf8');
    const size = signed.lines.length + batchLine.length;
    if (this.#fd !== undefined && this.#bytes > 0 && this.#bytes + size > this.#options.maxBytes) {
      await this.#closeFile();
      await this.#shift();
    }
    if (this.#startAfresh) {
      await this.#rotateIfWritten();
      this.#startAfresh = false;
    }
    const chunks: Buffer[] = [];
    if (this.#fd === undefined) {
      this.#fd = await openAppend(this.#options.path);
      const header = Buffer.from(`${JSON.stringify(signed.header)}\n`, 'utf8');
      this.#bytes = header.length;
      chunks.push(header);
    }
    if (signed.lines.length > 0) chunks.push(signed.lines);
    chunks.push(batchLine);
    this.#bytes += size;
    try {
      // The records' buffer is reused for a later batch once this resolves (decision-log.ts): it resolves once they are written.
      await writeAll(this.#fd, chunks);
    } catch (err) {
      await this.#closeFile().catch(() => undefined);
      this.#startAfresh = true;
      throw err;
    }
  }

  async #closeFile(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await closeFd(fd);
  }

  async close(): Promise<void> {
    await this.#closeFile();
  }
}
