/**
 * Optional appraisal by a Rego policy compiled to WebAssembly, after every
 * built-in check has passed: the policy sees the verified result (the same
 * fields `enclave-gate verify --json` prints) and must return
 * `{ "allow": true }` for the verdict to stand. Anything else (a deny, an
 * undefined or malformed decision, an evaluation that throws) turns the
 * verdict into EG_VERIFY_REFERENCE_VALUES: appraisal fails closed.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { VerifyError, describeThrown } from '../errors.js';
import { type Transcript } from './types.js';
import { failureVerdict, verdictJson, verifiedOf, type Verdict } from './verdict.js';

/** A loaded appraisal policy. */
export interface AppraisalPolicy {
  /** Entrypoint evaluated, e.g. `appraisal/decision`. */
  readonly entrypoint: string;
  /** Evaluates the decision for one verdict; never throws. */
  decide(input: unknown): { allow: boolean; reasons: readonly string[]; problem?: string };
}

/**
 * Loads an appraisal policy from the wasm module of an `opa build -t wasm`
 * bundle (`/policy.wasm`). `entrypoint` may be omitted when the module has
 * exactly one.
 */
export async function loadAppraisalPolicy(wasm: Uint8Array, entrypoint?: string): Promise<AppraisalPolicy> {
  let policy: LoadedPolicy;
  try {
    // Verdicts are small; a bounded memory keeps a hostile policy from growing without limit.
    policy = await loadPolicy(wasm, { initial: 8, maximum: 512 });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_USAGE', `appraisal policy: the wasm module does not load (${describeThrown(cause)})`, { cause });
  }
  const names = Object.keys(policy.entrypoints);
  const chosen = entrypoint ?? (names.length === 1 ? names[0] : undefined);
  if (chosen === undefined || !(chosen in policy.entrypoints)) {
    throw new VerifyError('EG_VERIFY_USAGE', `appraisal policy: give the entrypoint to evaluate (the module has: ${names.join(', ') || 'none'})`);
  }
  return {
    entrypoint: chosen,
    decide(input) {
      let raw: unknown;
      try {
        raw = policy.evaluate(input, chosen);
      } catch (thrown) {
        return { allow: false, reasons: [], problem: `evaluation failed: ${describeThrown(thrown)}` };
      }
      const result = Array.isArray(raw) && raw.length === 1 ? (raw[0] as { result?: unknown }).result : undefined;
      if (typeof result !== 'object' || result === null) return { allow: false, reasons: [], problem: 'the decision is undefined or not an object' };
      const { allow, reasons } = result as { allow?: unknown; reasons?: unknown };
      const list = Array.isArray(reasons) && reasons.every((r) => typeof r === 'string') ? (reasons as string[]) : undefined;
      if (typeof allow !== 'boolean' || (reasons !== undefined && list === undefined)) {
        return { allow: false, reasons: [], problem: 'the decision is not {allow: boolean, reasons?: [string]}' };
      }
      return { allow, reasons: list ?? [] };
    },
  };
}

/** Applies `policy` to a successful verdict; failures pass through unchanged. */
export function applyAppraisalPolicy(verdict: Verdict, policy: AppraisalPolicy | undefined, transcript: Transcript): Verdict {
  if (policy === undefined || !verdict.ok) return verdict;
  // The verdict as `verify --json` prints it, without the transcript.
  const { steps: _steps, ...input } = verdictJson(verdict);
  const decision = policy.decide(input);
  if (decision.allow) {
    transcript.pass('appraise.policy', `appraisal policy ${policy.entrypoint} allows${decision.reasons.length ? ` (${decision.reasons.join(', ')})` : ''}`);
    return { ...verdict, steps: [...transcript.steps] };
  }
  const detail = decision.problem ?? `appraisal policy ${policy.entrypoint} denies: ${decision.reasons.join(', ') || 'no reason given'}`;
  transcript.fail('appraise.policy', 'EG_VERIFY_REFERENCE_VALUES', detail);
  return failureVerdict(new VerifyError('EG_VERIFY_REFERENCE_VALUES', detail), transcript, verdict.platform, verifiedOf(verdict));
}
