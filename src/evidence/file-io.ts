/**
 * Reading and writing kernel pseudo-files (configfs attributes, Gramine's
 * /dev/attestation). `fs.readFile` is wrong for them: it trusts st_size,
 * and pseudo-files report a placeholder size (configfs says 4096 for every
 * attribute), so a 5 KB TDX quote would come back cut at 4096 bytes. These
 * helpers read until EOF, with a cap, and write with O_WRONLY only (no
 * O_CREAT/O_TRUNC: a missing attribute must fail, not become a new file).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoError } from './device-errors.js';

const CHUNK = 16 * 1024;

/**
 * Reads `path` to EOF. More than `maxBytes` fails with an EFBIG errno error,
 * as the kernel itself does for an outblob over TSM_OUTBLOB_MAX.
 */
export async function readPseudoFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw errnoError('EFBIG', `more than ${maxBytes} bytes`, path);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  } finally {
    await handle.close();
  }
}

/**
 * Writes all of `data` to an existing pseudo-file. configfs commits a binary
 * attribute when the file is closed, so errors from close (EBUSY, EINVAL)
 * are the device's answer and are propagated, not swallowed.
 */
export async function writePseudoFile(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, constants.O_WRONLY);
  let closed = false;
  try {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
      if (bytesWritten === 0) throw errnoError('EIO', 'device accepted no bytes', path);
      offset += bytesWritten;
    }
    closed = true;
    await handle.close();
  } finally {
    if (!closed) await handle.close().catch(() => undefined);
  }
}
