/**
 * Intel PCS fetching against a real local HTTP fake serving the phala-v4
 * (TDX) and phala-v3 (SGX) collateral at the PCS v4 targets their PCKs name,
 * with the issuer chains in the PCS headers; then verified end to end with
 * verifyIntelQuote at the README instants.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createDiskCache,
  crlDistributionPoints,
  fetchIntelCollateral,
  intelPcsUrls,
  type FetchLike,
  type IntelFetchOptions,
} from '../../../../src/verify/online/index.js';
import { verifyIntelQuote, type IntelPcsCollateral } from '../../../../src/verify/intel/index.js';
import { Transcript, type VerifiedEvidence } from '../../../../src/verify/types.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { startFakeServer, type FakeRoute, type FakeServer } from './fake-endorsement-server.js';
import { PHALA_SGX, PHALA_TDX, ROOT_CRL_TARGET, pcsRoutes, type IntelCase } from './fixtures.js';
import { clockAt, rejectsWith, removeTempDirs, tempDir } from './helpers.js';

let pcs: FakeServer | undefined;
afterEach(async () => {
  await pcs?.close();
  pcs = undefined;
});
afterAll(removeTempDirs);

async function serve(c: IntelCase, tcbChainHeader?: string): Promise<FakeServer> {
  pcs = await startFakeServer(pcsRoutes(c, tcbChainHeader));
  return pcs;
}

function options(server: FakeServer, c: IntelCase, extra: Partial<IntelFetchOptions> = {}): IntelFetchOptions {
  return { baseUrl: server.url, rootCaCrlUrl: `${server.url}${ROOT_CRL_TARGET}`, now: clockAt(c.at), ...extra };
}

function verifyAt(c: IntelCase, collateral: IntelPcsCollateral): VerifiedEvidence {
  return verifyIntelQuote(c.quote, collateral, { at: new Date(c.at), transcript: new Transcript() });
}

describe('fetchIntelCollateral: TDX (phala-v4, FMSPC b0c06f000000, Platform CA)', () => {
  it('fetches TCB info, QE identity, PCK CRL and root CRL at their PCS targets; verified UpToDate end to end', async () => {
    const server = await serve(PHALA_TDX);
    const collateral = await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX));
    expect(server.requests.sort()).toEqual([PHALA_TDX.tcbTarget, PHALA_TDX.qeTarget, PHALA_TDX.pckCrlTarget, ROOT_CRL_TARGET].sort());
    const evidence = verifyAt(PHALA_TDX, collateral);
    expect(evidence.tcb).toMatchObject({ fmspc: 'b0c06f000000', status: 'UpToDate', collateral: 'verified', qeStatus: 'UpToDate', tdxModuleStatus: 'UpToDate' });
  });

  it('second call is served from the disk cache', async () => {
    const server = await serve(PHALA_TDX);
    const dir = tempDir();
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache: createDiskCache(dir) }));
    expect(server.count()).toBe(4);
    const again = await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache: createDiskCache(dir) }));
    expect(server.count()).toBe(4);
    expect(verifyAt(PHALA_TDX, again).tcb['collateral']).toBe('verified');
  });

  it('never serves collateral past its own nextUpdate: one second after the README instant the expiring piece is refetched', async () => {
    // The phala-v4 window closes at 2025-07-19T10:00:35Z (README §2), one second after the instant.
    const server = await serve(PHALA_TDX);
    const cache = createDiskCache(tempDir());
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache }));
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache, now: clockAt('2025-07-19T10:00:35Z') }));
    const refetched = server.count() - 4;
    expect(refetched).toBeGreaterThanOrEqual(1);
    expect(refetched).toBeLessThan(4);
  });

  it('refetches everything after the collateral maximum age', async () => {
    const server = await serve(PHALA_TDX);
    const cache = createDiskCache(tempDir());
    const early = '2025-07-01T00:00:00Z';
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache, now: clockAt(early), maxAgeMs: { collateral: 3_600_000 } }));
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache, now: clockAt(early, 3_599_000), maxAgeMs: { collateral: 3_600_000 } }));
    expect(server.count()).toBe(4);
    await fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX, { cache, now: clockAt(early, 3_600_000), maxAgeMs: { collateral: 3_600_000 } }));
    expect(server.count()).toBe(8);
  });

  it('a missing issuer chain header → EG_VERIFY_ENDORSEMENTS_MISSING naming the header', async () => {
    const server = await serve(PHALA_TDX);
    server.route(PHALA_TDX.qeTarget, { body: `{"enclaveIdentity":${PHALA_TDX.collateral.qe_identity},"signature":"${PHALA_TDX.collateral.qe_identity_signature}"}` });
    const error = await rejectsWith(fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX)), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.message).toContain('SGX-Enclave-Identity-Issuer-Chain');
  });

  it('404 for the FMSPC → EG_VERIFY_ENDORSEMENTS_MISSING with the status and Intel Request-ID', async () => {
    const server = await serve(PHALA_TDX);
    server.route(PHALA_TDX.tcbTarget, { status: 404, headers: { 'Request-ID': 'abc123' } });
    const error = await rejectsWith(fetchIntelCollateral(PHALA_TDX.quote, options(server, PHALA_TDX)), 'EG_VERIFY_ENDORSEMENTS_MISSING');
    expect(error.details?.['status']).toBe(404);
    expect(error.message).toContain('Request-ID abc123');
  });

  it('without rootCaCrlUrl, the root CRL comes from the pinned root’s CRL distribution point', async () => {
    const server = await serve(PHALA_TDX);
    const seen: string[] = [];
    const transport: FetchLike = (url, init) => {
      seen.push(url);
      return fetch(url.replace('https://certificates.trustedservices.intel.com', server.url), init);
    };
    const collateral = await fetchIntelCollateral(PHALA_TDX.quote, { baseUrl: server.url, fetch: transport, now: clockAt(PHALA_TDX.at) });
    expect(seen).toContain('https://certificates.trustedservices.intel.com/IntelSGXRootCA.der');
    expect(verifyAt(PHALA_TDX, collateral).tcb['collateral']).toBe('verified');
  });
});

describe('fetchIntelCollateral: TDX (gotdx v4, FMSPC 50806f000000) with raw PCS response bodies', () => {
  it('serves the go-tdx-guest PCS bodies byte for byte; verified at 2023-07-01T01:00:00Z: NoMatchingTcbLevel, QE UpToDate (README §2)', async () => {
    // These vector files are PCS answers as received, so nothing is rebuilt here; the 2018 TCB Signing certificate covers the instant.
    const chain = encodeURIComponent(vectorText('tdx/intel-tcb-signing-2018.pem') + vectorText('tdx/intel-sgx-root-ca.pem'));
    pcs = await startFakeServer(
      new Map<string, FakeRoute>([
        ['/tdx/certification/v4/tcb?fmspc=50806f000000', { headers: { 'TCB-Info-Issuer-Chain': chain }, body: vector('tdx/gotdx-tcbinfo-50806f000000.json') }],
        ['/tdx/certification/v4/qe/identity', { headers: { 'SGX-Enclave-Identity-Issuer-Chain': chain }, body: vector('tdx/gotdx-qeidentity-td.json') }],
        ['/sgx/certification/v4/pckcrl?ca=platform&encoding=der', { body: vector('tdx/gotdx-pckcrl-platform.der') }],
        [ROOT_CRL_TARGET, { body: vector('tdx/gotdx-rootcrl.der') }],
      ]),
    );
    const at = '2023-07-01T01:00:00Z';
    const quote = vector('tdx/gotdx-v4-spr-e4-quote.dat');
    const collateral = await fetchIntelCollateral(quote, {
      baseUrl: pcs.url,
      rootCaCrlUrl: `${pcs.url}${ROOT_CRL_TARGET}`,
      allowTrailingData: true,
      now: clockAt(at),
    });
    expect(pcs.count()).toBe(4);
    const evidence = verifyIntelQuote(quote, collateral, { at: new Date(at), transcript: new Transcript() }, { allowTrailingData: true });
    expect(evidence.tcb).toMatchObject({ fmspc: '50806f000000', collateral: 'verified', status: 'NoMatchingTcbLevel', qeStatus: 'UpToDate' });
  });
});

describe('fetchIntelCollateral: SGX (phala-v3, FMSPC 00a067110000, Processor CA)', () => {
  it('fetches at the /sgx/ targets with ca=processor; ConfigurationAndSWHardeningNeeded end to end (README §3)', async () => {
    const server = await serve(PHALA_SGX);
    const collateral = await fetchIntelCollateral(PHALA_SGX.quote, options(server, PHALA_SGX));
    expect(server.requests.sort()).toEqual([PHALA_SGX.tcbTarget, PHALA_SGX.qeTarget, PHALA_SGX.pckCrlTarget, ROOT_CRL_TARGET].sort());
    const evidence = verifyAt(PHALA_SGX, collateral);
    expect(evidence.tcb).toMatchObject({
      status: 'ConfigurationAndSWHardeningNeeded',
      advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'],
      collateral: 'verified',
    });
  });

  it('accepts the v3 / PCCS header name SGX-TCB-Info-Issuer-Chain', async () => {
    const server = await serve(PHALA_SGX, 'SGX-TCB-Info-Issuer-Chain');
    const collateral = await fetchIntelCollateral(PHALA_SGX.quote, options(server, PHALA_SGX));
    expect(verifyAt(PHALA_SGX, collateral).tcb['collateral']).toBe('verified');
  });
});

describe('Intel PCS URLs and the root CRL distribution point', () => {
  it('builds the v4 targets for each TEE', () => {
    expect(intelPcsUrls('tdx', 'B0C06F000000', 'platform', 'https://pccs.example:8081/')).toEqual({
      tcbInfo: 'https://pccs.example:8081/tdx/certification/v4/tcb?fmspc=b0c06f000000',
      qeIdentity: 'https://pccs.example:8081/tdx/certification/v4/qe/identity',
      pckCrl: 'https://pccs.example:8081/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
    });
    expect(() => intelPcsUrls('sgx', '00a0671100', 'processor')).toThrow(/FMSPC/);
  });

  it('the Intel SGX Root CA names https://certificates.trustedservices.intel.com/IntelSGXRootCA.der', () => {
    expect(crlDistributionPoints(vector('tdx/intel-sgx-root-ca.der'))).toEqual(['https://certificates.trustedservices.intel.com/IntelSGXRootCA.der']);
  });

  it('a quote with non-zero trailing data is refused unless allowTrailingData', async () => {
    await rejectsWith(fetchIntelCollateral(vector('tdx/gotdx-v4-spr-e4-quote.dat'), { baseUrl: 'http://127.0.0.1:9' }), 'EG_VERIFY_PARSE');
  });
});
