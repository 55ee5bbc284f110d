/**
 * Simulated provider: development only. Evidence is signed by the published
 * simulation root (wire/simulated-evidence.ts), so it is forgeable by anyone;
 * verifiers reject it unless told `allowSimulated`.
 */
import { createHash } from 'node:crypto';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { encodeSimulatedEvidence } from '../wire/simulated-evidence.js';
import type { Evidence, EvidenceProvider } from './provider.js';

/** Options for the simulated provider. */
export interface SimulatedProviderOptions {
  /** 48-byte measurement to report; defaults to SHA-384 of a fixed label. */
  readonly measurement?: Uint8Array;
  /** Clock, injectable for tests. */
  readonly now?: () => Date;
}

/** The measurement a simulated TEE reports when none is configured. */
export const DEFAULT_SIMULATED_MEASUREMENT = new Uint8Array(
  createHash('sha384').update('enclave-gate simulated measurement').digest(),
);

/** Creates the simulated provider. */
export function createSimulatedProvider(options: SimulatedProviderOptions = {}): EvidenceProvider {
  const measurement = options.measurement ?? DEFAULT_SIMULATED_MEASUREMENT;
  const now = options.now ?? (() => new Date());
  return {
    name: 'simulated',
    platform: 'simulated',
    insecure: true,
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      const evidence = encodeSimulatedEvidence({ measurement, reportData, issuedAt: now().getTime() / 1000 });
      return { tag: EVIDENCE_TAG.simulated, evidence };
    },
  };
}
