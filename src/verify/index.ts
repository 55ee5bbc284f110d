/**
 * `enclave-gate/verify`: the client library. Verifies RA-TLS certificates
 * (enclave-gate's own, Open Enclave/echeck, Evervault Nitro) and raw
 * evidence (SEV-SNP, TDX, SGX, Nitro, Azure vTPM, NVIDIA GPUs, simulated), and provides an undici
 * dispatcher that verifies a server before sending it a byte.
 *
 * It imports nothing from the server side, so it ships alone. Every
 * top-level function returns a Verdict instead of throwing; docs/verify.md
 * describes the checks, the reference values and the exit codes.
 *
 * @example
 * import { createAttestedDispatcher } from 'enclave-gate/verify';
 * const dispatcher = createAttestedDispatcher({ referenceValues: { measurements: [m], policyHashes: [p] } });
 */
export {
  verifyCertificate,
  verifyFreshAttestation,
  certificateFingerprint,
  type VerifyFreshOptions,
  encodeStapledEndorsements,
  decodeStapledSnpEndorsements,
  decodeStapledIntelCollateral,
  type CertificateSource,
  type VerifyCertificateOptions,
  type StapledEndorsements,
  type StapledSnpEndorsements,
  type StapledIntelCollateral,
} from './certificate.js';
export { verifyEvidence, PLATFORMS, type VerifyEvidenceInput, type EvidenceSources, type AppraisalFlags } from './evidence.js';
export { createAttestedDispatcher, type AttestedDispatcherOptions } from './dispatcher.js';
export { exchangeFreshness, type FreshExchange } from './fresh-client.js';
export { FRESHNESS_PATH, EXPORTER_LABEL, EXPORTER_LENGTH, type FreshnessAnswer } from '../wire/freshness.js';
export { parseReferenceValues, type ReferenceValues, type PlatformSection } from './reference-values.js';
export { loadAppraisalPolicy, type AppraisalPolicy } from './appraisal-policy.js';
export {
  formatVerdict,
  verdictExitCode,
  verdictJson,
  type Verdict,
  type RatlsBinding,
  type RatlsFormat,
} from './verdict.js';
export { Transcript, type Platform, type VerifyStep, type VerifyContext, type VerifiedEvidence } from './types.js';
export { OID_OPEN_ENCLAVE_SGX_EVIDENCE, checkOpenEnclaveBinding, decodeOpenEnclaveEvidence } from './foreign/index.js';
export { verifySimulatedEvidence, type SimulatedVerifyOptions } from './simulated/index.js';

// Platform verifiers, for callers that drive parse → verify → appraise themselves.
export {
  verifySnpReport,
  verifySnpVek,
  appraiseSnp,
  parseSnpReferenceValues,
  parseSnpReport,
  SnpChainCache,
  SNP_PRODUCTS,
  type SnpEndorsements,
  type SnpProduct,
  type SnpReferenceValues,
  type SnpVerifiedEvidence,
} from './sev-snp/index.js';
export {
  verifyIntelQuote,
  appraiseIntel,
  parseIntelReferenceValues,
  parseIntelQuote,
  type IntelCollateral,
  type IntelPcsCollateral,
  type IntelDcapQvlCollateral,
  type IntelReferenceValues,
  type IntelVerifyOptions,
} from './intel/index.js';
export {
  verifyNitroDocument,
  appraiseNitro,
  parseNitroReferenceValues,
  verifyNitroSanCertificate,
  extractNitroFromSan,
  type NitroReferenceValues,
  type NitroClaims,
} from './nitro/index.js';

export {
  verifyAzureEvidence,
  parseAzureEvidence,
  parseHclReport,
  checkTpmQuote,
  parseTpmQuoteInfo,
  appraiseAzure,
  parseAzureReferenceValues,
  type AzureClaims,
  type AzureEvidence,
  type AzurePlatform,
  type AzureReferenceValues,
  type HclReport,
  type TpmQuote,
} from './azure/index.js';

export {
  verifyGpuEvidence,
  parseGpuEvidence,
  parseGpuReport,
  appraiseGpu,
  parseGpuReferenceValues,
  NVIDIA_DEVICE_ROOT_SHA256,
  type GpuClaims,
  type GpuDeviceClaims,
  type GpuReferenceValues,
  type GpuReport,
} from './nvidia/index.js';

// Optional online endorsement fetching (AMD KDS, Intel PCS) with a disk cache; off unless called.
export * from './online/index.js';

// The signed decision log (docs/audit.md): chain, batch signatures and the signing key's attestation.
export {
  verifyAuditLog,
  formatAuditReport,
  type AuditReport,
  type AuditFinding,
  type AuditFindingKind,
  type AuditLogFile,
  type VerifyAuditLogOptions,
} from './audit-log.js';
