/**
 * The SEV-SNP vectors (test/vectors/sev-snp, README §1) with the
 * validation instant each test uses (inside the VEK window the README gives)
 * and the endorsements each needs. Values asserted in tests come from the
 * README, not from running this code.
 */
import { Transcript, type VerifyContext } from '../../../../src/verify/types.js';
import type { SnpEndorsements, SnpProduct } from '../../../../src/verify/sev-snp/index.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

/** A fresh context at `iso`. */
export function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

/** Reads a file from vectors/sev-snp. */
export const snp = (file: string): Buffer => vector(`sev-snp/${file}`);
/** Reads a text file from vectors/sev-snp. */
export const snpText = (file: string): string => vectorText(`sev-snp/${file}`);

/** One report vector and how to verify it. */
export interface ReportCase {
  readonly name: string;
  readonly report: string;
  readonly endorsements: () => SnpEndorsements;
  readonly product?: SnpProduct;
  /** Validation instant inside the VEK window. */
  readonly at: string;
  /** The README's VEK window (validity), for the outcome table. */
  readonly window: string;
}

export const REPORT_CASES: readonly ReportCase[] = [
  {
    name: 'gosev Milan v2 (product milan)',
    report: 'gosev-milan-report.bin',
    endorsements: () => ({ vek: snp('gosev-milan-vcek.der'), chain: snpText('amd-milan-ask-ark.pem') }),
    product: 'milan',
    // go-sev-guest's own chain-test instant.
    at: '2022-09-24T01:00:00Z',
    window: '2022-09-24T00:55:28Z → 2029-09-24T00:55:28Z',
  },
  {
    name: 'virtee Milan v2',
    report: 'virtee-milan-report.bin',
    endorsements: () => ({ vek: snp('virtee-milan-vcek.der'), chain: snpText('amd-milan-ask-ark.pem') }),
    at: '2025-01-01T00:00:00Z',
    window: '2023-04-03T19:23:43Z → 2030-04-03T19:23:43Z',
  },
  {
    name: 'trustee Milan v2',
    report: 'trustee-milan-report.bin',
    endorsements: () => ({ vek: snp('trustee-milan-vcek.der'), chain: snpText('amd-milan-ask-ark.pem') }),
    at: '2025-01-01T00:00:00Z',
    window: '2023-01-24T17:58:26Z → 2030-01-24T17:58:26Z',
  },
  {
    name: 'trustee Milan VLEK v3',
    report: 'trustee-milan-vlek-report.bin',
    endorsements: () => ({ vek: snp('trustee-milan-vlek.der'), chain: snpText('amd-milan-asvk-ark.pem') }),
    at: '2025-06-01T00:00:00Z',
    window: '2024-12-10T22:14:21Z → 2025-12-10T22:14:21Z',
  },
  {
    name: 'trustee Genoa v3',
    report: 'trustee-genoa-report.bin',
    endorsements: () => ({ vek: snp('trustee-genoa-vcek.der'), chain: snpText('amd-genoa-ask-ark.pem') }),
    at: '2026-01-01T00:00:00Z',
    window: '2025-05-27T17:57:03Z → 2032-05-27T17:57:03Z',
  },
  {
    name: 'azure Milan v2 (cut from HCL)',
    report: 'azure-milan-report.bin',
    // One PEM bundle VCEK + ASK + ARK, as Azure serves it.
    endorsements: () => ({ vek: snpText('azure-milan-vcek-ask-ark.pem') }),
    at: '2025-01-01T00:00:00Z',
    window: '2023-05-02T21:22:19Z → 2030-05-02T21:22:19Z',
  },
  {
    name: 'azure Genoa v3 (cut from HCL)',
    report: 'azure-genoa-report.bin',
    endorsements: () => ({ vek: snpText('azure-genoa-vcek.pem'), chain: snpText('amd-genoa-ask-ark.pem') }),
    at: '2026-01-01T00:00:00Z',
    window: '2025-01-24T02:21:48Z → 2032-01-24T02:21:48Z',
  },
  {
    name: 'dstack Milan v3',
    report: 'dstack-milan-report.bin',
    // dstack ships the ASK only; the ARK comes from the AMD Milan bundle.
    endorsements: () => ({
      vek: snpText('dstack-milan-vcek.pem'),
      chain: [snpText('dstack-milan-ask.pem'), snpText('amd-milan-ask-ark.pem')],
    }),
    at: '2026-07-01T00:00:00Z',
    window: '2026-06-17T01:05:04Z → 2033-06-17T01:05:04Z',
  },
];

/** Every AMD ASK/ASVK/ARK bundle in one list: the "try each pinned chain" input. */
export function allAmdChains(): string[] {
  return ['milan', 'genoa', 'turin'].flatMap((p) => [snpText(`amd-${p}-ask-ark.pem`), snpText(`amd-${p}-asvk-ark.pem`)]);
}

/** A copy of `bytes` with `edit` applied. */
export function edited(bytes: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const copy = new Uint8Array(bytes);
  edit(copy);
  return copy;
}
