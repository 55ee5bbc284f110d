/**
 * Appraisal of verified Intel evidence against reference values: debug,
 * TCB status and advisories from collateral, and measurement allowlists.
 * Every default is the strict one; each relaxation is an explicit key.
 */
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import { TCB_STATUSES, type IntelTcbStatus } from './tcb.js';

/** Hex allowlist keys of TDX evidence and the byte length of each value. */
const TDX_LISTS = {
  mrTd: 48,
  rtmr0: 48,
  rtmr1: 48,
  rtmr2: 48,
  rtmr3: 48,
  mrSeam: 48,
  mrConfigId: 48,
  mrOwner: 48,
  mrOwnerConfig: 48,
  mrServiceTd: 48,
} as const;
/** TDX allowlists that identify the workload (the others pin the platform or its configuration). */
const TDX_IDENTIFYING = new Set<string>(['mrTd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']);
/** Hex allowlist keys of SGX evidence and the byte length of each value. */
const SGX_LISTS = { mrEnclave: 32, mrSigner: 32 } as const;

type TdxListKey = keyof typeof TDX_LISTS;
type SgxListKey = keyof typeof SGX_LISTS;

/**
 * Reference values for Intel TDX / SGX evidence. Allowlists hold lower-case
 * or upper-case hex; an evidence value must equal one entry.
 */
export interface IntelReferenceValues {
  /** TCB statuses accepted (after merging platform, TDX module and QE). Default ['UpToDate']. `Revoked` can never be accepted. */
  readonly acceptedTcbStatuses?: readonly IntelTcbStatus[];
  /** Intel advisories (e.g. INTEL-SA-00615) the matched TCB level may list. Default none: any listed advisory rejects. */
  readonly acceptedAdvisories?: readonly string[];
  /** Default true: without verified collateral the TCB status is unknown and appraisal fails (EG_VERIFY_TCB). */
  readonly requireCollateral?: boolean;
  /** Default false: collateral lacking the QE identity or a CRL is refused while collateral is required. */
  readonly allowPartialCollateral?: boolean;
  /** Default false: debug TDs/enclaves are refused (EG_VERIFY_DEBUG). */
  readonly allowDebug?: boolean;
  /** Minimum tcbEvaluationDataNumber of the TCB info (refuses collateral Intel has superseded). */
  readonly minTcbEvaluationDataNumber?: number;
  /**
   * Default false: at least one measurement allowlist (TDX: mrTd or an rtmr;
   * SGX: mrEnclave or mrSigner) must be given, so that forgetting one never
   * means "any code is fine".
   */
  readonly allowAnyMeasurement?: boolean;
  /** TDX: allowed MRTD values. */
  readonly mrTd?: readonly string[];
  /** TDX: allowed RTMR0 values. */
  readonly rtmr0?: readonly string[];
  /** TDX: allowed RTMR1 values. */
  readonly rtmr1?: readonly string[];
  /** TDX: allowed RTMR2 values. */
  readonly rtmr2?: readonly string[];
  /** TDX: allowed RTMR3 values. */
  readonly rtmr3?: readonly string[];
  /** TDX: allowed MRSEAM (TDX module) values. */
  readonly mrSeam?: readonly string[];
  /** TDX: allowed MRCONFIGID values. */
  readonly mrConfigId?: readonly string[];
  /** TDX: allowed MROWNER values. */
  readonly mrOwner?: readonly string[];
  /** TDX: allowed MROWNERCONFIG values. */
  readonly mrOwnerConfig?: readonly string[];
  /**
   * TDX 1.5: allowed MRSERVICETD values. Without this list a non-zero
   * MRSERVICETD (a service TD, e.g. a migration TD, bound to the TD) is
   * refused: such a TD can read or move the guest's state.
   */
  readonly mrServiceTd?: readonly string[];
  /** SGX: allowed MRENCLAVE values. */
  readonly mrEnclave?: readonly string[];
  /** SGX: allowed MRSIGNER values. */
  readonly mrSigner?: readonly string[];
  /** SGX: required ISVPRODID. */
  readonly isvProdId?: number;
  /** SGX: minimum ISVSVN. */
  readonly minIsvSvn?: number;
}

const BOOLEAN_KEYS = ['requireCollateral', 'allowPartialCollateral', 'allowDebug', 'allowAnyMeasurement'] as const;
const INT_KEYS = ['minTcbEvaluationDataNumber', 'isvProdId', 'minIsvSvn'] as const;
const KNOWN_KEYS = new Set<string>([
  'acceptedTcbStatuses',
  'acceptedAdvisories',
  ...BOOLEAN_KEYS,
  ...INT_KEYS,
  ...Object.keys(TDX_LISTS),
  ...Object.keys(SGX_LISTS),
]);
const SGX_ONLY = new Set<string>([...Object.keys(SGX_LISTS), 'isvProdId', 'minIsvSvn']);
const TDX_ONLY = new Set<string>(Object.keys(TDX_LISTS));

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `Intel reference values: ${message}`);
}

function stringList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    // An empty allowlist would silently allow nothing or, worse, be read as "no constraint" by someone.
    usage(`${key} must be a non-empty array of non-empty strings`);
  }
  return value as string[];
}

/**
 * Validates reference values from JSON (config file, CLI flag): unknown keys,
 * wrong types, malformed hex, empty lists, unknown or un-acceptable TCB
 * statuses, and TDX and SGX keys mixed in one document are all
 * EG_VERIFY_USAGE. Hex values are returned lower-case; the result is frozen.
 */
export function parseIntelReferenceValues(json: unknown): IntelReferenceValues {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) usage('must be a JSON object');
  const input = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) usage(`unknown key "${key}"`);
  }
  const keys = Object.keys(input).filter((k) => input[k] !== undefined);
  if (keys.some((k) => SGX_ONLY.has(k)) && keys.some((k) => TDX_ONLY.has(k))) usage('mixes TDX and SGX keys; use one document per platform');
  for (const key of BOOLEAN_KEYS) {
    const v = input[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') usage(`${key} must be a boolean`);
    out[key] = v;
  }
  for (const key of INT_KEYS) {
    const v = input[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (key !== 'minTcbEvaluationDataNumber' && v > 0xffff)) {
      usage(`${key} must be a non-negative integer${key === 'minTcbEvaluationDataNumber' ? '' : ' ≤ 65535'}`);
    }
    out[key] = v;
  }
  if (input['acceptedTcbStatuses'] !== undefined) {
    const list = stringList(input['acceptedTcbStatuses'], 'acceptedTcbStatuses');
    for (const s of list) {
      if (!(TCB_STATUSES as readonly string[]).includes(s)) usage(`acceptedTcbStatuses: unknown status "${s}"`);
      if (s === 'Revoked') usage('acceptedTcbStatuses: a Revoked TCB can never be accepted');
    }
    out['acceptedTcbStatuses'] = Object.freeze([...list]);
  }
  if (input['acceptedAdvisories'] !== undefined) {
    out['acceptedAdvisories'] = Object.freeze([...stringList(input['acceptedAdvisories'], 'acceptedAdvisories')]);
  }
  const lists: Record<string, number> = { ...TDX_LISTS, ...SGX_LISTS };
  for (const [key, bytes] of Object.entries(lists)) {
    if (input[key] === undefined) continue;
    const values = stringList(input[key], key).map((v) => {
      if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) usage(`${key}: "${v.slice(0, 20)}…" is not ${bytes} bytes of hex`);
      return v.toLowerCase();
    });
    out[key] = Object.freeze(values);
  }
  return Object.freeze(out) as IntelReferenceValues;
}

function reject(ctx: VerifyContext, step: string, code: 'EG_VERIFY_DEBUG' | 'EG_VERIFY_TCB' | 'EG_VERIFY_REFERENCE_VALUES' | 'EG_VERIFY_USAGE', detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

function claimString(evidence: VerifiedEvidence, key: string): string | undefined {
  const v = evidence.claims[key];
  return typeof v === 'string' ? v.toLowerCase() : undefined;
}

/**
 * Appraises verified Intel evidence (from verifyIntelQuote) against reference
 * values; returns normally when every check passes. Checks, in order:
 * platform keys (EG_VERIFY_REFERENCE_VALUES when TDX keys meet SGX evidence or
 * the reverse), debug (EG_VERIFY_DEBUG), collateral and TCB status,
 * advisories and evaluation number (EG_VERIFY_TCB), then measurements
 * (EG_VERIFY_REFERENCE_VALUES).
 */
export function appraiseIntel(evidence: VerifiedEvidence, rv: IntelReferenceValues, ctx: VerifyContext): void {
  const platform = evidence.platform;
  if (platform !== 'tdx' && platform !== 'sgx') reject(ctx, 'intel.appraise', 'EG_VERIFY_USAGE', `appraiseIntel given ${platform} evidence`);
  const given = Object.keys(rv).filter((k) => (rv as Record<string, unknown>)[k] !== undefined);
  const foreign = given.filter((k) => (platform === 'tdx' ? SGX_ONLY : TDX_ONLY).has(k));
  if (foreign.length > 0) {
    reject(ctx, 'intel.appraise.platform', 'EG_VERIFY_REFERENCE_VALUES', `${foreign.join(', ')} cannot be checked on ${platform.toUpperCase()} evidence`);
  }

  if (evidence.debug && rv.allowDebug !== true) {
    reject(ctx, 'intel.appraise.debug', 'EG_VERIFY_DEBUG', `${platform === 'tdx' ? 'TD_ATTRIBUTES' : 'ATTRIBUTES'}.DEBUG is set`);
  }
  ctx.transcript.pass('intel.appraise.debug', evidence.debug ? 'DEBUG set and explicitly allowed' : 'not a debug TEE');

  appraiseTcb(evidence, rv, ctx);
  appraiseMeasurements(evidence, rv, platform, ctx);
}

function appraiseTcb(evidence: VerifiedEvidence, rv: IntelReferenceValues, ctx: VerifyContext): void {
  const tcb = evidence.tcb;
  const state = tcb['collateral'];
  const requireCollateral = rv.requireCollateral !== false;
  if (state !== 'verified' && state !== 'partial') {
    if (requireCollateral) reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', 'no collateral was verified: the TCB status is unknown');
    if (rv.minTcbEvaluationDataNumber !== undefined) {
      reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', 'minTcbEvaluationDataNumber is set but no collateral was verified');
    }
    ctx.transcript.pass('intel.appraise.tcb', 'WARNING: TCB status not checked (requireCollateral is false)');
    return;
  }
  if (state === 'partial' && requireCollateral && rv.allowPartialCollateral !== true) {
    const missing = Array.isArray(tcb['collateralMissing']) ? (tcb['collateralMissing'] as unknown[]).join(', ') : '?';
    reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', `collateral is partial (missing ${missing})`);
  }
  const status = tcb['status'];
  const accepted: readonly string[] = rv.acceptedTcbStatuses ?? ['UpToDate'];
  if (typeof status !== 'string' || status === 'Revoked' || !accepted.includes(status)) {
    reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', `TCB status ${String(status)} is not among ${accepted.join(', ')}`);
  }
  const advisories = Array.isArray(tcb['advisoryIds']) ? (tcb['advisoryIds'] as unknown[]) : [];
  const allowed = new Set(rv.acceptedAdvisories ?? []);
  const unaccepted = advisories.filter((a) => typeof a !== 'string' || !allowed.has(a));
  if (unaccepted.length > 0) {
    reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', `advisories not accepted: ${unaccepted.map(String).join(', ')}`);
  }
  const evalNumber = tcb['tcbEvaluationDataNumber'];
  if (rv.minTcbEvaluationDataNumber !== undefined && (typeof evalNumber !== 'number' || evalNumber < rv.minTcbEvaluationDataNumber)) {
    reject(ctx, 'intel.appraise.tcb', 'EG_VERIFY_TCB', `tcbEvaluationDataNumber ${String(evalNumber)} < ${rv.minTcbEvaluationDataNumber}`);
  }
  ctx.transcript.pass('intel.appraise.tcb', `${status}${advisories.length > 0 ? ` with accepted ${advisories.join(', ')}` : ''}`);
}

function appraiseMeasurements(evidence: VerifiedEvidence, rv: IntelReferenceValues, platform: 'tdx' | 'sgx', ctx: VerifyContext): void {
  const listKeys: readonly (TdxListKey | SgxListKey)[] =
    platform === 'tdx' ? (Object.keys(TDX_LISTS) as TdxListKey[]) : (Object.keys(SGX_LISTS) as SgxListKey[]);
  const present = listKeys.filter((k) => rv[k] !== undefined);
  const identifying = platform === 'tdx' ? present.filter((k) => TDX_IDENTIFYING.has(k)) : present;
  if (identifying.length === 0 && rv.allowAnyMeasurement !== true) {
    reject(
      ctx,
      'intel.appraise.measurement',
      'EG_VERIFY_REFERENCE_VALUES',
      platform === 'tdx' ? 'no mrTd/rtmr allowlist given (set allowAnyMeasurement to accept any TD)' : 'no mrEnclave/mrSigner allowlist given (set allowAnyMeasurement to accept any enclave)',
    );
  }
  const serviceTd = claimString(evidence, 'mrServiceTd');
  if (platform === 'tdx' && rv.mrServiceTd === undefined && serviceTd !== undefined && /[^0]/.test(serviceTd)) {
    reject(ctx, 'intel.appraise.measurement', 'EG_VERIFY_REFERENCE_VALUES', `MRSERVICETD ${serviceTd} is bound to the TD and no mrServiceTd allowlist accepts it`);
  }
  for (const key of present) {
    // A TD 1.0 report has no MRSERVICETD field: no service TD can be bound, which is what all-zero means.
    const actual = platform === 'tdx' && key === 'mrServiceTd' ? (serviceTd ?? '00'.repeat(48)) : claimString(evidence, key);
    const allowed = rv[key]!.map((v) => v.toLowerCase());
    if (actual === undefined || !allowed.includes(actual)) {
      reject(ctx, 'intel.appraise.measurement', 'EG_VERIFY_REFERENCE_VALUES', `${key} ${actual ?? '(absent)'} is not in the allowlist`);
    }
  }
  if (platform === 'sgx') {
    const prodId = evidence.claims['isvProdId'];
    const svn = evidence.claims['isvSvn'];
    if (rv.isvProdId !== undefined && prodId !== rv.isvProdId) {
      reject(ctx, 'intel.appraise.measurement', 'EG_VERIFY_REFERENCE_VALUES', `ISVPRODID ${String(prodId)} ≠ ${rv.isvProdId}`);
    }
    if (rv.minIsvSvn !== undefined && (typeof svn !== 'number' || svn < rv.minIsvSvn)) {
      reject(ctx, 'intel.appraise.measurement', 'EG_VERIFY_REFERENCE_VALUES', `ISVSVN ${String(svn)} < ${rv.minIsvSvn}`);
    }
  }
  ctx.transcript.pass(
    'intel.appraise.measurement',
    present.length > 0 ? `${present.join(', ')} in allowlists` : 'WARNING: no measurement allowlist (allowAnyMeasurement)',
  );
}
