/**
 * A stand-in for the kernel's configfs-tsm report group, for tests.
 *
 * Approach: a real temporary directory plus a TsmFileSystem facade with the
 * kernel's semantics, injected into the provider. A plain directory cannot
 * behave like configfs by itself (mkdir does not create attributes, writing
 * inblob does not bump generation, reading outblob does not run a TEE), and a
 * watcher process filling directories in would race the provider. The facade
 * does exactly what the kernel does on each operation (drivers/virt/coco/
 * tsm.c); the real directory makes "missing root" a real ENOENT and lets
 * tests check that report directories are removed afterwards.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { TsmFileSystem } from '../../src/evidence/configfs-tsm.js';

/** TSM_INBLOB_MAX / TSM_OUTBLOB_MAX in the kernel. */
const INBLOB_MAX = 64;
const OUTBLOB_MAX = 32 * 1024;

/** How the fake kernel behaves. */
export interface FakeTsmOptions {
  /** `provider` attribute; `null` means no TSM driver registered (mkdir fails with ENXIO). Default sev_guest. */
  readonly provider?: string | null;
  /** The report for an inblob; real vectors ignore the inblob (their report data is fixed). */
  readonly outblob?: (inblob: Uint8Array) => Uint8Array;
  /** auxblob contents (sev_guest only; other providers have no auxblob attribute). */
  readonly auxblob?: Uint8Array;
  /** Do not create the report group directory. */
  readonly missingRoot?: boolean;
  /** errno for every mkdir (e.g. EACCES). */
  readonly mkdirErrno?: string;
  /** errnos for successive outblob reads (undefined entries succeed), e.g. ['EBUSY'] = busy once. */
  readonly outblobErrnos?: readonly (string | undefined)[];
  /** errno for every outblob read once `outblobErrnos` is used up. */
  readonly outblobErrnoAlways?: string;
  /** How many outblob reads see another writer write into the report directory first (Infinity = always). */
  readonly races?: number;
}

/** A running fake. */
export interface FakeTsm {
  /** The report group directory to configure as configfsRoot. */
  readonly root: string;
  /** The facade to inject. */
  readonly fs: TsmFileSystem;
  /** Operations seen, as `op attribute` lines (`mkdir`, `write inblob`, `read outblob`, …). */
  readonly calls: string[];
  /** Every inblob written. */
  readonly inblobs: Uint8Array[];
  /** Report directories that still exist. */
  liveDirs(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** A Node-style errno error, as node:fs throws it. */
export function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake configfs, ${syscall} '${path}'`), { code, syscall, path });
}

interface ReportState {
  inblob: Uint8Array | undefined;
  generation: number;
}

/** Starts a fake report group in a fresh temporary directory. */
export async function createFakeTsm(options: FakeTsmOptions = {}): Promise<FakeTsm> {
  const base = await mkdtemp(join(tmpdir(), 'eg-fake-tsm-'));
  const root = join(base, 'tsm', 'report');
  if (options.missingRoot !== true) await mkdir(root, { recursive: true });
  const provider = options.provider === undefined ? 'sev_guest' : options.provider;
  const reports = new Map<string, ReportState>();
  const calls: string[] = [];
  const inblobs: Uint8Array[] = [];
  const outblobErrnos = [...(options.outblobErrnos ?? [])];
  let racesLeft = options.races ?? 0;

  function report(path: string, syscall: string): ReportState {
    const state = reports.get(dirname(path));
    if (state === undefined) throw errno('ENOENT', syscall, path);
    return state;
  }

  async function setGeneration(dir: string, state: ReportState, value: number): Promise<void> {
    state.generation = value;
    await writeFile(join(dir, 'generation'), `${value}\n`);
  }

  const fs: TsmFileSystem = {
    async mkdir(path) {
      calls.push('mkdir');
      if (options.mkdirErrno !== undefined) throw errno(options.mkdirErrno, 'mkdir', path);
      await stat(dirname(path)); // the real ENOENT when the group is missing
      if (provider === null) throw errno('ENXIO', 'mkdir', path);
      await mkdir(path);
      // What configfs shows in a new report directory.
      await writeFile(join(path, 'provider'), `${provider}\n`);
      await writeFile(join(path, 'generation'), '0\n');
      await writeFile(join(path, 'inblob'), '');
      await writeFile(join(path, 'outblob'), '');
      if (provider === 'sev_guest') await writeFile(join(path, 'auxblob'), '');
      reports.set(path, { inblob: undefined, generation: 0 });
    },
    async rmdir(path) {
      calls.push('rmdir');
      reports.delete(path);
      await rm(path, { recursive: true, force: true });
    },
    async writeFile(path, data) {
      const attribute = basename(path);
      calls.push(`write ${attribute}`);
      const state = report(path, 'open');
      if (attribute !== 'inblob') throw errno('EACCES', 'open', path);
      if (data.length > INBLOB_MAX) throw errno('EFBIG', 'write', path);
      state.inblob = new Uint8Array(data);
      inblobs.push(state.inblob);
      await writeFile(path, data);
      await setGeneration(dirname(path), state, state.generation + 1);
    },
    async readFile(path, maxBytes) {
      const attribute = basename(path);
      calls.push(`read ${attribute}`);
      const dir = dirname(path);
      const state = report(path, 'open');
      if (attribute === 'provider' || attribute === 'generation') return new Uint8Array(await readFile(path));
      if (attribute === 'inblob') throw errno('EACCES', 'open', path);
      if (attribute === 'auxblob' && provider !== 'sev_guest') throw errno('ENOENT', 'open', path);
      if (attribute !== 'outblob' && attribute !== 'auxblob') throw errno('ENOENT', 'open', path);
      if (attribute === 'outblob') {
        const injected = outblobErrnos.length > 0 ? outblobErrnos.shift() : options.outblobErrnoAlways;
        if (injected !== undefined) throw errno(injected, 'read', path);
        if (racesLeft > 0) {
          // Another process writes its own inblob between our write and our read.
          racesLeft--;
          state.inblob = new Uint8Array(INBLOB_MAX).fill(0xee);
          await setGeneration(dir, state, state.generation + 1);
        }
      }
      if (state.inblob === undefined) throw errno('EINVAL', 'read', path);
      const bytes = attribute === 'outblob' ? (options.outblob ?? ((i: Uint8Array) => i))(state.inblob) : (options.auxblob ?? new Uint8Array(0));
      if (bytes.length > OUTBLOB_MAX || bytes.length > maxBytes) throw errno('EFBIG', 'read', path);
      return bytes;
    },
  };

  return {
    root,
    fs,
    calls,
    inblobs,
    async liveDirs() {
      try {
        return await readdir(root);
      } catch {
        return [];
      }
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/** One certificate for a GHCB certificate table. */
export interface CertTableEntry {
  readonly guid: string;
  readonly der: Uint8Array;
}

/**
 * Builds a GHCB certificate table as a host would install it: 24-byte
 * entries {GUID bytes in text order, u32 LE offset, u32 LE length}, an
 * all-zero terminator, then the certificates; offsets count from the start.
 * Written from the GHCB spec, independently of the provider's parser.
 */
export function buildCertTable(entries: readonly CertTableEntry[]): Uint8Array {
  const headerSize = (entries.length + 1) * 24;
  const total = headerSize + entries.reduce((n, e) => n + e.der.length, 0);
  const out = Buffer.alloc(total);
  let offset = headerSize;
  entries.forEach((entry, index) => {
    Buffer.from(entry.guid.replaceAll('-', ''), 'hex').copy(out, index * 24);
    out.writeUInt32LE(offset, index * 24 + 16);
    out.writeUInt32LE(entry.der.length, index * 24 + 20);
    Buffer.from(entry.der).copy(out, offset);
    offset += entry.der.length;
  });
  return new Uint8Array(out);
}
