/**
 * SEV-SNP appraisal: compares verified evidence with the operator's reference
 * values (go-sev-guest's `validate` step). Verification proved *who* signed
 * the report; appraisal decides whether what it says is acceptable.
 *
 * Defaults fail closed where the brief's invariants demand it: a debug guest
 * is rejected unless `allowDebug`, a guest that admits a migration agent is
 * rejected unless `allowMigrationAgent`. Allowlists that are absent are not
 * checked; allowlists that are present must be non-empty (an empty list is
 * refused when parsed, as it can only be a configuration mistake).
 */
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import type { SnpTcb } from './parse.js';

/** Component-wise minimum of the reported TCB. */
export interface SnpMinimumTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only; ignored (and noted in the transcript) for Milan and Genoa. */
  readonly fmc?: number;
}

/** Reference values for SEV-SNP evidence (a JSON document; see parseSnpReferenceValues). */
export interface SnpReferenceValues {
  /** Every component of reported_tcb must be at least this. */
  readonly minimumTcb?: SnpMinimumTcb;
  /** Accept guests whose policy allows debugging (bit 19). Default false. */
  readonly allowDebug?: boolean;
  /** Accept evidence from a host with SMT enabled (PLATFORM_INFO bit 0). Default true. */
  readonly allowSmt?: boolean;
  /** Accept guests whose policy allows a migration agent (bit 18). Default false. */
  readonly allowMigrationAgent?: boolean;
  /** VMPLs the report may have been requested from. */
  readonly vmpl?: readonly number[];
  /** Accepted HOST_DATA values (64 hex digits). */
  readonly hostData?: readonly string[];
  /** Accepted ID_KEY_DIGEST values (96 hex digits). */
  readonly idKeyDigests?: readonly string[];
  /** Accepted launch MEASUREMENT values (96 hex digits). */
  readonly measurements?: readonly string[];
}

const TOP_KEYS = new Set([
  'minimumTcb',
  'allowDebug',
  'allowSmt',
  'allowMigrationAgent',
  'vmpl',
  'hostData',
  'idKeyDigests',
  'measurements',
]);
const TCB_KEYS = ['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const;

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `SNP reference values: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tcbByte(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
    usage(`${path} must be an integer 0..255, got ${JSON.stringify(value)}`);
  }
  return value;
}

function hexList(value: unknown, path: string, hexDigits: number): readonly string[] {
  if (!Array.isArray(value)) usage(`${path} must be an array of hex strings`);
  if (value.length === 0) usage(`${path} is empty, which would reject all evidence; omit it to skip the check`);
  return Object.freeze(
    value.map((item: unknown, i) => {
      if (typeof item !== 'string' || !new RegExp(`^[0-9a-fA-F]{${hexDigits}}$`).test(item)) {
        usage(`${path}[${i}] must be ${hexDigits} hex digits`);
      }
      return item.toLowerCase();
    }),
  );
}

function optionalBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') usage(`${path} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Validates a reference-values document (already JSON-parsed): unknown keys,
 * wrong types, out-of-range numbers, malformed hex and empty allowlists are
 * EG_VERIFY_USAGE. Returns a frozen copy with hex in lower case.
 */
export function parseSnpReferenceValues(json: unknown): SnpReferenceValues {
  if (!isPlainObject(json)) usage('must be a JSON object');
  for (const key of Object.keys(json)) if (!TOP_KEYS.has(key)) usage(`unknown key "${key}"`);
  const out: {
    -readonly [K in keyof SnpReferenceValues]: SnpReferenceValues[K];
  } = {};
  if (json['minimumTcb'] !== undefined) {
    const tcb = json['minimumTcb'];
    if (!isPlainObject(tcb)) usage('minimumTcb must be an object');
    for (const key of Object.keys(tcb)) {
      if (!(TCB_KEYS as readonly string[]).includes(key)) usage(`unknown key "minimumTcb.${key}"`);
    }
    const fmc = tcb['fmc'] === undefined ? undefined : tcbByte(tcb['fmc'], 'minimumTcb.fmc');
    out.minimumTcb = Object.freeze({
      bootloader: tcbByte(tcb['bootloader'], 'minimumTcb.bootloader'),
      tee: tcbByte(tcb['tee'], 'minimumTcb.tee'),
      snp: tcbByte(tcb['snp'], 'minimumTcb.snp'),
      microcode: tcbByte(tcb['microcode'], 'minimumTcb.microcode'),
      ...(fmc === undefined ? {} : { fmc }),
    });
  }
  const allowDebug = optionalBoolean(json['allowDebug'], 'allowDebug');
  if (allowDebug !== undefined) out.allowDebug = allowDebug;
  const allowSmt = optionalBoolean(json['allowSmt'], 'allowSmt');
  if (allowSmt !== undefined) out.allowSmt = allowSmt;
  const allowMa = optionalBoolean(json['allowMigrationAgent'], 'allowMigrationAgent');
  if (allowMa !== undefined) out.allowMigrationAgent = allowMa;
  if (json['vmpl'] !== undefined) {
    const vmpl = json['vmpl'];
    if (!Array.isArray(vmpl)) usage('vmpl must be an array of integers 0..3');
    if (vmpl.length === 0) usage('vmpl is empty, which would reject all evidence; omit it to skip the check');
    out.vmpl = Object.freeze(
      vmpl.map((v: unknown, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3) usage(`vmpl[${i}] must be an integer 0..3`);
        return v;
      }),
    );
  }
  if (json['hostData'] !== undefined) out.hostData = hexList(json['hostData'], 'hostData', 64);
  if (json['idKeyDigests'] !== undefined) out.idKeyDigests = hexList(json['idKeyDigests'], 'idKeyDigests', 96);
  if (json['measurements'] !== undefined) out.measurements = hexList(json['measurements'], 'measurements', 96);
  return Object.freeze(out);
}

/** The fields appraisal reads, checked at run time: evidence may arrive as JSON. */
interface SnpAppraisalView {
  readonly debug: boolean;
  readonly measurement: string;
  readonly reported: SnpTcb;
  readonly product: string;
  readonly migrateMa: boolean;
  readonly smtEnabled: boolean;
  readonly vmpl: number;
  readonly hostData: string;
  readonly idKeyDigest: string;
}

function snpView(evidence: VerifiedEvidence): SnpAppraisalView {
  const bad = (what: string): never => {
    throw new VerifyError('EG_VERIFY_USAGE', `appraiseSnp needs SEV-SNP evidence from verifySnpReport: ${what}`);
  };
  if (!isPlainObject(evidence) || evidence.platform !== 'sev-snp') bad(`platform is ${String((evidence as { platform?: unknown })?.platform)}`);
  const { tcb, claims } = evidence;
  const reported = isPlainObject(tcb) ? tcb['reported'] : undefined;
  const policy = isPlainObject(claims) ? claims['policy'] : undefined;
  const platformInfo = isPlainObject(claims) ? claims['platformInfo'] : undefined;
  if (!isPlainObject(reported) || !isPlainObject(policy) || !isPlainObject(platformInfo) || !isPlainObject(claims)) {
    return bad('tcb.reported, claims.policy or claims.platformInfo missing');
  }
  for (const key of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
    if (typeof reported[key] !== 'number') bad(`tcb.reported.${key} missing`);
  }
  const str = (v: unknown, what: string): string => (typeof v === 'string' ? v.toLowerCase() : bad(`${what} missing`));
  const boolOf = (v: unknown, what: string): boolean => (typeof v === 'boolean' ? v : bad(`${what} missing`));
  const vmpl = claims['vmpl'];
  if (typeof vmpl !== 'number') bad('claims.vmpl missing');
  return {
    debug: boolOf(evidence.debug, 'debug'),
    measurement: str(evidence.measurement, 'measurement'),
    reported: reported as unknown as SnpTcb,
    product: str(tcb['product'], 'tcb.product'),
    migrateMa: boolOf(policy['migrateMa'], 'claims.policy.migrateMa'),
    smtEnabled: boolOf(platformInfo['smtEnabled'], 'claims.platformInfo.smtEnabled'),
    vmpl: vmpl as number,
    hostData: str(claims['hostData'], 'claims.hostData'),
    idKeyDigest: str(claims['idKeyDigest'], 'claims.idKeyDigest'),
  };
}

function reject(ctx: VerifyContext, step: string, code: 'EG_VERIFY_DEBUG' | 'EG_VERIFY_TCB' | 'EG_VERIFY_REFERENCE_VALUES', detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

/**
 * Appraises verified SEV-SNP evidence against reference values. Appends one
 * transcript step per check and throws on the first failure:
 * EG_VERIFY_DEBUG, EG_VERIFY_TCB, or EG_VERIFY_REFERENCE_VALUES.
 * `rv` is validated with parseSnpReferenceValues first (EG_VERIFY_USAGE).
 */
export function appraiseSnp(evidence: VerifiedEvidence, rv: SnpReferenceValues, ctx: VerifyContext): void {
  const values = parseSnpReferenceValues(rv);
  const e = snpView(evidence);

  if (e.debug && values.allowDebug !== true) {
    reject(ctx, 'snp.appraise.debug', 'EG_VERIFY_DEBUG', 'SNP guest policy allows debugging (bit 19) and allowDebug is not set');
  }
  ctx.transcript.pass('snp.appraise.debug', e.debug ? 'debug guest ACCEPTED because allowDebug is set' : 'guest policy forbids debugging');

  if (e.migrateMa && values.allowMigrationAgent !== true) {
    reject(ctx, 'snp.appraise.migration-agent', 'EG_VERIFY_REFERENCE_VALUES', 'SNP guest policy allows a migration agent (bit 18) and allowMigrationAgent is not set');
  }
  if (e.smtEnabled && values.allowSmt === false) {
    reject(ctx, 'snp.appraise.smt', 'EG_VERIFY_REFERENCE_VALUES', 'SNP host has SMT enabled (PLATFORM_INFO bit 0) and allowSmt is false');
  }
  ctx.transcript.pass('snp.appraise.policy', `migration agent ${e.migrateMa ? 'allowed' : 'not allowed'}, host SMT ${e.smtEnabled ? 'on' : 'off'}`);

  const min = values.minimumTcb;
  if (min !== undefined) {
    // reported_tcb is the TCB the VEK vouches for and never exceeds what the
    // firmware runs, so it is the one value a minimum can be enforced on.
    const r = e.reported;
    const parts: [string, number, number | undefined][] = [
      ['bootloader', min.bootloader, r.bootloader],
      ['tee', min.tee, r.tee],
      ['snp', min.snp, r.snp],
      ['microcode', min.microcode, r.microcode],
    ];
    const fmcApplies = min.fmc !== undefined && typeof r.fmc === 'number';
    if (fmcApplies) parts.push(['fmc', min.fmc!, r.fmc]);
    const low = parts.filter(([, want, got]) => got === undefined || got < want).map(([n, want, got]) => `${n} ${got ?? 'absent'} < ${want}`);
    if (low.length > 0) {
      reject(ctx, 'snp.appraise.tcb', 'EG_VERIFY_TCB', `SNP reported TCB is below the minimum: ${low.join(', ')}`);
    }
    const fmcNote = min.fmc !== undefined && !fmcApplies ? ` (minimum fmc ignored: ${e.product} has no FMC)` : '';
    ctx.transcript.pass('snp.appraise.tcb', `reported TCB meets the minimum${fmcNote}`);
  }

  if (values.vmpl !== undefined && !values.vmpl.includes(e.vmpl)) {
    reject(ctx, 'snp.appraise.vmpl', 'EG_VERIFY_REFERENCE_VALUES', `SNP report VMPL ${e.vmpl} is not in the allowed set [${values.vmpl.join(', ')}]`);
  }
  if (values.vmpl !== undefined) ctx.transcript.pass('snp.appraise.vmpl', `VMPL ${e.vmpl} is allowed`);
  const lists: [string, readonly string[] | undefined, string][] = [
    ['measurement', values.measurements, e.measurement],
    ['host-data', values.hostData, e.hostData],
    ['id-key-digest', values.idKeyDigests, e.idKeyDigest],
  ];
  for (const [name, allowed, actual] of lists) {
    if (allowed === undefined) continue;
    if (!allowed.includes(actual)) {
      reject(ctx, `snp.appraise.${name}`, 'EG_VERIFY_REFERENCE_VALUES', `SNP ${name} ${actual} is not in the reference values (${allowed.length} allowed)`);
    }
    ctx.transcript.pass(`snp.appraise.${name}`, `${name} is allowed`);
  }
}
