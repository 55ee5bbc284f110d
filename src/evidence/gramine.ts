/**
 * Gramine provider: SGX enclaves running Node under Gramine, which exposes
 * DCAP quotes as pseudo-files (Gramine Documentation/attestation.rst):
 * write 64 bytes to `user_report_data`, then read `quote`.
 *
 * The pseudo-files are process-global state with no per-caller handle, so two
 * overlapping calls could each read a quote over the other's report data.
 * Every call therefore runs in one promise queue, and the quote's report
 * data is compared with what was written (which also catches a worker thread
 * outside this queue).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { attestationUnavailable, deviceError, errnoOf, type ErrnoHints } from './device-errors.js';
import { readPseudoFile, writePseudoFile } from './file-io.js';
import type { Evidence, ProbingProvider } from './provider.js';
import { assertEchoed, assertReportData, intelQuoteReportData } from './report-data.js';
import { createSerializer } from './serial.js';

/** Gramine's attestation pseudo-device directory. */
export const DEFAULT_GRAMINE_DEVICE = '/dev/attestation';
/** Gramine caps quotes at 8 KiB (SGX_QUOTE_MAX_SIZE); allow growth, refuse nonsense. */
export const GRAMINE_QUOTE_MAX = 64 * 1024;

/** The file operations the provider performs; tests may wrap them to observe ordering. */
export interface GramineFileSystem {
  readFile(path: string, maxBytes: number): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Resolves when `path` exists; rejects with the errno otherwise. */
  access(path: string): Promise<void>;
}

/** Options for the Gramine provider. */
export interface GramineOptions {
  /** Pseudo-device directory; default /dev/attestation. */
  readonly device?: string;
  /** File access; default the real file system. */
  readonly fs?: GramineFileSystem;
}

const NOT_GRAMINE: ErrnoHints = {
  ENOENT: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'not running inside a Gramine SGX enclave (start Node with gramine-sgx and sgx.remote_attestation = "dcap")' },
  EACCES: { code: 'EG_ATTESTATION_FAILED', hint: 'Gramine refused access: enable remote attestation in the manifest (sgx.remote_attestation = "dcap")' },
};

/** Creates the Gramine provider. Nothing touches the device until the first call. */
export function createGramineProvider(options: GramineOptions = {}): ProbingProvider {
  const device = options.device ?? DEFAULT_GRAMINE_DEVICE;
  const fs: GramineFileSystem = options.fs ?? { readFile: readPseudoFile, writeFile: writePseudoFile, access: (path) => access(path) };
  const serial = createSerializer();
  let typeChecked = false;

  /** `attestation_type` is `none`, `epid` or `dcap`; only DCAP quotes verify without Intel's retired EPID service. */
  async function checkAttestationType(): Promise<void> {
    if (typeChecked) return;
    const path = join(device, 'attestation_type');
    let type: string;
    try {
      type = Buffer.from(await fs.readFile(path, 64)).toString('utf8').trim();
    } catch (cause) {
      // Older Gramine releases have no attestation_type; then the quote pseudo-file must at least exist.
      if (errnoOf(cause) === 'ENOENT') {
        const quote = join(device, 'quote');
        await fs.access(quote).catch((missing: unknown) => {
          throw deviceError('gramine', 'open', quote, missing, NOT_GRAMINE);
        });
        typeChecked = true;
        return;
      }
      throw deviceError('gramine', 'read', path, cause, NOT_GRAMINE);
    }
    if (type !== 'dcap') {
      throw attestationUnavailable(
        'gramine',
        `Gramine attestation type is ${JSON.stringify(type.slice(0, 16))}; enclave-gate needs DCAP quotes (set sgx.remote_attestation = "dcap" in the manifest)`,
        { attestationType: type.slice(0, 16) },
      );
    }
    typeChecked = true;
  }

  return {
    name: 'gramine',
    platform: 'sgx',
    insecure: false,
    probe: () => serial(checkAttestationType),
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      assertReportData('gramine', reportData);
      const quote = await serial(async () => {
        await checkAttestationType();
        const userReportData = join(device, 'user_report_data');
        try {
          await fs.writeFile(userReportData, reportData);
        } catch (cause) {
          throw deviceError('gramine', 'write', userReportData, cause, NOT_GRAMINE);
        }
        const quotePath = join(device, 'quote');
        try {
          return await fs.readFile(quotePath, GRAMINE_QUOTE_MAX);
        } catch (cause) {
          throw deviceError('gramine', 'read', quotePath, cause, {
            ...NOT_GRAMINE,
            EFBIG: { code: 'EG_ATTESTATION_FAILED', hint: `the quote exceeds ${GRAMINE_QUOTE_MAX} bytes` },
          });
        }
      });
      assertEchoed('gramine', intelQuoteReportData(quote), { platform: 'sgx', reportData }, 'quote');
      return { tag: EVIDENCE_TAG.intelQuote, evidence: quote };
    },
  };
}
