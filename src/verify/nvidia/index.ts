/** NVIDIA GPUs in confidential-computing mode: SPDM measurement reports chained to the NVIDIA device root. */
export { parseGpuReport, opaqueFwid, opaqueText, OPAQUE_TYPE, SPDM_REQUEST_BYTES, SPDM_SIGNATURE_BYTES, MAX_GPU_REPORT_BYTES, type GpuReport, type SpdmMeasurement } from './spdm.js';
export {
  verifyGpuEvidence,
  parseGpuEvidence,
  NVIDIA_DEVICE_ROOT_SHA256,
  NVIDIA_PINNED_ROOTS,
  type GpuClaims,
  type GpuDeviceClaims,
  type GpuVerifyOptions,
} from './verify.js';
export { appraiseGpu, parseGpuReferenceValues, type GpuReferenceValues } from './appraise.js';
