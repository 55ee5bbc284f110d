import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPseudoFile, writePseudoFile } from '../../../src/evidence/file-io.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eg-file-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pseudo-file I/O', () => {
  it('reads past 4096 bytes to EOF (configfs reports st_size 4096)', async () => {
    const bytes = Buffer.alloc(40_000, 7);
    await writeFile(join(dir, 'outblob'), bytes);
    expect((await readPseudoFile(join(dir, 'outblob'), 64 * 1024)).length).toBe(40_000);
  });

  it('fails with EFBIG over the cap', async () => {
    await writeFile(join(dir, 'outblob'), Buffer.alloc(5000));
    await expect(readPseudoFile(join(dir, 'outblob'), 4999)).rejects.toMatchObject({ code: 'EFBIG' });
  });

  it('writes into an existing file and never creates one', async () => {
    await writeFile(join(dir, 'inblob'), '');
    await writePseudoFile(join(dir, 'inblob'), new Uint8Array([1, 2, 3]));
    expect([...(await readFile(join(dir, 'inblob')))]).toEqual([1, 2, 3]);
    await expect(writePseudoFile(join(dir, 'missing'), new Uint8Array([1]))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
