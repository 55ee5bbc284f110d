/**
 * The pinned trust anchor for Nitro attestation documents.
 *
 * Every document carries its whole CA bundle, root included, so the root must
 * be recognised by something the document cannot supply: the SHA-256
 * fingerprint of the DER of "AWS Nitro Enclaves Root-G1"
 * (CN=aws.nitro-enclaves, O=Amazon, OU=AWS, C=US; P-384; 2019-10-28 → 2049-10-28).
 */

/**
 * SHA-256 of the Root-G1 DER. Computed once from the vector file
 * `nitro/aws-nitro-enclaves-root-g1.pem` (the PEM AWS distributes in
 * AWS_NitroEnclaves_Root-G1.zip) with
 * `openssl x509 -in aws-nitro-enclaves-root-g1.pem -noout -fingerprint -sha256`;
 * a unit test recomputes it from that file so a typo cannot go unnoticed.
 */
export const NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

/** Pinned roots in the shape `verifyChain` in ../x509.ts expects: fingerprint → display name. */
export const NITRO_PINNED_ROOTS: ReadonlyMap<string, string> = new Map([
  [NITRO_ROOT_G1_SHA256, 'AWS Nitro Enclaves Root-G1'],
]);
