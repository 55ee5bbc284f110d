/**
 * AMD Key Distribution Service (KDS): the VCEK for a report's chip and
 * reported TCB, and the product's ASK + ARK chain.
 *
 * URL shapes (AMD KDS interface spec #57230; go-sev-guest kds/kds.go):
 *   {base}/vcek/v1/{Milan|Genoa}/{hex CHIP_ID, 64 B}?blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…
 *   {base}/vcek/v1/Turin/{hex CHIP_ID[0..8]}?fmcSPL=…&blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…
 *   {base}/vcek/v1/{Product}/cert_chain   (PEM: ASK then ARK)
 * SPLs are decimal, from REPORTED_TCB: the TCB the VCEK must vouch for, so
 * the fetched certificate is exactly the one verifySnpReport compares with.
 *
 * KDS throttles per IP (about one VCEK per 10 s, HTTP 429): the fetch layer
 * honours Retry-After within a bound, coalesces concurrent requests and
 * caches VCEKs for long (they never change for a given URL).
 */
import { VerifyError } from '../../errors.js';
import { decodeSnpTcb, parseSnpReport, snpProductFromCpuid, SNP_PRODUCTS, type SnpProduct, type SnpReport } from '../sev-snp/parse.js';
import type { SnpEndorsements } from '../sev-snp/verify.js';
import { normaliseBaseUrl } from './base-url.js';
import { fetchEndorsement } from './fetcher.js';
import type { OnlineFetchOptions } from './options.js';

/** The public AMD KDS. */
export const AMD_KDS_BASE_URL = 'https://kdsintf.amd.com';

/** Options of {@link fetchSnpEndorsements}. */
export interface SnpFetchOptions extends OnlineFetchOptions {
  /** Needed for v2 reports (no CPUID); for v3+ it must agree with the CPUID. */
  readonly product?: SnpProduct;
  /** KDS or a KDS-compatible cache/proxy; default {@link AMD_KDS_BASE_URL}. */
  readonly baseUrl?: string;
  /**
   * VLEKs cannot be fetched: KDS hands them only to the cloud provider that
   * registered for them, and the guest gets them from its host. The field
   * exists so that asking for one does not type-check.
   */
  readonly vlek?: never;
}

/** AMD's product segment in KDS paths. */
const KDS_PRODUCT: Readonly<Record<SnpProduct, string>> = { milan: 'Milan', genoa: 'Genoa', turin: 'Turin' };

/** Turin VCEKs are keyed by the first 8 bytes of CHIP_ID (its hwID is 8 bytes). */
const TURIN_HWID_BYTES = 8;

function checkProduct(product: unknown): SnpProduct | undefined {
  if (product === undefined) return undefined;
  if (typeof product !== 'string' || !(SNP_PRODUCTS as readonly string[]).includes(product)) {
    throw new VerifyError('EG_VERIFY_USAGE', `options.product must be one of ${SNP_PRODUCTS.join(', ')}, got ${String(product)}`);
  }
  return product as SnpProduct;
}

/** The product whose KDS endpoint serves this report's VCEK: from CPUID (v3+) or the caller (v2). */
export function kdsProduct(report: SnpReport, requested?: SnpProduct): SnpProduct {
  const wanted = checkProduct(requested);
  if (report.cpuid === undefined) {
    if (wanted === undefined) {
      throw new VerifyError(
        'EG_VERIFY_USAGE',
        `SNP report v${report.version} carries no CPUID; pass options.product (${SNP_PRODUCTS.join(', ')}) to pick the KDS endpoint`,
      );
    }
    return wanted;
  }
  const fromCpuid = snpProductFromCpuid(report.cpuid);
  if (fromCpuid === undefined) {
    const { family, model } = report.cpuid;
    throw new VerifyError(
      'EG_VERIFY_UNSUPPORTED',
      `SNP report CPUID family 0x${family.toString(16)} model 0x${model.toString(16)} is not a product KDS serves here (Milan, Genoa, Turin)`,
    );
  }
  if (wanted !== undefined && wanted !== fromCpuid) {
    throw new VerifyError('EG_VERIFY_USAGE', `options.product is ${wanted} but the report's CPUID identifies ${fromCpuid}`);
  }
  return fromCpuid;
}

/** KDS URL of the VCEK for this report's CHIP_ID and REPORTED_TCB. */
export function kdsVcekUrl(report: SnpReport, product: SnpProduct, baseUrl: string = AMD_KDS_BASE_URL): string {
  const base = normaliseBaseUrl(baseUrl, 'baseUrl');
  const tcb = decodeSnpTcb(report.reportedTcb, product);
  const hwId = product === 'turin' ? report.chipId.subarray(0, TURIN_HWID_BYTES) : report.chipId;
  const spl: [string, number][] = [
    ['blSPL', tcb.bootloader],
    ['teeSPL', tcb.tee],
    ['snpSPL', tcb.snp],
    ['ucodeSPL', tcb.microcode],
  ];
  // Turin's TCB has an FMC SPL, and KDS wants it first.
  if (product === 'turin') spl.unshift(['fmcSPL', tcb.fmc ?? 0]);
  const query = spl.map(([name, value]) => `${name}=${value}`).join('&');
  return `${base}/vcek/v1/${KDS_PRODUCT[product]}/${Buffer.from(hwId).toString('hex')}?${query}`;
}

/** KDS URL of the product's ASK + ARK bundle. */
export function kdsCertChainUrl(product: SnpProduct, baseUrl: string = AMD_KDS_BASE_URL): string {
  return `${normaliseBaseUrl(baseUrl, 'baseUrl')}/vcek/v1/${KDS_PRODUCT[product]}/cert_chain`;
}

/** Refuses reports whose VCEK KDS cannot serve, saying why, before any request is made. */
function checkFetchable(report: SnpReport): void {
  const signer = report.signerInfo.signingKey;
  if (signer === 'vlek') {
    throw new VerifyError(
      'EG_VERIFY_ENDORSEMENTS_MISSING',
      'SNP report is signed by a VLEK, which AMD KDS does not serve to guests or clients (only the registered cloud provider holds it); obtain it from the host (extended report certificate table) or the provider',
    );
  }
  if (signer === 'none') {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'SNP report is unsigned (SIGNER_INFO SIGNING_KEY = 7); there is no VCEK to fetch');
  }
  if (report.signerInfo.maskChipKey || report.chipId.every((b) => b === 0)) {
    throw new VerifyError(
      'EG_VERIFY_ENDORSEMENTS_MISSING',
      'SNP report has CHIP_ID masked (MASK_CHIP_KEY) or all zero, so KDS cannot name its VCEK; obtain the VCEK from the host',
    );
  }
}

/**
 * Fetches the VCEK (DER) for `report`'s CHIP_ID and REPORTED_TCB and the
 * product's ASK + ARK (`cert_chain` PEM) from AMD KDS, through
 * `options.cache`. The result goes straight to `verifySnpReport`; nothing
 * here is trusted before that. Throws VerifyError: EG_VERIFY_USAGE (product
 * missing or contradicting CPUID, bad options), EG_VERIFY_ENDORSEMENTS_MISSING
 * (VLEK, masked CHIP_ID, non-2xx answer, throttled past the bound),
 * EG_VERIFY_CONNECT (no answer), EG_VERIFY_PARSE (report bytes).
 */
export async function fetchSnpEndorsements(report: SnpReport | Uint8Array, options: SnpFetchOptions = {}): Promise<SnpEndorsements> {
  const parsed = report instanceof Uint8Array ? parseSnpReport(report) : report;
  if ((options as { vlek?: unknown }).vlek !== undefined) {
    throw new VerifyError('EG_VERIFY_USAGE', 'VLEKs cannot be fetched from AMD KDS; pass the VLEK the host provides to verifySnpReport');
  }
  checkFetchable(parsed);
  const product = kdsProduct(parsed, options.product);
  const base = options.baseUrl ?? AMD_KDS_BASE_URL;
  const [vek, chain] = await Promise.all([
    fetchEndorsement({ url: kdsVcekUrl(parsed, product, base), kind: 'vcek' }, options),
    fetchEndorsement({ url: kdsCertChainUrl(product, base), kind: 'cert-chain' }, options),
  ]);
  return { vek: vek.body, chain: Buffer.from(chain.body).toString('utf8') };
}
