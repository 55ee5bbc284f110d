/**
 * Pinned AMD Root Keys (ARKs), one per product, by SHA-256 of the DER.
 *
 * The ARK is the only trust anchor of SEV-SNP: an ARK that is not in this
 * table ends verification with EG_VERIFY_CHAIN, whatever else checks out.
 * ASK/ASVK and VEK certificates are not pinned; they must chain to one of
 * these by signature.
 *
 * Where the values come from: `openssl x509 -outform DER | sha256sum` over
 * the second certificate of each AMD KDS `cert_chain` bundle, as kept in the
 * test vectors `sev-snp/amd-{milan,genoa,turin}-ask-ark.pem` (identical to
 * go-sev-guest `verify/trust/ask_ark_*.pem` and to
 * https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain). The VLEK
 * bundles `amd-*-asvk-ark.pem` carry the same ARK per product. The Milan
 * value matches the one the vectors README records (69d063b4…0bcd). The
 * test `roots.test.ts` recomputes all three from the vectors.
 */
import type { SnpProduct } from './parse.js';

/** A pinned ARK: its product, the subject CN AMD gives it, and its DER SHA-256. */
export interface PinnedArk {
  readonly product: SnpProduct;
  readonly commonName: string;
  readonly sha256: string;
}

/** The pinned ARKs, one per product. */
export const AMD_ARKS: Readonly<Record<SnpProduct, PinnedArk>> = Object.freeze({
  milan: {
    product: 'milan',
    commonName: 'ARK-Milan',
    sha256: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
  },
  genoa: {
    product: 'genoa',
    commonName: 'ARK-Genoa',
    sha256: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
  },
  turin: {
    product: 'turin',
    commonName: 'ARK-Turin',
    sha256: '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
  },
});

/** Looks up a pinned ARK by the lower-case hex SHA-256 of its DER. */
export function pinnedArkByFingerprint(sha256: string): PinnedArk | undefined {
  return Object.values(AMD_ARKS).find((ark) => ark.sha256 === sha256);
}

/** AMD's spelling of a product in certificate names ("Milan", "Genoa", "Turin"). */
export function productDisplayName(product: SnpProduct): string {
  return product.charAt(0).toUpperCase() + product.slice(1);
}
