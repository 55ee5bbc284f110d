/**
 * Stapled SEV-SNP endorsements, the 2.23.133.5.4.2 extension value:
 * `tag(EVIDENCE_TAG.sevSnp) { "vek": bstr, "chain": [+ bstr] }`, every
 * certificate DER, the chain being ASK (or ASVK) then ARK. This is the
 * format docs/ratls.md fixes and the verifier's decodeStapledSnpEndorsements
 * reads; evidence/ may not import verify/, so only the encoding lives here and
 * a test decodes it with the verifier's own decoder.
 */
import { Tag, cdeEncodeOptions, encode } from 'cbor2';
import { EVIDENCE_TAG } from '../wire/extension.js';

/** The VEK (VCEK or VLEK) and its chain, DER. */
export interface SnpEndorsementCerts {
  readonly vek: Uint8Array;
  /** ASK/ASVK then ARK; at least one certificate. */
  readonly chain: readonly Uint8Array[];
}

/**
 * Encodes stapled SEV-SNP endorsements (deterministic CBOR, so re-issuing
 * yields identical bytes). `tag` is the evidence's tag: Azure vTPM evidence
 * staples the same map under its own tag.
 */
export function encodeSnpEndorsements(value: SnpEndorsementCerts, tag: number = EVIDENCE_TAG.sevSnp): Uint8Array {
  if (value.chain.length === 0) throw new TypeError('stapled SEV-SNP endorsements need at least one chain certificate');
  const map = new Map<string, unknown>([
    ['vek', value.vek],
    ['chain', [...value.chain]],
  ]);
  return encode(new Tag(tag, map), cdeEncodeOptions);
}
