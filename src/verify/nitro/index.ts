/**
 * AWS Nitro Enclaves verification: parse (COSE_Sign1 + attestation document),
 * verify (chain to the pinned AWS root, ES384 signature), appraise (PCRs,
 * debug, nonce / user_data / public_key, age) and the Evervault-style binding
 * of a document to a TLS certificate.
 */
export {
  COSE_ALG_ES384,
  COSE_SIGN1_TAG,
  ES384_SIGNATURE_BYTES,
  MAX_DOCUMENT_BYTES,
  MAX_PAYLOAD_BYTES,
  NITRO_LIMITS,
  parseNitroDocument,
  type NitroAttestationDocument,
  type NitroCoseSign1,
  type ParsedNitroDocument,
} from './parse.js';
export { NITRO_PINNED_ROOTS, NITRO_ROOT_G1_SHA256 } from './roots.js';
export { verifyNitroDocument, type NitroClaims, type NitroVerifyOptions } from './verify.js';
export {
  NITRO_FUTURE_SKEW_SECONDS,
  appraiseNitro,
  parseNitroReferenceValues,
  type NitroReferenceValues,
} from './appraise.js';
export {
  certificateSpkiHex,
  checkNitroCertificateBinding,
  extractNitroFromSan,
  verifyNitroSanCertificate,
  type CertificateInput,
  type NitroSanDocument,
} from './evervault.js';
