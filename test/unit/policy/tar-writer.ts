/**
 * A minimal ustar/PAX writer for tests, able to produce the malformed archives
 * (traversal, links, bad checksums, truncation) a real tar tool refuses to.
 */
import { gzipSync } from 'node:zlib';

/** One archive entry. */
export interface TarEntry {
  readonly name: string;
  readonly data?: Uint8Array | string;
  /** Type flag; default "0" (regular file). */
  readonly type?: string;
  /** ustar prefix field. */
  readonly prefix?: string;
  /** PAX records written in an "x" header before this entry. */
  readonly pax?: Readonly<Record<string, string>>;
  /** Size written into the header instead of the data length. */
  readonly sizeField?: number;
  /** Corrupt the header checksum. */
  readonly badChecksum?: boolean;
}

function put(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > length) throw new Error(`field too long: ${text}`);
  header.set(bytes, offset);
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(entry: TarEntry, size: number): Uint8Array {
  const h = new Uint8Array(512);
  put(h, 0, 100, entry.name);
  put(h, 100, 8, '0000644\0');
  put(h, 108, 8, '0000000\0');
  put(h, 116, 8, '0000000\0');
  put(h, 124, 12, octal(entry.sizeField ?? size, 12));
  put(h, 136, 12, octal(0, 12));
  put(h, 156, 1, entry.type ?? '0');
  put(h, 257, 6, 'ustar\0');
  put(h, 263, 2, '00');
  if (entry.prefix !== undefined) put(h, 345, 155, entry.prefix);
  put(h, 148, 8, '        ');
  let sum = 0;
  for (const b of h) sum += b;
  if (entry.badChecksum) sum += 1;
  put(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function paxRecords(records: Readonly<Record<string, string>>): Uint8Array {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (String(length).length + Buffer.byteLength(body) !== length) length++;
    out += `${length}${body}`;
  }
  return Buffer.from(out, 'utf8');
}

function padded(data: Uint8Array): Uint8Array[] {
  const pad = (512 - (data.length % 512)) % 512;
  return [data, new Uint8Array(pad)];
}

/** Builds an uncompressed tar; `end: false` leaves out the end-of-archive marker. */
export function tar(entries: readonly TarEntry[], options: { end?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry.pax !== undefined) {
      const records = paxRecords(entry.pax);
      parts.push(header({ name: 'PaxHeader', type: 'x' }, records.length), ...padded(records));
    }
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : (entry.data ?? new Uint8Array(0));
    parts.push(header(entry, data.length), ...padded(data));
  }
  if (options.end !== false) parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

/** Builds a gzip-compressed tar. */
export function tarGz(entries: readonly TarEntry[], options: { end?: boolean } = {}): Uint8Array {
  return gzipSync(tar(entries, options));
}
