/**
 * Public API of the Intel (TDX and SGX DCAP) verifier: parse → verify →
 * appraise. Internals (DER reader, TCB evaluation helpers) stay unexported
 * so they can change without breaking callers.
 */
export { parseIntelQuote, parseSgxReportBody, parseTdReportBody } from './parse.js';
export type {
  IntelQuote,
  IntelQuoteBody,
  IntelQuoteHeader,
  IntelQuoteSignatureData,
  ParseIntelQuoteOptions,
  SgxReportBody,
  TdReportBody,
} from './parse.js';
export { normaliseIntelCollateral, parseQeIdentity, parseTcbInfo } from './collateral.js';
export type {
  IntelCollateral,
  IntelDcapQvlCollateral,
  IntelPcsCollateral,
  NormalisedIntelCollateral,
  QeIdentity,
  SignedIntelJson,
  TcbInfo,
} from './collateral.js';
export { parsePckExtensions } from './pck.js';
export type { PckExtensions } from './pck.js';
export { verifyIntelQuote } from './verify.js';
export type { IntelCollateralState, IntelVerifyOptions } from './verify.js';
export { appraiseIntel, parseIntelReferenceValues } from './appraise.js';
export type { IntelReferenceValues } from './appraise.js';
export { NO_MATCHING_TCB_LEVEL, TCB_STATUSES } from './tcb.js';
export type { IntelTcbStatus } from './tcb.js';
export { INTEL_SGX_ROOT_CA_SHA256 } from './roots.js';
