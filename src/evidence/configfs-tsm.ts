/**
 * configfs-tsm provider: SEV-SNP and TDX guests on Linux ≥ 6.7
 * (Documentation/ABI/testing/configfs-tsm). Each request gets its own report
 * directory, which the kernel populates with `inblob`, `outblob`, `auxblob`,
 * `provider` and `generation`; we write the report data, read the report,
 * and remove the directory again.
 *
 * Why a private directory per request *and* the generation check: the
 * directory keeps our own concurrent calls apart, but any process with write
 * access to configfs can still write into it, and the kernel regenerates the
 * report from whatever inblob it holds when outblob is read. `generation`
 * counts writes, so "exactly one more than before our write" proves the
 * outblob answers our inblob; anything else is retried a bounded number of
 * times.
 *
 * File access goes through a small TsmFileSystem facade because a plain
 * directory cannot act like configfs (mkdir does not create attributes,
 * reads do not run the TEE); tests inject a fake with kernel semantics.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { attestationFailed, attestationUnavailable, deviceError, errnoOf, type ErrnoHints } from './device-errors.js';
import { readPseudoFile, writePseudoFile } from './file-io.js';
import { parseGhcbCertTable } from './ghcb-cert-table.js';
import type { Evidence, ProbingProvider } from './provider.js';
import { assertEchoed, assertReportData, intelQuoteReportData, snpReportData } from './report-data.js';
import { encodeSnpEndorsements } from './snp-endorsements.js';

/** Where the kernel mounts the report group. */
export const DEFAULT_CONFIGFS_ROOT = '/sys/kernel/config/tsm/report';
/** TSM_OUTBLOB_MAX: the kernel refuses (EFBIG) to return a larger outblob or auxblob. */
export const TSM_OUTBLOB_MAX = 32 * 1024;
/** `provider` and `generation` are one short line each. */
const SMALL_ATTRIBUTE_MAX = 4096;

/** The file operations the provider performs, so tests can stand in for configfs. */
export interface TsmFileSystem {
  /** Creates a report directory (the kernel populates it). */
  mkdir(path: string): Promise<void>;
  /** Removes a report directory (the kernel drops its attributes with it). */
  rmdir(path: string): Promise<void>;
  /** Reads an attribute to EOF; more than `maxBytes` fails with EFBIG. */
  readFile(path: string, maxBytes: number): Promise<Uint8Array>;
  /** Writes an attribute in one go. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

/** The real configfs, through node:fs. */
export const nodeTsmFileSystem: TsmFileSystem = {
  mkdir: async (path) => {
    await mkdir(path);
  },
  rmdir: (path) => rmdir(path),
  readFile: readPseudoFile,
  writeFile: writePseudoFile,
};

/** Options for the configfs-tsm provider. */
export interface ConfigfsTsmOptions {
  /** The report group directory; default /sys/kernel/config/tsm/report. */
  readonly root?: string;
  /** File access; default the real file system. */
  readonly fs?: TsmFileSystem;
  /** Attempts when the device is busy or a generation race is seen; default 3. */
  readonly maxAttempts?: number;
  /** Pause before retry n is n × this; default 25 ms. */
  readonly retryDelayMs?: number;
}

/** `provider` attribute values this build understands, and the platform each means. */
const TSM_PROVIDERS: Readonly<Record<string, 'sev-snp' | 'tdx'>> = { sev_guest: 'sev-snp', tdx_guest: 'tdx' };

/** A condition worth another attempt (busy device, lost race). */
class RetryableError extends Error {}

/** Unique per process and call, so two enclave-gate processes (or calls) never share a report directory. */
let sequence = 0;
function reportDirName(): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `enclave-gate-${process.pid}-${sequence}-${randomBytes(4).toString('hex')}`;
}

function configfsHints(root: string): Record<'mkdir' | 'attribute' | 'outblob' | 'inblob', ErrnoHints> {
  const permission = {
    code: 'EG_ATTESTATION_FAILED',
    hint: `report directories are root-owned: run enclave-gate as root, or give its user write access to ${root} (in a container, bind-mount it read-write)`,
  } as const;
  return {
    mkdir: {
      ENOENT: {
        code: 'EG_ATTESTATION_UNAVAILABLE',
        hint: 'configfs-tsm is not here: it needs an SEV-SNP or TDX guest on Linux ≥ 6.7 (CONFIG_TSM_REPORTS), configfs mounted at /sys/kernel/config, and in a container a bind mount of /sys/kernel/config',
      },
      ENXIO: {
        code: 'EG_ATTESTATION_UNAVAILABLE',
        hint: 'no TSM provider is registered: this is not a confidential guest, or the sev-guest / tdx-guest driver is not loaded',
      },
      EACCES: permission,
      EPERM: permission,
      EROFS: { code: 'EG_ATTESTATION_FAILED', hint: 'configfs is mounted read-only: mount /sys/kernel/config read-write into the container' },
    },
    attribute: {
      ENOENT: { code: 'EG_ATTESTATION_FAILED', hint: `the kernel did not create this attribute: ${root} is not a configfs-tsm report group` },
      EACCES: permission,
    },
    inblob: {
      EINVAL: { code: 'EG_ATTESTATION_FAILED', hint: 'the kernel rejected the 64-byte inblob' },
      EACCES: permission,
    },
    outblob: {
      ENOTTY: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'the TSM provider went away (the sev-guest / tdx-guest driver was unloaded)' },
      EFBIG: {
        code: 'EG_ATTESTATION_FAILED',
        hint: `the report is larger than the kernel's ${TSM_OUTBLOB_MAX}-byte TSM_OUTBLOB_MAX (e.g. DICE-based TDX quotes); use a kernel with a larger limit or the dstack provider`,
      },
      EINVAL: { code: 'EG_ATTESTATION_FAILED', hint: 'the kernel has no inblob for this report (the write did not take)' },
      ENOENT: { code: 'EG_ATTESTATION_FAILED', hint: `the kernel did not create this attribute: ${root} is not a configfs-tsm report group` },
    },
  };
}

/** What one successful round trip through a report directory produced. */
interface RawReport {
  readonly platform: 'sev-snp' | 'tdx';
  readonly outblob: Uint8Array;
  readonly auxblob: Uint8Array | undefined;
}

/** Creates the configfs-tsm provider. Nothing touches the device until the first call. */
export function createConfigfsTsmProvider(options: ConfigfsTsmOptions = {}): ProbingProvider {
  const root = options.root ?? DEFAULT_CONFIGFS_ROOT;
  const fs = options.fs ?? nodeTsmFileSystem;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 25;
  const hints = configfsHints(root);
  let platform: string = 'unknown';

  /** Runs one file operation, turning errno into a typed error (EBUSY/EAGAIN into a retry). */
  async function step<T>(action: string, path: string, kind: keyof typeof hints, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (cause) {
      const errno = errnoOf(cause);
      if (errno === 'EBUSY' || errno === 'EAGAIN') throw new RetryableError(`${action} ${path}: device busy (${errno})`, { cause });
      throw deviceError('configfs-tsm', action, path, cause, hints[kind]);
    }
  }

  async function readText(dir: string, name: string): Promise<string> {
    const path = join(dir, name);
    const bytes = await step('read', path, 'attribute', () => fs.readFile(path, SMALL_ATTRIBUTE_MAX));
    return Buffer.from(bytes).toString('utf8').trim();
  }

  async function readGeneration(dir: string): Promise<number> {
    const text = await readText(dir, 'generation');
    const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value)) throw attestationFailed('configfs-tsm', `generation attribute holds ${JSON.stringify(text.slice(0, 32))}, not a count`);
    return value;
  }

  async function readPlatform(dir: string): Promise<'sev-snp' | 'tdx'> {
    const name = await readText(dir, 'provider');
    const found = TSM_PROVIDERS[name];
    if (found === undefined) {
      throw attestationUnavailable(
        'configfs-tsm',
        `the TSM provider is ${JSON.stringify(name.slice(0, 32))}; this build understands ${Object.keys(TSM_PROVIDERS).join(' and ')}`,
        { tsmProvider: name.slice(0, 32) },
      );
    }
    platform = found;
    return found;
  }

  /** mkdir → `use(dir)` → rmdir, the directory removed however `use` ends. */
  async function withReportDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
    const dir = join(root, reportDirName());
    await step('create report directory', dir, 'mkdir', () => fs.mkdir(dir));
    try {
      return await use(dir);
    } finally {
      // A leftover directory only costs kernel memory; it must not hide the real outcome.
      await fs.rmdir(dir).catch(() => undefined);
    }
  }

  async function attempt(reportData: Uint8Array): Promise<RawReport> {
    return withReportDir(async (dir) => {
      // Provider first: an unknown format is refused before a (slow) quote is made.
      const found = await readPlatform(dir);
      const before = await readGeneration(dir);
      const inblob = join(dir, 'inblob');
      await step('write', inblob, 'inblob', () => fs.writeFile(inblob, reportData));
      const outblobPath = join(dir, 'outblob');
      const outblob = await step('read', outblobPath, 'outblob', () => fs.readFile(outblobPath, TSM_OUTBLOB_MAX));
      let auxblob: Uint8Array | undefined;
      if (found === 'sev-snp') {
        const auxPath = join(dir, 'auxblob');
        // The kernel hides auxblob for providers without one; absence just means nothing to staple.
        auxblob = await step('read', auxPath, 'outblob', async () => {
          try {
            return await fs.readFile(auxPath, TSM_OUTBLOB_MAX);
          } catch (error) {
            // The kernel hides auxblob for providers without one; absence just means nothing to staple.
            if (errnoOf(error) === 'ENOENT') return undefined;
            throw error;
          }
        });
      }
      const after = await readGeneration(dir);
      if (after !== before + 1) {
        throw new RetryableError(`generation went from ${before} to ${after} across one write: another writer used report directory ${dir}`);
      }
      return { platform: found, outblob, auxblob };
    });
  }

  async function generate(reportData: Uint8Array): Promise<RawReport> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(reportData);
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        if (n >= maxAttempts) {
          throw attestationFailed(
            'configfs-tsm',
            `gave up after ${n} attempts: ${error.message}. Another process is generating reports or writing into enclave-gate's report directories; stop it or retry later`,
            { attempts: n },
            error,
          );
        }
        await delay(retryDelayMs * n);
      }
    }
  }

  return {
    name: 'configfs-tsm',
    get platform() {
      return platform;
    },
    insecure: false,
    async probe() {
      await withReportDir(readPlatform);
    },
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      assertReportData('configfs-tsm', reportData);
      const raw = await generate(reportData);
      if (raw.platform === 'tdx') {
        assertEchoed('configfs-tsm', intelQuoteReportData(raw.outblob), { platform: 'tdx', reportData }, 'outblob');
        return { tag: EVIDENCE_TAG.intelQuote, evidence: raw.outblob };
      }
      assertEchoed('configfs-tsm', snpReportData(raw.outblob), { platform: 'sev-snp', reportData }, 'outblob');
      const stapled = raw.auxblob === undefined ? { warnings: [] } : stapleSnpCertificates(raw.outblob, raw.auxblob);
      return {
        tag: EVIDENCE_TAG.sevSnp,
        evidence: raw.outblob,
        ...(stapled.endorsements === undefined ? {} : { endorsements: stapled.endorsements }),
        ...(stapled.warnings.length === 0 ? {} : { warnings: stapled.warnings }),
      };
    },
  };
}

/** Offset of the SEV-SNP report's flags word; bits 2–4 name the signing key (0 VCEK, 1 VLEK). */
const SNP_FLAGS_OFFSET = 0x48;

/**
 * Builds the stapled endorsements from the host's certificate table. A bad
 * or incomplete table is the host's problem and costs only offline
 * verification (clients can still fetch from AMD KDS), so it becomes a
 * warning instead of stopping the proxy.
 */
export function stapleSnpCertificates(report: Uint8Array, auxblob: Uint8Array): { endorsements?: Uint8Array; warnings: string[] } {
  let table;
  try {
    table = parseGhcbCertTable(auxblob);
  } catch (error) {
    return { warnings: [`host certificate table (auxblob) is malformed: ${(error as Error).message}; endorsements not stapled`] };
  }
  const { certs } = table;
  if (Object.keys(certs).length === 0) return { warnings: [] };
  const view = new DataView(report.buffer, report.byteOffset, report.byteLength);
  const signingKey = (view.getUint32(SNP_FLAGS_OFFSET, true) >> 2) & 7;
  const vek = signingKey === 1 ? certs.vlek : certs.vcek;
  const vekName = signingKey === 1 ? 'VLEK' : 'VCEK';
  if (vek === undefined || certs.ask === undefined || certs.ark === undefined) {
    const missing = [vek === undefined ? vekName : '', certs.ask === undefined ? 'ASK' : '', certs.ark === undefined ? 'ARK' : ''].filter(Boolean);
    return { warnings: [`host certificate table lacks ${missing.join(', ')}; endorsements not stapled, clients must fetch them from AMD KDS`] };
  }
  return { endorsements: encodeSnpEndorsements({ vek, chain: [certs.ask, certs.ark] }), warnings: [] };
}
