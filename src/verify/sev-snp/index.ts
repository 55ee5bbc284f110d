/**
 * AMD SEV-SNP verifier, public API: parse an ATTESTATION_REPORT, verify it
 * against its VCEK/VLEK chain to a pinned AMD ARK, appraise the result
 * against reference values.
 *
 * @example
 * const ctx = { at: new Date(), transcript: new Transcript() };
 * const evidence = verifySnpReport(report, { vek, chain: askArkPem }, {}, ctx);
 * appraiseSnp(evidence, parseSnpReferenceValues(JSON.parse(rvJson)), ctx);
 */
export {
  parseSnpReport,
  decodeSnpTcb,
  snpProductFromCpuid,
  SNP_PRODUCTS,
  SNP_REPORT_SIZE,
  type SnpProduct,
  type SnpReport,
  type SnpTcb,
  type SnpPolicy,
  type SnpPlatformInfo,
  type SnpSignerInfo,
  type SnpSigningKey,
  type SnpCpuid,
  type SnpFirmwareVersion,
} from './parse.js';
export { parseVekExtensions, type SnpVekExtensions, type SnpVekKind, type SnpVekTcb } from './certs.js';
export { AMD_ARKS, type PinnedArk } from './roots.js';
export {
  verifySnpReport,
  verifySnpVek,
  SnpChainCache,
  type CertificateInput,
  type SnpEndorsements,
  type SnpVerifyOptions,
  type SnpVekInfo,
  type SnpVerifiedEvidence,
  type SnpTcbClaims,
  type SnpClaims,
} from './verify.js';
export { appraiseSnp, parseSnpReferenceValues, type SnpReferenceValues, type SnpMinimumTcb } from './appraise.js';
