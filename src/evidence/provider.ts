/**
 * The issuing side's view of a TEE: something that, given 64 bytes of report
 * data, returns hardware evidence binding them. Providers know nothing of TLS;
 * ratls/ decides what the report data is.
 */

/**
 * Names accepted by `--attestation`. `auto` is a choice, not a source: the
 * provider it returns reports the concrete name once detection has run.
 */
export type ProviderName = 'simulated' | 'configfs-tsm' | 'gramine' | 'dstack' | 'nitro' | 'azure-vtpm' | 'auto';

/** Providers that talk to real hardware (what `auto` picks from). */
export type HardwareProviderName = 'configfs-tsm' | 'gramine' | 'dstack' | 'nitro' | 'azure-vtpm';

/** Evidence as a provider returns it. */
export interface Evidence {
  /** CBOR tag naming the format in the 2.23.133.5.4.9 extension (see wire/extension.ts). */
  readonly tag: number;
  /** Raw evidence bytes (report, quote, document). */
  readonly evidence: Uint8Array;
  /** Stapled endorsements (certificate chains, collateral), when the platform hands them out. */
  readonly endorsements?: Uint8Array;
  /**
   * GPU evidence made for the same report data (one CoCo device_evidence_list
   * JSON per GPU), carried beside the CPU evidence in the CMW collection.
   */
  readonly gpus?: readonly Uint8Array[];
  /**
   * Things the operator should know that did not stop issuance, e.g. a host
   * certificate table that could not be stapled. Callers log them.
   */
  readonly warnings?: readonly string[];
}

/** Per-call options; providers that cannot use them ignore them. */
export interface GetEvidenceOptions {
  /** Gives up waiting (in a queue) when aborted; a quote already running still finishes. */
  readonly signal?: AbortSignal;
  /**
   * What the report data binds, for platforms whose evidence has fields of
   * its own for them (Nitro's `public_key` and `nonce`): the DER
   * SubjectPublicKeyInfo of the TLS key and the client's freshness nonce.
   * The report data already binds both (through the claims hash), so
   * providers without such fields ignore them.
   */
  readonly publicKey?: Uint8Array;
  readonly nonce?: Uint8Array;
}

/** One TEE evidence source. */
export interface EvidenceProvider {
  readonly name: ProviderName;
  /**
   * Platform the evidence is for (`simulated`, `sev-snp`, `tdx`, `sgx`).
   * Providers that learn it from the device (configfs-tsm, auto) report
   * `unknown` until their first evidence or probe.
   */
  readonly platform: string;
  /** True for development evidence that proves nothing; callers must surface it loudly. */
  readonly insecure: boolean;
  /** Returns evidence whose report data equals `reportData` (exactly 64 bytes). */
  getEvidence(reportData: Uint8Array, options?: GetEvidenceOptions): Promise<Evidence>;
}

/** A hardware provider that can check, without producing evidence, that it would work here. */
export interface ProbingProvider extends EvidenceProvider {
  /** Resolves when the device answers; rejects with EG_ATTESTATION_UNAVAILABLE/FAILED saying why not. */
  probe(): Promise<void>;
}
