/**
 * Simulated evidence (development only): checks the signature by the
 * published simulation root and turns the body into VerifiedEvidence.
 *
 * The signature is checked even though anyone can forge it: a bad signature
 * means the bytes were damaged or are not simulated evidence at all, which
 * is a different failure from "simulated evidence is not allowed". The
 * allow-check comes last so the transcript says what the evidence was
 * (its measurement) before refusing it.
 */
import { VerifyError } from '../../errors.js';
import { decodeSimulatedEvidence, type SimulatedEvidenceBody } from '../../wire/simulated-evidence.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import { toHex as hex } from '../bytes.js';

/** Options of {@link verifySimulatedEvidence}. */
export interface SimulatedVerifyOptions {
  /** Accept simulated evidence. Default false → EG_VERIFY_SIMULATED after the signature check. */
  readonly allowSimulated?: boolean;
}


/**
 * Verifies simulated evidence at `ctx.at`. Steps: `simulated.signature`
 * (parse and simulation-root signature), `simulated.allowed`.
 *
 * The result has platform 'simulated', the 48-byte measurement, the 64 bytes
 * of report data, `debug` false, `tcb` {} and `claims.issuedAt`.
 *
 * @throws VerifyError EG_VERIFY_PARSE / EG_VERIFY_UNSUPPORTED (format),
 *   EG_VERIFY_SIGNATURE, EG_VERIFY_SIMULATED (unless `allowSimulated`).
 */
export function verifySimulatedEvidence(bytes: Uint8Array, ctx: VerifyContext, options: SimulatedVerifyOptions = {}): VerifiedEvidence {
  let body: SimulatedEvidenceBody;
  try {
    body = decodeSimulatedEvidence(bytes);
  } catch (error) {
    if (error instanceof VerifyError) ctx.transcript.fail('simulated.signature', error.code, error.message);
    throw error;
  }
  const measurement = hex(body.measurement);
  const issuedAt = Number.isFinite(body.issuedAt) ? new Date(body.issuedAt * 1000) : undefined;
  const issued = issuedAt !== undefined && !Number.isNaN(issuedAt.getTime()) ? issuedAt.toISOString() : 'unknown';
  ctx.transcript.pass('simulated.signature', `signed by the published simulation root (forgeable by anyone); measurement ${measurement}, issued ${issued}`);
  const evidence: VerifiedEvidence = Object.freeze({
    platform: 'simulated',
    measurement,
    reportData: hex(body.reportData),
    debug: false,
    tcb: Object.freeze({}),
    claims: Object.freeze({ issuedAt: issued }),
  });
  if (options.allowSimulated !== true) {
    const detail =
      'evidence is simulated: it proves nothing about where the code runs (to accept it in development: --allow-simulated on the CLI, allowSimulated: true in the library or reference values)';
    ctx.transcript.fail('simulated.allowed', 'EG_VERIFY_SIMULATED', detail);
    // The refusal still reports what the signature established (verify --json prints it).
    throw new VerifyError('EG_VERIFY_SIMULATED', detail, { details: { verified: evidence } });
  }
  ctx.transcript.pass('simulated.allowed', 'WARNING: simulated evidence accepted because allowSimulated is set');
  return evidence;
}
