/**
 * The issuing side's view of a TEE: something that, given 64 bytes of report
 * data, returns hardware evidence binding them. Providers know nothing of TLS;
 * ratls/ decides what the report data is.
 */

/** Names accepted by `--attestation`. */
export type ProviderName = 'simulated' | 'configfs-tsm' | 'gramine' | 'dstack';

/** Evidence as a provider returns it. */
export interface Evidence {
  /** CBOR tag naming the format in the 2.23.133.5.4.9 extension (see wire/extension.ts). */
  readonly tag: number;
  /** Raw evidence bytes (report, quote, document). */
  readonly evidence: Uint8Array;
  /** Stapled endorsements (certificate chains, collateral), when the platform hands them out. */
  readonly endorsements?: Uint8Array;
}

/** One TEE evidence source. */
export interface EvidenceProvider {
  readonly name: ProviderName;
  /** Platform the evidence is for (`simulated`, `sev-snp`, `tdx`, `sgx`). */
  readonly platform: string;
  /** True for development evidence that proves nothing; callers must surface it loudly. */
  readonly insecure: boolean;
  /** Returns evidence whose report data equals `reportData` (exactly 64 bytes). */
  getEvidence(reportData: Uint8Array): Promise<Evidence>;
}
