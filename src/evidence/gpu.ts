/**
 * GPU evidence beside CPU evidence: for a model on an NVIDIA H100/H200 in
 * confidential-computing mode, the GPU is half of the trusted computing
 * base. When configured, every piece of CPU evidence is accompanied by each
 * GPU's SPDM measurement report, asked with nonce = the report data's first
 * 32 bytes (SHA-256 of the claims), so a verifier can tie each GPU to the
 * same claims; ratls/ puts them into the CMW collection (`gpu0`, `gpu1`, …).
 *
 * The reports come from a {@link GpuReportSource}. The NVML one
 * (nvmlDeviceGetConfComputeGpuAttestationReport and
 * nvmlDeviceGetConfComputeGpuCertificate through koffi, like the NSM) has
 * not run on a GPU yet: no GPU was available; tests drive the wrapper
 * through a fake source.
 */
import { timingSafeEqual } from 'node:crypto';
import { attestationFailed, attestationUnavailable } from './device-errors.js';
import type { Evidence, EvidenceProvider, GetEvidenceOptions } from './provider.js';

/** One GPU's answer. */
export interface GpuAttestation {
  readonly arch: string;
  readonly uuid?: string;
  /** The SPDM GET_MEASUREMENTS request and signed response. */
  readonly report: Uint8Array;
  /** PEM chain: the firmware alias certificate first, NVIDIA's root last. */
  readonly certificateChainPem: string;
}

/** Where GPU reports come from (NVML on a real host, a fake in tests). */
export interface GpuReportSource {
  /** GPUs in confidential-computing mode. */
  count(): Promise<number>;
  /** GPU `index`'s report over `nonce` (32 bytes). */
  attest(index: number, nonce: Uint8Array): Promise<GpuAttestation>;
}

/** The GPU nonce: the first 32 bytes of the report data, which are SHA-256 of the claims. */
export function gpuNonce(reportData: Uint8Array): Uint8Array {
  return reportData.slice(0, 32);
}

/** CoCo's device evidence JSON for one GPU, what verify/nvidia reads. */
export function encodeGpuEvidence(gpu: GpuAttestation): Uint8Array {
  const device = {
    arch: gpu.arch.toUpperCase(),
    ...(gpu.uuid === undefined ? {} : { uuid: gpu.uuid }),
    evidence: Buffer.from(gpu.report).toString('hex'),
    certificate: Buffer.from(gpu.certificateChainPem).toString('base64'),
  };
  return new TextEncoder().encode(JSON.stringify({ device_evidence_list: [device] }));
}

/**
 * Wraps `inner` so its evidence carries every GPU's report for the same
 * report data. No GPU, or a report over another nonce, fails issuance: a
 * certificate that claims GPUs must speak for all of them.
 */
export function withGpuEvidence(inner: EvidenceProvider, source: GpuReportSource): EvidenceProvider {
  const wrapped: EvidenceProvider = {
    get name() {
      return inner.name;
    },
    get platform() {
      return inner.platform;
    },
    get insecure() {
      return inner.insecure;
    },
    async getEvidence(reportData: Uint8Array, options?: GetEvidenceOptions): Promise<Evidence> {
      const cpu = await inner.getEvidence(reportData, options);
      const count = await source.count();
      if (count === 0) throw attestationUnavailable(inner.name, 'GPU evidence is configured but no GPU in confidential-computing mode was found');
      const nonce = gpuNonce(reportData);
      const gpus: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const gpu = await source.attest(i, nonce);
        // The request nonce sits at bytes 4..36 of the SPDM GET_MEASUREMENTS request.
        const echoed = gpu.report.subarray(4, 36);
        if (gpu.report.length < 36 || !timingSafeEqual(echoed, nonce)) {
          throw attestationFailed(inner.name, `GPU ${i}'s attestation report does not carry the nonce that was requested; refusing to bind it`, { gpu: i });
        }
        gpus.push(encodeGpuEvidence(gpu));
      }
      return { ...cpu, gpus };
    },
  };
  // `auto` detection (detectNow) must still reach the wrapped provider.
  const detect = (inner as { detect?: unknown }).detect;
  return typeof detect === 'function' ? Object.assign(wrapped, { detect: detect.bind(inner) as () => Promise<unknown> }) : wrapped;
}
