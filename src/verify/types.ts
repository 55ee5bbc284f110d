/**
 * Types shared by every platform verifier. Each platform turns evidence bytes
 * into a `VerifiedEvidence` (parse → verify), appraisal then compares it with
 * reference values. Nothing here imports server code: `verify/` ships alone.
 */
import { VerifyError, type ErrorCode } from '../errors.js';

/** Platforms the verifier understands. */
export type Platform = 'sev-snp' | 'tdx' | 'sgx' | 'nitro' | 'azure-sev-snp' | 'azure-tdx' | 'nvidia-gpu' | 'simulated';

/** One line of the verification transcript that humans and auditors read. */
export interface VerifyStep {
  /** Short stable name, e.g. `snp.report.signature`. */
  readonly step: string;
  readonly ok: boolean;
  /** What was checked and against what; never secret material. */
  readonly detail?: string;
  /** The catalogue code when the step failed. */
  readonly code?: ErrorCode;
}

/** Collects steps in order; platform verifiers append to it as they go. */
export class Transcript {
  readonly steps: VerifyStep[] = [];

  pass(step: string, detail?: string): void {
    this.steps.push(detail === undefined ? { step, ok: true } : { step, ok: true, detail });
  }

  fail(step: string, code: ErrorCode, detail: string): void {
    this.steps.push({ step, ok: false, code, detail });
  }
}

/** Options every platform verifier accepts. */
export interface VerifyContext {
  /** Validation instant: certificates, CRLs and collateral are checked at it. */
  readonly at: Date;
  /** Steps are appended here. */
  readonly transcript: Transcript;
}

/**
 * What a platform verifier proved. Fields are hex strings so the result
 * serialises to JSON unchanged (CLI `--json`, policy input for mutual RA-TLS).
 */
export interface VerifiedEvidence {
  readonly platform: Platform;
  /** SNP MEASUREMENT, TDX MRTD, SGX MRENCLAVE, Nitro PCR0, simulated measurement. */
  readonly measurement: string;
  /** The 64 bytes of report data (Nitro: user_data, hex) the evidence carries. */
  readonly reportData: string;
  /** True when the TEE runs in a debug mode (SNP policy bit 19, TDX/SGX debug attribute, Nitro zero PCRs). */
  readonly debug: boolean;
  /** Platform TCB as reported and, where collateral was given, its status. */
  readonly tcb: Readonly<Record<string, unknown>>;
  /** Every other verified field, platform specific, JSON-safe. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Runs `fn`; a VerifyError it throws is recorded under `step` in the
 * transcript before it propagates, so the transcript names the failing step.
 */
export function recorded<T>(ctx: VerifyContext, step: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof VerifyError) ctx.transcript.fail(step, error.code, error.message);
    throw error;
  }
}
