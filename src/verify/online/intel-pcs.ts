/**
 * Intel Provisioning Certification Service (PCS, API v4): the collateral a
 * DCAP quote is verified with, for the FMSPC and PCK CA named by the PCK
 * certificate inside the quote.
 *
 *   TCB info     {base}/{tdx|sgx}/certification/v4/tcb?fmspc={fmspc}    chain in TCB-Info-Issuer-Chain
 *   QE identity  {base}/{tdx|sgx}/certification/v4/qe/identity         chain in SGX-Enclave-Identity-Issuer-Chain
 *   PCK CRL      {base}/sgx/certification/v4/pckcrl?ca={platform|processor}&encoding=der
 *                                                                      chain in SGX-PCK-CRL-Issuer-Chain
 *   root CA CRL  the Intel SGX Root CA's CRL distribution point
 *                (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der), or options.rootCaCrlUrl
 *
 * Issuer chains arrive URL-encoded (percent-encoded PEM) in response headers.
 * The PCK CRL endpoint is under /sgx/ for TDX too: both use the same PCK CAs.
 * Nothing fetched is trusted here: verifyIntelQuote checks every signature.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import type { IntelPcsCollateral } from '../intel/collateral.js';
import { parseIntelQuote, type ParseIntelQuoteOptions } from '../intel/parse.js';
import { parsePckExtensions } from '../intel/pck.js';
import { INTEL_CN, INTEL_ROOTS } from '../intel/roots.js';
import { parsePemBundle } from '../x509.js';
import { normaliseBaseUrl, normaliseUrl } from './base-url.js';
import { crlDistributionPoints } from './crl-distribution-point.js';
import { fetchEndorsement, type FetchedEndorsement } from './fetcher.js';
import { safeUrl } from './http.js';
import type { OnlineFetchOptions } from './options.js';

/** The public Intel PCS. */
export const INTEL_PCS_BASE_URL = 'https://api.trustedservices.intel.com';

/**
 * Response headers carrying issuer chains. Names from Intel's "Intel SGX and
 * Intel TDX Provisioning Certification Service API" v4 reference
 * (api.portal.trustedservices.intel.com); v3 and many PCCS deployments name
 * the TCB info chain `SGX-TCB-Info-Issuer-Chain`, accepted as a fallback.
 */
export const INTEL_PCS_HEADERS = {
  tcbInfoIssuerChain: 'TCB-Info-Issuer-Chain',
  tcbInfoIssuerChainV3: 'SGX-TCB-Info-Issuer-Chain',
  qeIdentityIssuerChain: 'SGX-Enclave-Identity-Issuer-Chain',
  pckCrlIssuerChain: 'SGX-PCK-CRL-Issuer-Chain',
} as const;

/** Options of {@link fetchIntelCollateral}. */
export interface IntelFetchOptions extends OnlineFetchOptions, ParseIntelQuoteOptions {
  /** Intel PCS or a PCCS speaking the v4 API; default {@link INTEL_PCS_BASE_URL}. */
  readonly baseUrl?: string;
  /**
   * Where to get the Intel SGX Root CA CRL. Default: the CRL distribution
   * point of the root that ends the quote's PCK chain, read only when that
   * root is pinned (a quote must not steer the client to arbitrary URLs).
   */
  readonly rootCaCrlUrl?: string;
  /** Same meaning as IntelVerifyOptions.trustedRoots: decides which root's CRL distribution point may be used. */
  readonly trustedRoots?: ReadonlyMap<string, string>;
}

/** Where each piece of collateral for one quote is fetched from. */
export interface IntelCollateralUrls {
  readonly tcbInfo: string;
  readonly qeIdentity: string;
  readonly pckCrl: string;
}

/** The PCS v4 URLs for a TEE, FMSPC (6 bytes, hex) and PCK CA type. */
export function intelPcsUrls(
  tee: 'sgx' | 'tdx',
  fmspc: string,
  ca: 'platform' | 'processor',
  baseUrl: string = INTEL_PCS_BASE_URL,
): IntelCollateralUrls {
  const base = normaliseBaseUrl(baseUrl, 'baseUrl');
  if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) throw new VerifyError('EG_VERIFY_USAGE', `FMSPC must be 6 bytes of hex, got "${fmspc}"`);
  return {
    tcbInfo: `${base}/${tee}/certification/v4/tcb?fmspc=${fmspc.toLowerCase()}`,
    qeIdentity: `${base}/${tee}/certification/v4/qe/identity`,
    pckCrl: `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
  };
}

/** What the fetch needs from the (not yet verified) quote: TEE, FMSPC, PCK CA type, the chain's root. */
interface QuoteFacts {
  readonly tee: 'sgx' | 'tdx';
  readonly fmspc: string;
  readonly ca: 'platform' | 'processor';
  readonly root: X509Certificate;
}

function commonName(dn: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1];
}

function quoteFacts(quote: Uint8Array, options: IntelFetchOptions): QuoteFacts {
  const parsed = parseIntelQuote(quote, options.allowTrailingData === undefined ? {} : { allowTrailingData: options.allowTrailingData });
  const certs = parsePemBundle(parsed.signatureData.pckChainPem, 'PCK certificate chain');
  const leaf = certs[0]!;
  const root = certs.at(-1)!;
  const issuer = commonName(leaf.issuer);
  const ca = issuer === INTEL_CN.pckPlatformCa ? 'platform' : issuer === INTEL_CN.pckProcessorCa ? 'processor' : undefined;
  if (ca === undefined) {
    throw new VerifyError('EG_VERIFY_CHAIN', `PCK certificate issuer "${issuer ?? '?'}" is not an Intel SGX PCK Platform/Processor CA; no PCK CRL to fetch`);
  }
  return { tee: parsed.tee, fmspc: parsePckExtensions(leaf.raw).fmspc, ca, root };
}

/** The root CA CRL URL: the caller's, else the CDP of the chain's root when that root is pinned. */
function rootCrlUrl(root: X509Certificate, options: IntelFetchOptions): string {
  if (options.rootCaCrlUrl !== undefined) return normaliseUrl(options.rootCaCrlUrl, 'rootCaCrlUrl');
  const pinned = options.trustedRoots ?? INTEL_ROOTS;
  const fingerprint = createHash('sha256').update(root.raw).digest('hex');
  if (!pinned.has(fingerprint)) {
    throw new VerifyError('EG_VERIFY_CHAIN', `PCK chain root (sha256 ${fingerprint}) is not pinned; not following its CRL distribution point`);
  }
  const [url] = crlDistributionPoints(root.raw);
  if (url === undefined) {
    throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', 'the pinned root has no http(s) CRL distribution point; pass options.rootCaCrlUrl');
  }
  return url;
}

/** The issuer chain header of an answer, URL-decoded; EG_VERIFY_ENDORSEMENTS_MISSING when absent. */
function issuerChain(answer: FetchedEndorsement, names: readonly string[]): string {
  for (const name of names) {
    const value = answer.headers[name.toLowerCase()];
    if (value === undefined) continue;
    try {
      return decodeURIComponent(value);
    } catch {
      throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', `${safeUrl(answer.url)}: ${name} header is not valid percent-encoding`, {
        details: { url: safeUrl(answer.url) },
      });
    }
  }
  throw new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', `${safeUrl(answer.url)} answered without the ${names.join(' / ')} header`, {
    details: { url: safeUrl(answer.url) },
  });
}

/** A CRL body as the verifier takes it: DER bytes as they are, a PEM or hex answer (some PCCS) as text. */
function crlInput(body: Uint8Array): Uint8Array | string {
  return body[0] === 0x30 ? body : Buffer.from(body).toString('latin1');
}

/**
 * Fetches the collateral for `quote` from Intel PCS (or a v4 PCCS) through
 * `options.cache`: TCB info and QE identity for its TEE (and FMSPC), with
 * their issuer chains; the CRL of the PCK CA that issued its PCK; the root
 * CA CRL. The result goes straight to `verifyIntelQuote`. Throws
 * VerifyError: EG_VERIFY_PARSE (quote), EG_VERIFY_CHAIN (PCK issuer or root
 * not Intel's), EG_VERIFY_USAGE (options), EG_VERIFY_ENDORSEMENTS_MISSING
 * (non-2xx, missing issuer chain header, throttled past the bound),
 * EG_VERIFY_CONNECT (no answer).
 */
export async function fetchIntelCollateral(quote: Uint8Array, options: IntelFetchOptions = {}): Promise<IntelPcsCollateral> {
  const facts = quoteFacts(quote, options);
  const urls = intelPcsUrls(facts.tee, facts.fmspc, facts.ca, options.baseUrl ?? INTEL_PCS_BASE_URL);
  const rootCrl = rootCrlUrl(facts.root, options);
  const [tcbInfo, qeIdentity, pckCrl, rootCaCrl] = await Promise.all([
    fetchEndorsement(
      { url: urls.tcbInfo, kind: 'tcb-info', keepHeaders: [INTEL_PCS_HEADERS.tcbInfoIssuerChain, INTEL_PCS_HEADERS.tcbInfoIssuerChainV3] },
      options,
    ),
    fetchEndorsement({ url: urls.qeIdentity, kind: 'qe-identity', keepHeaders: [INTEL_PCS_HEADERS.qeIdentityIssuerChain] }, options),
    // The PCK CRL's issuer chain header is not needed: the CRL must be signed by the PCK CA the quote itself carries.
    fetchEndorsement({ url: urls.pckCrl, kind: 'crl' }, options),
    fetchEndorsement({ url: rootCrl, kind: 'crl' }, options),
  ]);
  return {
    tcbInfo: tcbInfo.body,
    tcbInfoIssuerChain: issuerChain(tcbInfo, [INTEL_PCS_HEADERS.tcbInfoIssuerChain, INTEL_PCS_HEADERS.tcbInfoIssuerChainV3]),
    qeIdentity: qeIdentity.body,
    qeIdentityIssuerChain: issuerChain(qeIdentity, [INTEL_PCS_HEADERS.qeIdentityIssuerChain]),
    pckCrl: crlInput(pckCrl.body),
    rootCaCrl: crlInput(rootCaCrl.body),
  };
}
