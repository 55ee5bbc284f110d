/**
 * Optional online endorsement fetching for the offline verifiers. Off by
 * default: nothing in `verify/` opens a connection unless the caller calls
 * one of these, and what they return is verified exactly like endorsements
 * the caller brought (verifySnpReport, verifyIntelQuote).
 *
 * @example
 * const cache = createDiskCache('/var/cache/enclave-gate/endorsements');
 * const endorsements = await fetchSnpEndorsements(report, { cache });
 * verifySnpReport(report, endorsements, {}, { at: new Date(), transcript: new Transcript() });
 *
 * const collateral = await fetchIntelCollateral(quote, { cache });
 * verifyIntelQuote(quote, collateral, { at: new Date(), transcript: new Transcript() });
 */
export { fetchSnpEndorsements, kdsVcekUrl, kdsCertChainUrl, kdsProduct, AMD_KDS_BASE_URL, type SnpFetchOptions } from './amd-kds.js';
export {
  fetchIntelCollateral,
  intelPcsUrls,
  INTEL_PCS_BASE_URL,
  INTEL_PCS_HEADERS,
  type IntelFetchOptions,
  type IntelCollateralUrls,
} from './intel-pcs.js';
export { createDiskCache, diskCacheFileName, DISK_CACHE_FORMAT, type EndorsementCache, type CachedEndorsement } from './cache.js';
export { cacheExpiry, contentExpiry, DEFAULT_MAX_AGE_MS, type EndorsementKind, type MaxAge } from './expiry.js';
export { HTTP_DEFAULTS } from './http.js';
export { parseRetryAfter, DEFAULT_RETRY_AFTER_MS } from './retry-after.js';
export { crlDistributionPoints } from './crl-distribution-point.js';
export { defaultFetch, type FetchLike } from './transport.js';
export type { OnlineFetchOptions } from './options.js';
