/**
 * The verifier benchmark cases: one real vector per platform, verified at the
 * instant the vectors README gives, with and without the caching the
 * platform module offers. Shared by verify.bench.ts and the fresh-process
 * first-call probe (verify-first-call.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyIntelQuote, type IntelCollateral } from '../src/verify/intel/index.js';
import { verifyNitroDocument } from '../src/verify/nitro/index.js';
import { SnpChainCache, verifySnpReport, type SnpEndorsements } from '../src/verify/sev-snp/index.js';
import { Transcript, type VerifyContext } from '../src/verify/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The vectors directory: $ENCLAVE_GATE_VECTORS or the project's copy in test/vectors. */
export function vectorsDir(): string {
  const dir = process.env['ENCLAVE_GATE_VECTORS'] ?? resolve(ROOT, 'test', 'vectors');
  if (!existsSync(join(dir, 'README.md'))) {
    throw new Error(`vectors not found at ${dir}: restore test/vectors from the repository or set ENCLAVE_GATE_VECTORS`);
  }
  return dir;
}

function read(file: string): Buffer {
  return readFileSync(join(vectorsDir(), file));
}

/** One benchmark case. */
export interface VerifyCase {
  readonly id: string;
  /** Row label: vector, collateral, instant. */
  readonly label: string;
  /** One verification with nothing reused between calls (a fresh cache, if the module has one). */
  readonly cold: () => void;
  /** One verification reusing `cachedState()` (undefined when the module offers no cache). */
  readonly cached?: () => void;
  /** What `cached` reuses, for the table. */
  readonly cacheNote: string;
}

function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

/** Loads every case's inputs (file reads happen here, never inside the timed calls). */
export function loadCases(): VerifyCase[] {
  const snpReport = read('sev-snp/gosev-milan-report.bin');
  const snpEndorsements: SnpEndorsements = {
    vek: read('sev-snp/gosev-milan-vcek.der'),
    chain: read('sev-snp/amd-milan-ask-ark.pem').toString('utf8'),
  };
  const snpAt = '2022-09-24T01:00:00Z';
  const sharedChain = new SnpChainCache();

  const tdxQuote = read('tdx/phala-v4-quote.dat');
  const tdxCollateral = JSON.parse(read('tdx/phala-v4-collateral.json').toString('utf8')) as IntelCollateral;
  const sgxQuote = read('sgx/phala-v3-quote.dat');
  const sgxCollateral = JSON.parse(read('sgx/phala-v3-collateral.json').toString('utf8')) as IntelCollateral;
  const nitroDoc = read('nitro/veracruz-2022-11-09.cbor');

  return [
    {
      id: 'snp',
      label: 'SEV-SNP gosev Milan v2 + VCEK + Milan ASK/ARK @ 2022-09-24T01:00:00Z',
      cold: () => void verifySnpReport(snpReport, snpEndorsements, { product: 'milan', chainCache: new SnpChainCache() }, ctxAt(snpAt)),
      cached: () => void verifySnpReport(snpReport, snpEndorsements, { product: 'milan', chainCache: sharedChain }, ctxAt(snpAt)),
      cacheNote: 'SnpChainCache shared across calls (VCEK→ASK→ARK RSA-PSS links skipped)',
    },
    {
      id: 'tdx',
      label: 'TDX phala-v4 + dcap-qvl collateral @ 2025-07-19T10:00:34Z',
      cold: () => void verifyIntelQuote(tdxQuote, tdxCollateral, ctxAt('2025-07-19T10:00:34Z')),
      cacheNote: 'none: verifyIntelQuote offers no cache',
    },
    {
      id: 'sgx',
      label: 'SGX phala-v3 + dcap-qvl collateral @ 2025-07-01T00:00:00Z',
      cold: () => void verifyIntelQuote(sgxQuote, sgxCollateral, ctxAt('2025-07-01T00:00:00Z')),
      cacheNote: 'none: verifyIntelQuote offers no cache',
    },
    {
      id: 'nitro',
      label: 'Nitro veracruz 2022-11-09 @ 2022-11-09T23:30:00Z',
      cold: () => void verifyNitroDocument(nitroDoc, ctxAt('2022-11-09T23:30:00Z')),
      cacheNote: 'none: verifyNitroDocument offers no cache',
    },
  ];
}
