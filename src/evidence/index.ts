/**
 * Chooses the evidence provider named by the configuration. Only `simulated`
 * is implemented so far; the hardware providers report precisely why they
 * cannot run here instead of crashing at the first quote.
 */
import { existsSync } from 'node:fs';
import { EnclaveGateError } from '../errors.js';
import type { EvidenceProvider, ProviderName } from './provider.js';
import { createSimulatedProvider, type SimulatedProviderOptions } from './simulated.js';

export type { Evidence, EvidenceProvider, ProviderName } from './provider.js';
export { DEFAULT_SIMULATED_MEASUREMENT } from './simulated.js';

/** Provider options from the configuration. */
export interface ProviderOptions {
  readonly simulated?: SimulatedProviderOptions;
  /** configfs-tsm report directory (the kernel's is /sys/kernel/config/tsm/report). */
  readonly configfsRoot?: string;
  /** Gramine attestation pseudo-device directory. */
  readonly gramineDevice?: string;
  /** dstack guest agent socket. */
  readonly dstackSocket?: string;
}

/** What each hardware provider needs, for the error message. */
const REQUIREMENTS: Record<Exclude<ProviderName, 'simulated'>, (o: ProviderOptions) => { path: string; needs: string }> = {
  'configfs-tsm': (o) => ({ path: o.configfsRoot ?? '/sys/kernel/config/tsm/report', needs: 'an SEV-SNP or TDX guest on Linux ≥ 6.7 with configfs mounted' }),
  gramine: (o) => ({ path: o.gramineDevice ?? '/dev/attestation', needs: 'running inside a Gramine SGX enclave' }),
  dstack: (o) => ({ path: o.dstackSocket ?? '/var/run/dstack.sock', needs: 'a dstack TDX guest with the guest agent socket mounted' }),
};

/** Creates the provider `name`, or throws EG_ATTESTATION_UNAVAILABLE saying why it cannot run here. */
export function createProvider(name: ProviderName, options: ProviderOptions = {}): EvidenceProvider {
  if (name === 'simulated') return createSimulatedProvider(options.simulated);
  const { path, needs } = REQUIREMENTS[name](options);
  if (!existsSync(path)) {
    throw new EnclaveGateError('EG_ATTESTATION_UNAVAILABLE', `attestation provider "${name}" is not available on this host: ${path} does not exist (needs ${needs})`, {
      details: { provider: name, path },
    });
  }
  throw new EnclaveGateError('EG_ATTESTATION_UNAVAILABLE', `attestation provider "${name}" is not available on this host: ${path} exists, but this build does not drive it yet`, {
    details: { provider: name, path },
  });
}
