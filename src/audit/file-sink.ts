/**
 * The decision log's local file (`--decision-log PATH`; docs/audit.md): JSON
 * Lines, appended one signed batch at a time through a write stream (no
 * synchronous writes), rotated by size. Every file starts with a header
 * record, so each one verifies on its own; `PATH` is the newest, `PATH.1`
 * the one before it, up to `PATH.<maxFiles>`. A file left by an earlier
 * process is rotated away at start, so one file holds one instance.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
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

export class FileSink implements DecisionLogSink {
  readonly name = 'file' as const;
  readonly #options: FileSinkOptions;
  #stream: WriteStream | undefined;
  #bytes = 0;
  /** The stream's last error: later writes fail with it (counted as failed batches) until the file is reopened. */
  #error: Error | undefined;

  private constructor(options: FileSinkOptions) {
    this.#options = options;
  }

  /** Opens the sink; an existing file at `path` is rotated away first. */
  static async open(options: FileSinkOptions): Promise<FileSink> {
    const sink = new FileSink(options);
    try {
      if (existsSync(options.path) && (await stat(options.path)).size > 0) await sink.#shift();
      // Fail at start, not silently at the first batch, when the file cannot be written.
      await (await open(options.path, 'a', 0o600)).close();
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `decisionLog.path: cannot prepare ${options.path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
    return sink;
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

  async #write(stream: WriteStream, data: string | Buffer): Promise<void> {
    if (!stream.write(data)) await once(stream, 'drain');
  }

  async write(signed: SignedBatch): Promise<void> {
    if (this.#error !== undefined) {
      const error = this.#error;
      // Try a fresh stream next time.
      this.#error = undefined;
      this.#stream = undefined;
      throw error;
    }
    const batchLine = `${JSON.stringify(signed.batch)}\n`;
    const size = signed.lines.length + Buffer.byteLength(batchLine);
    if (this.#stream !== undefined && this.#bytes > 0 && this.#bytes + size > this.#options.maxBytes) {
      await this.#closeStream();
      await this.#shift();
    }
    if (this.#stream === undefined) {
      this.#stream = createWriteStream(this.#options.path, { flags: 'a', mode: 0o600 });
      this.#stream.on('error', (err) => {
        // Must not crash the process; the next write reports it.
        this.#error = err;
      });
      const header = `${JSON.stringify(signed.header)}\n`;
      this.#bytes = Buffer.byteLength(header);
      await this.#write(this.#stream, header);
    }
    this.#bytes += size;
    // One append: the events (already UTF-8) and the batch record, written together.
    const stream = this.#stream;
    stream.cork();
    // The records' buffer is reused for a later batch once this resolves (decision-log.ts): wait until it is written.
    const linesWritten =
      signed.lines.length > 0 ? new Promise<void>((resolve, reject) => stream.write(signed.lines, (err) => (err ? reject(err) : resolve()))) : undefined;
    const written = this.#write(stream, batchLine);
    stream.uncork();
    await Promise.all([linesWritten, written]);
  }

  async #closeStream(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined) return;
    const finished = once(stream, 'finish');
    stream.end();
    await finished;
  }

  async close(): Promise<void> {
    await this.#closeStream();
  }
}
