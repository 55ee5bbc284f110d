/**
 * Endorsement responses built from the shared vectors, at the request
 * targets AMD KDS and Intel PCS use. Values that identify the targets
 * (CHIP_ID, SPLs, FMSPC, CA type) are written out from the vectors README,
 * not computed with the code under test.
 */
import { vector, vectorText } from '../../../helpers/vectors.js';
import type { FakeRoute } from './fake-endorsement-server.js';

/** go-sev-guest Milan report: CHIP_ID (report 0x1A0, 64 bytes) read straight from the file. */
export const GOSEV_REPORT = vector('sev-snp/gosev-milan-report.bin');
export const GOSEV_CHIP_ID = GOSEV_REPORT.subarray(0x1a0, 0x1e0).toString('hex');
/** README §1: "the one KDS serves for …/vcek/v1/Milan/3ac3fe21…?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68". */
export const GOSEV_VCEK_TARGET = `/vcek/v1/Milan/${GOSEV_CHIP_ID}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`;
export const MILAN_CHAIN_TARGET = '/vcek/v1/Milan/cert_chain';
/** go-sev-guest's chain-test instant, inside the VCEK window (README §1). */
export const GOSEV_AT = '2022-09-24T01:00:00Z';

/** KDS routes for the gosev Milan report. */
export function kdsRoutes(): Map<string, FakeRoute> {
  return new Map<string, FakeRoute>([
    [GOSEV_VCEK_TARGET, { headers: { 'content-type': 'application/x-x509-ca-cert' }, body: vector('sev-snp/gosev-milan-vcek.der') }],
    [MILAN_CHAIN_TARGET, { headers: { 'content-type': 'application/x-pem-file' }, body: vectorText('sev-snp/amd-milan-ask-ark.pem') }],
  ]);
}

/** dcap-qvl QuoteCollateralV3 JSON as stored in the vectors. */
interface DcapQvl {
  readonly tcb_info: string;
  readonly tcb_info_signature: string;
  readonly tcb_info_issuer_chain: string;
  readonly qe_identity: string;
  readonly qe_identity_signature: string;
  readonly qe_identity_issuer_chain: string;
  readonly pck_crl: string;
  readonly pck_crl_issuer_chain: string;
  readonly root_ca_crl: string;
}

/** One Intel case: quote, instant, and the PCS targets its PCK names. */
export interface IntelCase {
  readonly quote: Buffer;
  readonly at: string;
  readonly tee: 'tdx' | 'sgx';
  readonly tcbTarget: string;
  readonly qeTarget: string;
  readonly pckCrlTarget: string;
  readonly collateral: DcapQvl;
}

/** README §2: phala-v4, FMSPC b0c06f000000, PCK Platform CA, dcap-qvl instant 2025-07-19T10:00:34Z. */
export const PHALA_TDX: IntelCase = {
  quote: vector('tdx/phala-v4-quote.dat'),
  at: '2025-07-19T10:00:34Z',
  tee: 'tdx',
  tcbTarget: '/tdx/certification/v4/tcb?fmspc=b0c06f000000',
  qeTarget: '/tdx/certification/v4/qe/identity',
  pckCrlTarget: '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
  collateral: JSON.parse(vectorText('tdx/phala-v4-collateral.json')) as DcapQvl,
};

/** README §3: phala-v3, FMSPC 00a067110000, PCK Processor CA, window 2025-06-19T10:56:11Z – 2025-07-19T10:01:18Z. */
export const PHALA_SGX: IntelCase = {
  quote: vector('sgx/phala-v3-quote.dat'),
  at: '2025-07-01T00:00:00Z',
  tee: 'sgx',
  tcbTarget: '/sgx/certification/v4/tcb?fmspc=00a067110000',
  qeTarget: '/sgx/certification/v4/qe/identity',
  pckCrlTarget: '/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
  collateral: JSON.parse(vectorText('sgx/phala-v3-collateral.json')) as DcapQvl,
};

export const ROOT_CRL_TARGET = '/IntelSGXRootCA.der';

/**
 * PCS answers for a case: the signed JSON bodies rebuilt around the exact
 * signed member text (the signature covers those bytes), issuer chains
 * percent-encoded in the PCS v4 headers, CRLs as DER.
 */
export function pcsRoutes(c: IntelCase, tcbChainHeader = 'TCB-Info-Issuer-Chain'): Map<string, FakeRoute> {
  const k = c.collateral;
  return new Map<string, FakeRoute>([
    [
      c.tcbTarget,
      {
        headers: { 'content-type': 'application/json', [tcbChainHeader]: encodeURIComponent(k.tcb_info_issuer_chain) },
        body: `{"tcbInfo":${k.tcb_info},"signature":"${k.tcb_info_signature}"}`,
      },
    ],
    [
      c.qeTarget,
      {
        headers: { 'content-type': 'application/json', 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(k.qe_identity_issuer_chain) },
        body: `{"enclaveIdentity":${k.qe_identity},"signature":"${k.qe_identity_signature}"}`,
      },
    ],
    [
      c.pckCrlTarget,
      {
        headers: { 'content-type': 'application/pkix-crl', 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(k.pck_crl_issuer_chain) },
        body: Buffer.from(k.pck_crl, 'hex'),
      },
    ],
    [ROOT_CRL_TARGET, { headers: { 'content-type': 'application/pkix-crl' }, body: Buffer.from(k.root_ca_crl, 'hex') }],
  ]);
}
