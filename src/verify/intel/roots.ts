/**
 * Intel trust anchors and pinned identities. Nothing here is fetched at run
 * time: the verifier must work offline and must not trust whatever root a
 * quote or a collateral bundle happens to carry.
 */

/**
 * SHA-256 of the DER of "Intel SGX Root CA" (O=Intel Corporation, valid
 * 2018-05-21 → 2049-12-31). Computed once from shared/vectors/tdx/intel-sgx-root-ca.der
 * (go-tdx-guest verify/trusted_root.pem, identical to dcap-qvl's TrustedRootCA.der);
 * it matches the fingerprint the vectors README records (44a0196b…b674d3).
 * The PCK chain in every quote and the TCB Signing chain of every collateral
 * bundle must end at exactly this certificate.
 */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

/** Pinned roots in the shape `verifyChain` (src/verify/x509.ts) expects: fingerprint → name. */
export const INTEL_ROOTS: ReadonlyMap<string, string> = new Map([[INTEL_SGX_ROOT_CA_SHA256, 'Intel SGX Root CA']]);

/**
 * QE vendor ID of Intel's Quoting Enclaves (header bytes 12–27). Other
 * vendors' QEs would need their own roots and collateral, which we do not have.
 */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';

/**
 * MRSIGNER and ISVPRODID of Intel's production Quoting Enclaves, as published
 * in the signed QE identities (sgx/mobilecoin-qe_identity.json for the SGX QE,
 * tdx/*qeidentity-td.json for the TD QE). Used only when no QE identity is
 * supplied, so that a QE report signed by a genuine PCK but produced by some
 * other enclave is still refused.
 */
export const INTEL_QE_IDENTITY = {
  sgx: { name: 'Intel SGX QE', mrSigner: '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff', isvProdId: 1 },
  tdx: { name: 'Intel TD QE', mrSigner: 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5', isvProdId: 2 },
} as const;

/** Subject common names Intel gives to the certificates in its PKI. */
export const INTEL_CN = {
  root: 'Intel SGX Root CA',
  pckPlatformCa: 'Intel SGX PCK Platform CA',
  pckProcessorCa: 'Intel SGX PCK Processor CA',
  pckLeaf: 'Intel SGX PCK Certificate',
  tcbSigning: 'Intel SGX TCB Signing',
} as const;
