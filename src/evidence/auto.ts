/**
 * `auto`: finds the hardware provider that works on this host. Order:
 * configfs-tsm (the kernel's own interface, SNP and TDX), then Gramine
 * (only inside an SGX enclave), then dstack (its agent may sit beside a
 * configfs that is not mounted into the container). Each is *probed*, not
 * just looked for: configfs-tsm must create a report directory and name a
 * known TSM provider, Gramine must report DCAP, the dstack socket must accept
 * a connection, the vTPM (azure-vtpm) must hold Azure's HCL report index and
 * attestation key, the NSM (nitro, last: only inside a Nitro Enclave) must
 * answer DescribeNSM. `simulated` is never a candidate: development evidence must
 * be asked for by name.
 */
import { EnclaveGateError, describeThrown } from '../errors.js';
import type { Evidence, EvidenceProvider, GetEvidenceOptions, HardwareProviderName, ProbingProvider } from './provider.js';

/** What detection concluded about one candidate. */
export interface DetectionStep {
  readonly provider: HardwareProviderName;
  readonly chosen: boolean;
  /** Why it was skipped (the probe's error message), or `probe succeeded`. */
  readonly reason: string;
}

/** The chosen provider and the reasoning, for the start-up log. */
export interface Detection {
  readonly provider: ProbingProvider;
  readonly steps: readonly DetectionStep[];
}

/**
 * Probes `candidates` in order and returns the first that answers. Throws
 * EG_ATTESTATION_UNAVAILABLE naming every candidate and why it was skipped.
 */
export async function detectProvider(candidates: readonly ProbingProvider[]): Promise<Detection> {
  const steps: DetectionStep[] = [];
  for (const candidate of candidates) {
    const name = candidate.name as HardwareProviderName;
    try {
      await candidate.probe();
      steps.push({ provider: name, chosen: true, reason: 'probe succeeded' });
      return { provider: candidate, steps };
    } catch (error) {
      steps.push({ provider: name, chosen: false, reason: describeThrown(error instanceof EnclaveGateError ? error.message : error) });
    }
  }
  const tried = steps.map((s) => `${s.provider}: ${s.reason}`).join('; ');
  throw new EnclaveGateError(
    'EG_ATTESTATION_UNAVAILABLE',
    `attestation provider "auto" found no TEE on this host (tried ${tried}). The simulated provider is never chosen automatically; for development ask for it with --attestation simulated`,
    { details: { provider: 'auto', tried: steps.map((s) => ({ provider: s.provider, reason: s.reason })) } },
  );
}

/** The `auto` provider: detection runs on the first call; until then name is `auto` and platform `unknown`. */
export interface AutoProvider extends EvidenceProvider {
  /** Runs detection now (idempotent once it succeeded); use it to fail or log at start-up. */
  detect(): Promise<Detection>;
}

/**
 * Creates the lazy `auto` provider. Detection is deferred because it is
 * asynchronous (it talks to devices) while provider creation is not; a
 * failed detection is retried on the next call, since a socket or module
 * may appear later.
 */
export function createAutoProvider(candidates: readonly ProbingProvider[]): AutoProvider {
  let detection: Detection | undefined;
  let pending: Promise<Detection> | undefined;

  function detect(): Promise<Detection> {
    if (detection !== undefined) return Promise.resolve(detection);
    pending ??= detectProvider(candidates).then(
      (found) => {
        detection = found;
        return found;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  }

  return {
    get name() {
      return detection?.provider.name ?? 'auto';
    },
    get platform() {
      return detection?.provider.platform ?? 'unknown';
    },
    insecure: false,
    detect,
    async getEvidence(reportData: Uint8Array, options?: GetEvidenceOptions): Promise<Evidence> {
      const { provider } = await detect();
      return provider.getEvidence(reportData, options);
    },
  };
}
