/** Azure confidential VMs: SEV-SNP or TDX hardware report behind the HCL, TPM quote by the vTPM AK. */
export { parseHclReport, HCL_LAYOUT, HCL_REPORT_TYPE, type HclReport } from './hcl.js';
export { parseTpmQuoteInfo, checkTpmQuote, type TpmQuote, type TpmQuoteInfo, type CheckedTpmQuote } from './tpm-quote.js';
export {
  verifyAzureEvidence,
  azurePlatformOf,
  parseAzureEvidence,
  azureHardwareEvidence,
  MAX_AZURE_EVIDENCE_BYTES,
  type AzureEvidence,
  type AzureClaims,
  type AzurePlatform,
  type AzureVerifySources,
} from './verify.js';
export { appraiseAzure, parseAzureReferenceValues, type AzureReferenceValues } from './appraise.js';
