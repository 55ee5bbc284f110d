/**
 * A small, strict reader for gzip-compressed tar archives (OPA bundles).
 *
 * Bundles are policy inputs an attacker may tamper with on disk or on the way
 * from a bundle server, so the reader is deliberately narrow: regular files
 * and directories only (no links, devices or FIFOs), ustar and PAX `x`/`g`
 * headers, verified header checksums, normalised paths with no `..` or empty
 * segments, no duplicate paths, and hard caps on entries and on the total
 * uncompressed size (the gzip stream itself is inflated with a cap, so a
 * "zip bomb" stops at the limit rather than filling memory).
 */
import { gunzipSync } from 'node:zlib';

import { EnclaveGateError } from '../errors.js';

/** Default cap on the uncompressed archive (and so on every file in it). */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;
/** Default cap on the number of archive entries. */
export const DEFAULT_MAX_ENTRIES = 10_000;

/** Limits applied while reading an archive. */
export interface TarLimits {
  /** Cap on the inflated size in bytes. Default {@link DEFAULT_MAX_UNCOMPRESSED_BYTES}. */
  readonly maxUncompressedBytes?: number;
  /** Cap on entries (headers included). Default {@link DEFAULT_MAX_ENTRIES}. */
  readonly maxEntries?: number;
}

/**
 * Files of an archive keyed by normalised path: a leading "/", "/" between
 * segments, no "." or ".." segments, e.g. "/policy.wasm", "/a/b/data.json".
 * This is also how OPA spells paths inside a bundle.
 */
export type ArchiveFiles = ReadonlyMap<string, Uint8Array>;

const BLOCK = 512;
const TYPE_FILE = new Set(['0', '\0', '7']);
const TYPE_DIRECTORY = '5';
const TYPE_PAX = 'x';
const TYPE_PAX_GLOBAL = 'g';
/** Control characters and backslashes have no business in a bundle path. */
function hasBadPathChar(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** A path as it may appear in an error message: quoted and capped. */
function show(path: string): string {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

function fail(message: string, cause?: unknown): never {
  throw new EnclaveGateError('EG_POLICY_LOAD_FAILED', `policy bundle: ${message}`, {
    cause,
    details: { stage: 'archive' },
  });
}

/** Inflates a gzip stream, refusing to produce more than `maxBytes`. */
export function gunzipBounded(gz: Uint8Array, maxBytes: number = DEFAULT_MAX_UNCOMPRESSED_BYTES): Uint8Array {
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) fail('not a gzip stream');
  try {
    return gunzipSync(gz, { maxOutputLength: maxBytes });
  } catch (err) {
    if (err instanceof RangeError) fail(`uncompressed size exceeds the limit of ${maxBytes} bytes`, err);
    fail(`gzip stream is corrupt or truncated (${err instanceof Error ? err.message : String(err)})`, err);
  }
}

/** NUL-terminated ASCII/UTF-8 field of a header. */
function field(header: Uint8Array, offset: number, length: number): string {
  const bytes = header.subarray(offset, offset + length);
  const nul = bytes.indexOf(0);
  return Buffer.from(nul === -1 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

/** Octal number field (ustar); base-256 values only occur for sizes far beyond any cap. */
function octal(header: Uint8Array, offset: number, length: number, what: string): number {
  if ((header[offset]! & 0x80) !== 0) fail(`${what} uses the base-256 form, which is not supported`);
  const text = field(header, offset, length).trim();
  if (!/^[0-7]{1,12}$/.test(text)) fail(`${what} field is not an octal number`);
  return Number.parseInt(text, 8);
}

function checksumOk(header: Uint8Array): boolean {
  const stored = octal(header, 148, 8, 'checksum');
  // The checksum is computed with its own field read as eight spaces. Some old
  // writers summed signed bytes, so accept either sum.
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = header[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parses PAX records: "<length> <key>=<value>\n", length counting the whole record. */
function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) fail('malformed PAX header');
    const lengthText = Buffer.from(data.subarray(pos, space)).toString('ascii');
    const length = /^[1-9][0-9]*$/.test(lengthText) ? Number(lengthText) : NaN;
    const end = pos + length;
    if (!Number.isSafeInteger(length) || end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) {
      fail('malformed PAX header');
    }
    const record = Buffer.from(data.subarray(space + 1, end - 1)).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) fail('malformed PAX header');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos = end;
  }
  return records;
}

/**
 * Normalises an archive path to "/a/b"; throws on traversal ("..", "." and
 * empty segments), control characters and backslashes.
 */
export function normalizeArchivePath(raw: string): string {
  if (raw.length === 0 || hasBadPathChar(raw)) fail('entry has an empty path or a control character in it');
  let path = raw;
  if (path.startsWith('/')) path = path.slice(1);
  else if (path.startsWith('./')) path = path.slice(2);
  if (path.endsWith('/')) path = path.slice(0, -1);
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    fail(`entry path ${show(raw)} is not a plain relative path (traversal or empty segment)`);
  }
  return `/${segments.join('/')}`;
}

/**
 * Reads an uncompressed tar archive. Returns its regular files; directories
 * are skipped. Throws EG_POLICY_LOAD_FAILED on anything unexpected.
 */
export function readTar(tar: Uint8Array, limits: TarLimits = {}): Map<string, Uint8Array> {
  const maxBytes = limits.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (tar.length > maxBytes) fail(`archive exceeds the limit of ${maxBytes} bytes`);
  const files = new Map<string, Uint8Array>();
  let pax: Map<string, string> | undefined;
  let entries = 0;
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > tar.length) fail('archive is truncated (no end-of-archive marker)');
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (++entries > maxEntries) fail(`archive has more than ${maxEntries} entries`);
    if (!checksumOk(header)) fail(`header checksum mismatch at offset ${offset} (corrupt archive)`);

    const type = String.fromCharCode(header[156]!);
    const paxSize = pax?.get('size');
    let size: number;
    if (paxSize === undefined) size = octal(header, 124, 12, 'size');
    else if (/^[0-9]{1,15}$/.test(paxSize)) size = Number(paxSize);
    else fail('PAX size is not a decimal number');
    if (size > maxBytes) fail(`entry of ${size} bytes exceeds the limit of ${maxBytes} bytes`);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (next > tar.length) fail('archive is truncated (entry data ends early)');
    const data = tar.subarray(dataStart, dataEnd);
    offset = next;

    if (type === TYPE_PAX) {
      pax = parsePax(data);
      continue;
    }
    // Global PAX headers carry defaults such as mtime; none of them change
    // how a file is read, so they are parsed for well-formedness and dropped.
    if (type === TYPE_PAX_GLOBAL) {
      parsePax(data);
      continue;
    }

    let name = pax?.get('path');
    if (name === undefined) {
      name = field(header, 0, 100);
      const ustar = field(header, 257, 6) === 'ustar';
      const prefix = ustar ? field(header, 345, 155) : '';
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    pax = undefined;
    const path = normalizeArchivePath(name);
    if (type === TYPE_DIRECTORY) continue;
    if (!TYPE_FILE.has(type)) fail(`entry ${show(path)} has type ${JSON.stringify(type)}; only regular files are allowed`);
    if (files.has(path)) fail(`entry ${show(path)} appears twice`);
    files.set(path, data);
  }
  if (pax !== undefined) fail('archive ends with a PAX header that describes no entry');
  return files;
}

/** Inflates and reads a .tar.gz archive under the given limits. */
export function readTarGz(gz: Uint8Array, limits: TarLimits = {}): Map<string, Uint8Array> {
  return readTar(gunzipBounded(gz, limits.maxUncompressedBytes), limits);
}
