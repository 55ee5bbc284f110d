/**
 * Chooses the evidence provider named by the configuration. Hardware
 * providers come wrapped in the rate limiter and cache (caching.ts), because
 * every caller (certificate issuance, the freshness endpoint) shares one
 * device; `simulated` is wrapped only when asked to, so tests stay instant.
 */
import { existsSync } from 'node:fs';
import { EnclaveGateError } from '../errors.js';
import { createAutoProvider, type AutoProvider, type DetectionStep } from './auto.js';
import { createCachingProvider, type CachingOptions } from './caching.js';
import { DEFAULT_CONFIGFS_ROOT, createConfigfsTsmProvider, type TsmFileSystem } from './configfs-tsm.js';
import { DEFAULT_DSTACK_SOCKET, createDstackProvider } from './dstack.js';
import { DEFAULT_GRAMINE_DEVICE, createGramineProvider } from './gramine.js';
import { DEFAULT_TPM_DEVICE, createAzureVtpmProvider } from './azure-vtpm.js';
import { DEFAULT_NSM_DEVICE, createNitroProvider } from './nitro.js';
import type { TpmOpener } from './tpm2.js';
import { withGpuEvidence, type GpuReportSource } from './gpu.js';
import type { IoctlOpener } from './native-ioctl.js';
import type { EvidenceProvider, HardwareProviderName, ProbingProvider, ProviderName } from './provider.js';
import { createSimulatedProvider, type SimulatedProviderOptions } from './simulated.js';

export type { Evidence, EvidenceProvider, GetEvidenceOptions, HardwareProviderName, ProbingProvider, ProviderName } from './provider.js';
export { DEFAULT_SIMULATED_MEASUREMENT, createSimulatedProvider } from './simulated.js';
export { createConfigfsTsmProvider, DEFAULT_CONFIGFS_ROOT, type ConfigfsTsmOptions, type TsmFileSystem } from './configfs-tsm.js';
export { createGramineProvider, DEFAULT_GRAMINE_DEVICE, type GramineOptions } from './gramine.js';
export { createDstackProvider, DEFAULT_DSTACK_SOCKET, DSTACK_GET_QUOTE, type DstackOptions } from './dstack.js';
export { createNitroProvider, DEFAULT_NSM_DEVICE, NSM_IOCTL_RAW, encodeNsmAttestationRequest, type NitroOptions } from './nitro.js';
export { createAzureVtpmProvider, DEFAULT_TPM_DEVICE, DEFAULT_IMDS_URL, AZURE_IMDS, type AzureVtpmOptions } from './azure-vtpm.js';
export { Tpm, TpmError, openTpm, marshalCommand, TPM_CC, type TpmOpener, type TpmTransport } from './tpm2.js';
export { createNvmlGpuSource, NVML_LIBRARY, type NvmlOptions } from './nvml.js';
export { withGpuEvidence, encodeGpuEvidence, gpuNonce, type GpuAttestation, type GpuReportSource } from './gpu.js';
export { nativeIoctlOpener, type IoctlDevice, type IoctlOpener } from './native-ioctl.js';
export { createAutoProvider, detectProvider, type AutoProvider, type Detection, type DetectionStep } from './auto.js';
export { createCachingProvider, type CachingOptions, type CachingProvider, type CachingStats } from './caching.js';
export { GHCB_CERT_GUID, parseGhcbCertTable } from './ghcb-cert-table.js';
export { encodeSnpEndorsements, type SnpEndorsementCerts } from './snp-endorsements.js';

/** Provider options from the configuration. */
export interface ProviderOptions {
  readonly simulated?: SimulatedProviderOptions;
  /** configfs-tsm report directory (the kernel's is /sys/kernel/config/tsm/report). */
  readonly configfsRoot?: string;
  /** Gramine attestation pseudo-device directory. */
  readonly gramineDevice?: string;
  /** dstack guest agent socket. */
  readonly dstackSocket?: string;
  /**
   * Rate limit and cache (config: attestation.minQuoteIntervalMs,
   * evidenceCacheSeconds, maxQuoteWaitMs). Hardware providers always get
   * them, with defaults when absent; `simulated` only when this is given.
   */
  readonly cache?: CachingOptions;
  /** Nitro Secure Module device (default /dev/nsm). */
  readonly nsmDevice?: string;
  /** Stand-in for the NSM ioctl, for tests only. */
  readonly nsmOpen?: IoctlOpener;
  /** TPM for azure-vtpm: a device (default /dev/tpmrm0), a unix socket or tcp://host:port (swtpm). */
  readonly tpmDevice?: string;
  /** Stand-in TPM opener, for tests only. */
  readonly tpmOpen?: TpmOpener;
  /** Azure IMDS base URL (default http://169.254.169.254); tests point it at a fake. */
  readonly imdsUrl?: string;
  /** How long azure-vtpm waits for the paravisor to refresh the HCL report (default 10 s). */
  readonly hclWaitMs?: number;
  /**
   * GPU reports to carry beside the CPU evidence (CMW collection):
   * createNvmlGpuSource() on a host with NVIDIA GPUs in CC mode.
   */
  readonly gpuSource?: GpuReportSource;
  /** Stand-in for configfs, for tests only. */
  readonly configfsFileSystem?: TsmFileSystem;
}

/** What each hardware provider needs, for the error message. */
const REQUIREMENTS: Record<HardwareProviderName, (o: ProviderOptions) => { path: string; needs: string }> = {
  'configfs-tsm': (o) => ({ path: o.configfsRoot ?? DEFAULT_CONFIGFS_ROOT, needs: 'an SEV-SNP or TDX guest on Linux ≥ 6.7 with configfs mounted' }),
  gramine: (o) => ({ path: o.gramineDevice ?? DEFAULT_GRAMINE_DEVICE, needs: 'running inside a Gramine SGX enclave' }),
  dstack: (o) => ({ path: o.dstackSocket ?? DEFAULT_DSTACK_SOCKET, needs: 'a dstack TDX guest with the guest agent socket mounted' }),
  nitro: (o) => ({ path: o.nsmDevice ?? DEFAULT_NSM_DEVICE, needs: 'an AWS Nitro Enclave with the nsm driver' }),
  'azure-vtpm': (o) => ({ path: o.tpmDevice ?? DEFAULT_TPM_DEVICE, needs: 'an Azure confidential VM (SEV-SNP or TDX) with its vTPM' }),
};

function hardware(name: HardwareProviderName, options: ProviderOptions): ProbingProvider {
  switch (name) {
    case 'configfs-tsm':
      return createConfigfsTsmProvider({
        ...(options.configfsRoot === undefined ? {} : { root: options.configfsRoot }),
        ...(options.configfsFileSystem === undefined ? {} : { fs: options.configfsFileSystem }),
      });
    case 'gramine':
      return createGramineProvider(options.gramineDevice === undefined ? {} : { device: options.gramineDevice });
    case 'dstack':
      return createDstackProvider(options.dstackSocket === undefined ? {} : { socket: options.dstackSocket });
    case 'nitro':
      return createNitroProvider({
        ...(options.nsmDevice === undefined ? {} : { device: options.nsmDevice }),
        ...(options.nsmOpen === undefined ? {} : { open: options.nsmOpen }),
      });
    case 'azure-vtpm':
      return createAzureVtpmProvider({
        ...(options.tpmDevice === undefined ? {} : { device: options.tpmDevice }),
        ...(options.tpmOpen === undefined ? {} : { open: options.tpmOpen }),
        ...(options.imdsUrl === undefined ? {} : { imdsUrl: options.imdsUrl }),
        ...(options.hclWaitMs === undefined ? {} : { hclWaitMs: options.hclWaitMs }),
      });
  }
}

/**
 * Creates the provider `name`. A hardware provider whose device path is
 * missing throws EG_ATTESTATION_UNAVAILABLE at once, naming the path; other
 * device problems surface, typed, at the first getEvidence. `auto` detects
 * on its first call (see auto.ts).
 */
export function createProvider(name: ProviderName, options: ProviderOptions = {}): EvidenceProvider {
  if (name === 'simulated') {
    const simulated = withGpus(createSimulatedProvider(options.simulated), options);
    return options.cache === undefined ? simulated : createCachingProvider(simulated, options.cache);
  }
  if (name === 'auto') {
    const candidates = (['configfs-tsm', 'gramine', 'dstack', 'azure-vtpm', 'nitro'] as const).map((n) => hardware(n, options));
    return createCachingProvider(withGpus(createAutoProvider(candidates), options), options.cache);
  }
  const { path, needs } = REQUIREMENTS[name](options);
  // configfs-tsm's root and the NSM may be injected stand-ins; their providers report a missing path themselves.
  const injected = (name === 'configfs-tsm' && options.configfsFileSystem !== undefined) || (name === 'nitro' && options.nsmOpen !== undefined) ||
    (name === 'azure-vtpm' && (options.tpmOpen !== undefined || options.tpmDevice?.startsWith('tcp://') === true));
  if (!injected) {
    if (!existsSync(path)) {
      throw new EnclaveGateError('EG_ATTESTATION_UNAVAILABLE', `attestation provider "${name}" is not available on this host: ${path} does not exist (needs ${needs})`, {
        details: { provider: name, path },
      });
    }
  }
  return createCachingProvider(withGpus(hardware(name, options), options), options.cache);
}

/** Adds GPU evidence when a source is configured; inside the cache, so GPU reports are rate-limited and reused with the CPU's. */
function withGpus(provider: EvidenceProvider, options: ProviderOptions): EvidenceProvider {
  return options.gpuSource === undefined ? provider : withGpuEvidence(provider, options.gpuSource);
}

/**
 * Runs `auto` detection now when `provider` is (or wraps) the auto provider,
 * so start-up can fail early and log the choice with the right name; returns
 * the detection steps, or undefined for any other provider.
 */
export async function detectNow(provider: EvidenceProvider): Promise<readonly DetectionStep[] | undefined> {
  const target = 'inner' in provider ? (provider as { inner: EvidenceProvider }).inner : provider;
  if (!('detect' in target) || typeof (target as AutoProvider).detect !== 'function') return undefined;
  return (await (target as AutoProvider).detect()).steps;
}
