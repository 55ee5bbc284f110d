/**
 * GPU reports from NVIDIA's NVML (libnvidia-ml.so.1, shipped with the
 * driver), through koffi like the NSM: koffi stays an optional dependency,
 * loaded only when a GPU source is configured.
 *
 * Calls (nvml.h): nvmlInit_v2, nvmlDeviceGetCount_v2,
 * nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetConfComputeGpuAttestationReport
 * (the caller's 32-byte nonce goes into the struct), and
 * nvmlDeviceGetConfComputeGpuCertificate. Struct layouts (nvml.h):
 *
 *   nvmlConfComputeGpuAttestationReport_t: u32 isCecAttestationReportPresent, u32 attestationReportSize,
 *     u32 cecAttestationReportSize, u8 nonce[0x20], u8 attestationReport[0x2000], u8 cecAttestationReport[0x1000]
 *   nvmlConfComputeGpuCertificate_t: u32 certChainSize, u32 attestationCertChainSize,
 *     u8 certChain[0x1000], u8 attestationCertChain[0x1400]   (PEM; the second signs the report)
 *
 * Checked against a stand-in library with the same symbols and layouts
 * (test/fakes/fake-nvml.c); not yet on a GPU.
 */
import { importKoffi } from './koffi.js';
import { EnclaveGateError } from '../errors.js';
import type { GpuAttestation, GpuReportSource } from './gpu.js';

export const NVML_LIBRARY = 'libnvidia-ml.so.1';
export const NVML_REPORT_STRUCT = { nonce: 12, nonceBytes: 0x20, report: 44, reportBytes: 0x2000, cecBytes: 0x1000, size: 44 + 0x2000 + 0x1000 } as const;
export const NVML_CERT_STRUCT = { chain: 8, chainBytes: 0x1000, attestationChain: 8 + 0x1000, attestationChainBytes: 0x1400, size: 8 + 0x1000 + 0x1400 } as const;

/** The report inside an nvmlConfComputeGpuAttestationReport_t. */
export function reportFromStruct(struct: Uint8Array): Uint8Array {
  const size = new DataView(struct.buffer, struct.byteOffset, struct.byteLength).getUint32(4, true);
  if (size === 0 || size > NVML_REPORT_STRUCT.reportBytes) throw new Error(`attestationReportSize ${size} is outside 1..${NVML_REPORT_STRUCT.reportBytes}`);
  return struct.slice(NVML_REPORT_STRUCT.report, NVML_REPORT_STRUCT.report + size);
}

/** The attestation certificate chain (PEM) inside an nvmlConfComputeGpuCertificate_t. */
export function attestationChainFromStruct(struct: Uint8Array): string {
  const size = new DataView(struct.buffer, struct.byteOffset, struct.byteLength).getUint32(4, true);
  if (size === 0 || size > NVML_CERT_STRUCT.attestationChainBytes) throw new Error(`attestationCertChainSize ${size} is outside 1..${NVML_CERT_STRUCT.attestationChainBytes}`);
  return Buffer.from(struct.subarray(NVML_CERT_STRUCT.attestationChain, NVML_CERT_STRUCT.attestationChain + size)).toString('latin1');
}

interface KoffiLike {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
}

type NvmlCall = (...args: unknown[]) => unknown;

/** Options of {@link createNvmlGpuSource}. */
export interface NvmlOptions {
  /** Library to load; default libnvidia-ml.so.1 (tests point it at a stand-in). */
  readonly library?: string;
  /** Architecture to report; Hopper is the only one verified locally. */
  readonly arch?: string;
}

/** A GPU source backed by NVML. The library is loaded (and NVML initialised) on first use. */
export function createNvmlGpuSource(options: NvmlOptions = {}): GpuReportSource {
  const library = options.library ?? NVML_LIBRARY;
  let api: Promise<Record<string, NvmlCall>> | undefined;

  const gpuError = (code: 'EG_ATTESTATION_UNAVAILABLE' | 'EG_ATTESTATION_FAILED', message: string, details: Record<string, unknown> = {}, cause?: unknown): EnclaveGateError =>
    new EnclaveGateError(code, `GPU evidence (NVML, ${library}): ${message}`, { details: { source: 'nvml', library, ...details }, ...(cause === undefined ? {} : { cause }) });

  const load = (): Promise<Record<string, NvmlCall>> => {
    api ??= (async () => {
      let koffi: KoffiLike;
      try {
        koffi = await importKoffi<KoffiLike>();
      } catch (cause) {
        api = undefined;
        throw gpuError('EG_ATTESTATION_UNAVAILABLE', `the optional dependency "koffi" could not be loaded (npm install koffi): ${(cause as Error).message.split('\n', 1)[0]}`, {}, cause);
      }
      let lib: ReturnType<KoffiLike['load']>;
      try {
        lib = koffi.load(library);
      } catch (cause) {
        api = undefined;
        throw gpuError('EG_ATTESTATION_UNAVAILABLE', `the library could not be loaded (is the NVIDIA driver installed?): ${(cause as Error).message.split('\n', 1)[0]}`, {}, cause);
      }
      const fns = {
        init: lib.func('int nvmlInit_v2()'),
        count: lib.func('int nvmlDeviceGetCount_v2(_Out_ uint32_t *count)'),
        handle: lib.func('int nvmlDeviceGetHandleByIndex_v2(uint32_t index, _Out_ void **device)'),
        report: lib.func('int nvmlDeviceGetConfComputeGpuAttestationReport(void *device, void *report)'),
        cert: lib.func('int nvmlDeviceGetConfComputeGpuCertificate(void *device, void *cert)'),
      };
      check('nvmlInit_v2', fns.init());
      return fns;
    })();
    return api;
  };

  function check(fn: string, rc: unknown): void {
    if (rc !== 0) throw gpuError('EG_ATTESTATION_FAILED', `${fn} returned NVML error ${String(rc)}`, { nvmlReturn: rc });
  }

  return {
    async count() {
      const fns = await load();
      const out = [0];
      check('nvmlDeviceGetCount_v2', fns['count']!(out));
      return out[0]!;
    },
    async attest(index: number, nonce: Uint8Array): Promise<GpuAttestation> {
      const fns = await load();
      const device: unknown[] = [null];
      check('nvmlDeviceGetHandleByIndex_v2', fns['handle']!(index, device));
      const reportStruct = Buffer.alloc(NVML_REPORT_STRUCT.size);
      Buffer.from(nonce.subarray(0, NVML_REPORT_STRUCT.nonceBytes)).copy(reportStruct, NVML_REPORT_STRUCT.nonce);
      check('nvmlDeviceGetConfComputeGpuAttestationReport', fns['report']!(device[0], reportStruct));
      const certStruct = Buffer.alloc(NVML_CERT_STRUCT.size);
      check('nvmlDeviceGetConfComputeGpuCertificate', fns['cert']!(device[0], certStruct));
      try {
        return { arch: options.arch ?? 'HOPPER', report: reportFromStruct(reportStruct), certificateChainPem: attestationChainFromStruct(certStruct) };
      } catch (cause) {
        throw gpuError('EG_ATTESTATION_FAILED', `GPU ${index} answered with ${(cause as Error).message}`, { gpu: index }, cause);
      }
    },
  };
}
