/**
 * The one result type of the top-level verifier functions. Failures are
 * values, not exceptions: a caller (the CLI, the dispatcher, a policy that
 * consumes mutual RA-TLS claims) always gets the transcript of what was
 * checked, and branches on `ok` and `code` alone.
 *
 * Success and failure verdicts carry different fields on purpose: evidence
 * fields (`measurement`, `tcb`, …) appear only when `ok` is true, so code that
 * reads `verdict.measurement` without looking at `ok` cannot mistake the
 * measurement of rejected evidence for an accepted one.
 */
import { ERRORS, EXIT, VerifyError, describeThrown, type ErrorCode } from '../errors.js';
import type { Platform, Transcript, VerifiedEvidence, VerifyStep } from './types.js';

/** How the certificate bound its evidence to its key. */
export type RatlsFormat = 'enclave-gate' | 'open-enclave' | 'evervault';

/** What the certificate's claims bind, as the verifier saw them (hashes as `alg:hex`). */
export interface RatlsBinding {
  /** Which certificate format carried the evidence. */
  readonly format: RatlsFormat;
  /** Hash of the certificate's DER SubjectPublicKeyInfo, `sha-384:<hex>`. */
  readonly pubkeyHash: string;
  /** Hash of the policy bundle the server enforces; absent for foreign formats. */
  readonly policyHash?: string;
  /** Verifier-chosen nonce carried in the claims, hex. */
  readonly nonce?: string;
  /** TLS exporter value carried in the claims, hex. */
  readonly tlsExporter?: string;
  /** Hash of the SPKI of the key that signs the server's decision log (`sha-256:<hex>`; docs/audit.md); absent when it keeps none. */
  readonly auditKeyHash?: string;
}

/** The outcome of one verification, with the transcript of every step. */
export interface Verdict {
  /** True only when every check passed. */
  readonly ok: boolean;
  /** The platform, whenever it was known before the failure (always on success). */
  readonly platform?: Platform;
  /** Success only: SNP MEASUREMENT, TDX MRTD, SGX MRENCLAVE, Nitro PCR0 (hex). */
  readonly measurement?: string;
  /** Success only: the evidence's report data (Nitro: user_data), hex. */
  readonly reportData?: string;
  /** Success only: platform TCB and, where collateral was given, its status. */
  readonly tcb?: Readonly<Record<string, unknown>>;
  /** Success only: true when the TEE runs in debug mode (then allowDebug was set). */
  readonly debug?: boolean;
  /** Success only: every other verified field, platform specific. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Success only, certificates only: what the certificate binds. */
  readonly ratls?: RatlsBinding;
  /**
   * Success only: the earliest instant (ISO 8601) at which something this
   * verdict relied on stops being valid (the certificate, a VEK, a Nitro
   * signing certificate, Intel collateral). A cached verdict must not be
   * reused after it.
   */
  readonly validUntil?: string;
  /** Failure only: the catalogue code of the first failed check. */
  readonly code?: ErrorCode;
  /** Failure only: what failed, for humans. */
  readonly message?: string;
  /**
   * Failure only: what the evidence's signature and chain checks had already
   * established when a later step (binding, reference values, debug,
   * simulated, appraisal policy) refused it. Reported so an operator can see
   * which measurement was turned away; never an accepted result.
   */
  readonly verified?: VerifiedEvidence;
  /** Every step, in order; on failure the last one is the failed step. */
  readonly steps: readonly VerifyStep[];
}

/** Extra fields a successful certificate verification adds. */
export interface SuccessExtras {
  readonly ratls?: RatlsBinding;
  readonly validUntil?: Date;
}

/** Builds the verdict of a verification that passed every check. */
export function successVerdict(evidence: VerifiedEvidence, transcript: Transcript, extras: SuccessExtras = {}): Verdict {
  return {
    ok: true,
    platform: evidence.platform,
    measurement: evidence.measurement,
    reportData: evidence.reportData,
    tcb: evidence.tcb,
    debug: evidence.debug,
    claims: evidence.claims,
    ...(extras.ratls === undefined ? {} : { ratls: extras.ratls }),
    ...(extras.validUntil === undefined ? {} : { validUntil: extras.validUntil.toISOString() }),
    steps: [...transcript.steps],
  };
}

/**
 * Turns anything thrown into a failure verdict. A VerifyError keeps its code;
 * anything else is a bug or a hostile input that slipped past a parser, and
 * fails closed as EG_VERIFY_PARSE. The transcript always ends with a failed
 * step, so a reader never sees a run of ✓ followed by "FAILED".
 */
export function failureVerdict(error: unknown, transcript: Transcript, platform?: Platform, verified?: VerifiedEvidence): Verdict {
  let code: ErrorCode;
  let message: string;
  if (error instanceof VerifyError) {
    code = error.code;
    message = error.message;
  } else {
    code = 'EG_VERIFY_PARSE';
    message = `unexpected failure: ${describeThrown(error)}`;
  }
  const last = transcript.steps.at(-1);
  if (last === undefined || last.ok || last.code !== code) transcript.fail('verify', code, message);
  const checked = verified ?? verifiedInDetails(error);
  return {
    ok: false,
    ...(platform === undefined ? {} : { platform }),
    code,
    message,
    ...(checked === undefined ? {} : { verified: checked }),
    steps: [...transcript.steps],
  };
}

/** Evidence a platform verifier attached to its refusal (simulated evidence without allowSimulated). */
function verifiedInDetails(error: unknown): VerifiedEvidence | undefined {
  if (!(error instanceof VerifyError)) return undefined;
  const candidate = error.details?.['verified'] as VerifiedEvidence | undefined;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.measurement === 'string' ? candidate : undefined;
}

/** The evidence fields of a successful verdict, for a later step that refuses it. */
export function verifiedOf(verdict: Verdict): VerifiedEvidence | undefined {
  if (!verdict.ok || verdict.platform === undefined || verdict.measurement === undefined) return undefined;
  return {
    platform: verdict.platform,
    measurement: verdict.measurement,
    reportData: verdict.reportData ?? '',
    debug: verdict.debug === true,
    tcb: verdict.tcb ?? {},
    claims: verdict.claims ?? {},
  };
}

/** The process exit code for a verdict: 0 when it passed, else its code's EXIT class. */
export function verdictExitCode(verdict: Verdict): number {
  if (verdict.ok) return EXIT.ok;
  return verdict.code === undefined ? EXIT.parse : ERRORS[verdict.code].exitCode;
}

/** The JSON the CLI prints with `--json` (and a stable shape for logs). */
export function verdictJson(verdict: Verdict): Record<string, unknown> {
  return {
    ok: verdict.ok,
    platform: verdict.platform ?? null,
    measurement: verdict.measurement ?? null,
    reportData: verdict.reportData ?? null,
    tcb: verdict.tcb ?? null,
    debug: verdict.debug ?? null,
    ...(verdict.ratls === undefined ? {} : { ratls: verdict.ratls }),
    ...(verdict.validUntil === undefined ? {} : { validUntil: verdict.validUntil }),
    ...(verdict.claims === undefined ? {} : { claims: verdict.claims }),
    ...(verdict.code === undefined ? {} : { code: verdict.code, message: verdict.message ?? ERRORS[verdict.code].title }),
    ...(verdict.verified === undefined
      ? {}
      : {
          verified: {
            measurement: verdict.verified.measurement,
            reportData: verdict.verified.reportData,
            tcb: verdict.verified.tcb,
            debug: verdict.verified.debug,
            claims: verdict.verified.claims,
          },
        }),
    steps: verdict.steps,
  };
}

/**
 * Renders a verdict for humans: one line per step (✓ or ✗, step name,
 * detail), then a summary. Plain text, no colour codes, so it can be pasted
 * into a ticket or an audit log unchanged.
 */
export function formatVerdict(verdict: Verdict): string {
  const width = Math.min(32, Math.max(0, ...verdict.steps.map((s) => s.step.length)));
  const lines = verdict.steps.map((s) => {
    const mark = s.ok ? '✓' : '✗';
    const detail = s.ok ? (s.detail ?? '') : `${s.code ?? 'EG_VERIFY_PARSE'}: ${s.detail ?? ''}`;
    return `${mark} ${s.step.padEnd(width)}  ${detail}`.trimEnd();
  });
  lines.push('');
  if (verdict.ok) {
    lines.push(`VERIFIED (${verdict.platform ?? 'unknown platform'})`);
    const row = (label: string, value: string): void => {
      lines.push(`  ${label.padEnd(12)} ${value}`);
    };
    row('measurement', verdict.measurement || '(none)');
    row('report data', verdict.reportData || '(none)');
    row('debug', String(verdict.debug));
    row('tcb', JSON.stringify(verdict.tcb ?? {}));
    if (verdict.ratls !== undefined) {
      row('format', verdict.ratls.format);
      row('pubkey hash', verdict.ratls.pubkeyHash);
      if (verdict.ratls.policyHash !== undefined) row('policy hash', verdict.ratls.policyHash);
      if (verdict.ratls.nonce !== undefined) row('nonce', verdict.ratls.nonce);
      if (verdict.ratls.auditKeyHash !== undefined) row('audit key hash', verdict.ratls.auditKeyHash);
    }
    if (verdict.validUntil !== undefined) row('valid until', verdict.validUntil);
    if (verdict.platform === 'simulated') lines.push('  WARNING: simulated evidence proves nothing about where the code runs');
    if (verdict.debug === true) lines.push('  WARNING: debug TEE: its memory is readable by the host');
  } else {
    const code = verdict.code ?? 'EG_VERIFY_PARSE';
    lines.push(`FAILED ${code} (exit ${verdictExitCode(verdict)}): ${verdict.message ?? ERRORS[code].title}`);
    if (verdict.verified !== undefined) {
      lines.push(`  refused evidence, signature checked: measurement ${verdict.verified.measurement || '(none)'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
