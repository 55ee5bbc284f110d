import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { EnclaveGateError, isErrorCode } from '../../../src/errors.js';
import { gunzipBounded, normalizeArchivePath, readTar, readTarGz } from '../../../src/policy/tar.js';
import { tar, tarGz, type TarEntry } from './tar-writer.js';

/** Runs `fn` and returns the EG_POLICY_LOAD_FAILED error it must throw. */
function loadError(fn: () => unknown): EnclaveGateError {
  try {
    fn();
  } catch (err) {
    expect(isErrorCode(err, 'EG_POLICY_LOAD_FAILED')).toBe(true);
    return err as EnclaveGateError;
  }
  throw new Error('expected EG_POLICY_LOAD_FAILED');
}

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('utf8');

describe('readTarGz', () => {
  it('reads regular files under normalised absolute paths and skips directories', () => {
    const files = readTarGz(
      tarGz([
        { name: '/.manifest', data: '{}' },
        { name: 'a/', type: '5' },
        { name: './a/data.json', data: '{"x":1}' },
        { name: 'file.rego', prefix: 'deep/er', data: 'package x' },
        { name: '/policy.wasm', data: new Uint8Array([0, 97, 115, 109]) },
      ]),
    );
    expect([...files.keys()]).toEqual(['/.manifest', '/a/data.json', '/deep/er/file.rego', '/policy.wasm']);
    expect(text(files.get('/a/data.json'))).toBe('{"x":1}');
    expect([...files.get('/policy.wasm')!]).toEqual([0, 97, 115, 109]);
  });

  it('honours PAX path and size records', () => {
    const long = `/${'d/'.repeat(80)}data.json`;
    const files = readTarGz(
      tarGz([
        { name: 'ignored', data: '{"long":true}', pax: { path: long, mtime: '0.0' } },
        { name: 'g', type: 'g', data: '' },
      ]),
    );
    expect(text(files.get(long))).toBe('{"long":true}');
  });

  it('reads an empty file at the end of the data', () => {
    expect(readTarGz(tarGz([{ name: 'empty', data: '' }])).get('/empty')).toHaveLength(0);
  });

  it.each<[string, TarEntry]>([
    ['a parent segment', { name: '../etc/passwd', data: 'x' }],
    ['a parent segment in the middle', { name: '/a/../../b', data: 'x' }],
    ['a parent segment via the ustar prefix', { name: 'b', prefix: '..', data: 'x' }],
    ['a parent segment via PAX', { name: 'fine', pax: { path: 'a/../../escape' }, data: 'x' }],
    ['an empty segment', { name: 'a//b', data: 'x' }],
    ['a dot segment', { name: 'a/./b', data: 'x' }],
    ['a backslash', { name: '..\\evil', data: 'x' }],
    ['a control character', { name: 'a\nb', data: 'x' }],
  ])('rejects a path with %s', (_label, entry) => {
    expect(loadError(() => readTarGz(tarGz([entry]))).message).toMatch(/path/);
  });

  it.each([
    ['1', 'hard link'],
    ['2', 'symbolic link'],
    ['3', 'character device'],
    ['6', 'FIFO'],
  ])('rejects entry type %s (%s)', (type) => {
    expect(loadError(() => readTarGz(tarGz([{ name: 'link', type, data: '' }]))).message).toMatch(/only regular files/);
  });

  it('rejects duplicate paths, even when spelled differently', () => {
    const gz = tarGz([
      { name: 'policy.wasm', data: 'a' },
      { name: '/policy.wasm', data: 'b' },
    ]);
    expect(loadError(() => readTarGz(gz)).message).toMatch(/twice/);
  });

  it('rejects a corrupt header checksum', () => {
    expect(loadError(() => readTarGz(tarGz([{ name: 'a', data: 'x', badChecksum: true }]))).message).toMatch(
      /checksum/,
    );
  });

  it('rejects truncation at every block boundary and inside the data', () => {
    const whole = tar([
      { name: 'a', data: 'x'.repeat(700) },
      { name: 'b', data: 'y' },
    ]);
    for (let cut = 0; cut < whole.length - 1024; cut += 256) {
      const err = loadError(() => readTar(whole.subarray(0, cut)));
      expect(err.message).toMatch(/truncated/);
    }
    expect(loadError(() => readTar(tar([{ name: 'a', data: 'x' }], { end: false }))).message).toMatch(/truncated/);
  });

  it('rejects a size field larger than the archive', () => {
    expect(loadError(() => readTar(tar([{ name: 'a', data: 'x', sizeField: 4096 }]))).message).toMatch(/truncated/);
  });

  it('rejects a truncated gzip stream', () => {
    const gz = tarGz([{ name: 'a', data: 'x'.repeat(10_000) }]);
    expect(loadError(() => readTarGz(gz.subarray(0, gz.length - 20))).message).toMatch(/gzip/);
  });

  it('rejects data that is not gzip', () => {
    expect(loadError(() => readTarGz(tar([{ name: 'a', data: 'x' }]))).message).toMatch(/not a gzip stream/);
  });

  it('stops inflating at the size cap (gzip bomb)', () => {
    const bomb = gzipSync(new Uint8Array(8 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(loadError(() => gunzipBounded(bomb, 1024 * 1024)).message).toMatch(/exceeds the limit/);
    expect(loadError(() => readTarGz(bomb, { maxUncompressedBytes: 1024 * 1024 })).message).toMatch(/exceeds/);
  });

  it('rejects an entry larger than the cap before reading it', () => {
    const archive = tar([{ name: 'a', data: 'x', sizeField: 2 ** 30 }]);
    expect(loadError(() => readTar(archive)).message).toMatch(/exceeds the limit/);
  });

  it('caps the number of entries', () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: '' }));
    expect(loadError(() => readTar(tar(entries), { maxEntries: 10 })).message).toMatch(/more than 10 entries/);
  });

  it('rejects malformed PAX records and a dangling PAX header', () => {
    const bad = tar([{ name: 'a', data: 'x', pax: { path: 'ok' } }]);
    // Corrupt the PAX record length ("11 path=ok\n" → "99 path=ok\n").
    const copy = new Uint8Array(bad);
    copy.set(Buffer.from('99'), 512);
    expect(loadError(() => readTar(copy)).message).toMatch(/PAX/);
    const paxOnly = Buffer.concat([tar([{ name: 'x', pax: { path: 'p' } }]).subarray(0, 1024), new Uint8Array(1024)]);
    expect(loadError(() => readTar(paxOnly)).message).toMatch(/PAX header that describes no entry/);
  });
});

describe('normalizeArchivePath', () => {
  it.each([
    ['policy.wasm', '/policy.wasm'],
    ['/policy.wasm', '/policy.wasm'],
    ['./a/b', '/a/b'],
    ['a/b/', '/a/b'],
  ])('%j → %j', (raw, expected) => {
    expect(normalizeArchivePath(raw)).toBe(expected);
  });

  it.each(['', '/', '..', 'a/..', '//a', 'a/\0'])('rejects %j', (raw) => {
    loadError(() => normalizeArchivePath(raw));
  });
});
