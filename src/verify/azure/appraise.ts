/**
 * Appraisal of verified Azure evidence beyond its hardware part: the PCR
 * values, which are the only measurement of the guest OS on Azure (the
 * hardware measures the paravisor). The hardware part is appraised by the
 * SEV-SNP or TDX appraisal with that platform's section of the reference
 * values (evidence.ts does both).
 */
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import type { AzureClaims } from './verify.js';

/** The `azure` section of the reference values. */
export interface AzureReferenceValues {
  /** PCR index ("0".."23") → accepted SHA-256 values (hex). Each listed PCR must equal one of them. */
  readonly pcrs?: Readonly<Record<string, readonly string[]>>;
  /**
   * Require the HCL `user-data` (what was written to NV 0x01400002 before
   * the report was made) to equal the quote's nonce zero-padded to 64 bytes,
   * as enclave-gate's azure-vtpm provider and trustee's v2 evidence do.
   */
  readonly requireUserDataBinding?: boolean;
}

const PCR_INDEX = /^(?:[0-9]|1[0-9]|2[0-3])$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `Azure reference values: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Validates the `azure` section; unknown keys, bad indexes, bad hex and empty lists are EG_VERIFY_USAGE. */
export function parseAzureReferenceValues(json: unknown): AzureReferenceValues {
  if (!isPlainObject(json)) usage('must be a JSON object');
  const out: { pcrs?: Record<string, readonly string[]>; requireUserDataBinding?: boolean } = {};
  for (const key of Object.keys(json)) if (key !== 'pcrs' && key !== 'requireUserDataBinding') usage(`unknown key "${key.slice(0, 40)}"`);
  if (json['pcrs'] !== undefined) {
    const pcrs = json['pcrs'];
    if (!isPlainObject(pcrs)) usage('pcrs must be an object of PCR index → array of hex values');
    out.pcrs = {};
    for (const [index, allowed] of Object.entries(pcrs)) {
      if (!PCR_INDEX.test(index)) usage(`pcrs key "${index.slice(0, 40)}" is not a PCR index 0..23`);
      if (!Array.isArray(allowed) || allowed.length === 0) usage(`pcrs["${index}"] must be a non-empty array of hex values`);
      out.pcrs[index] = Object.freeze(
        allowed.map((v: unknown, i) => {
          if (typeof v !== 'string' || !SHA256_HEX.test(v)) usage(`pcrs["${index}"][${i}] must be a SHA-256 value (64 hex digits)`);
          return v.toLowerCase();
        }),
      );
    }
    Object.freeze(out.pcrs);
  }
  if (json['requireUserDataBinding'] !== undefined) {
    if (typeof json['requireUserDataBinding'] !== 'boolean') usage('requireUserDataBinding must be a boolean');
    out.requireUserDataBinding = json['requireUserDataBinding'];
  }
  return Object.freeze(out);
}

function fail(ctx: VerifyContext, step: string, code: 'EG_VERIFY_REFERENCE_VALUES' | 'EG_VERIFY_BINDING', detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

/** Compares the PCRs (and, when asked, the user-data binding) with the reference values. */
export function appraiseAzure(evidence: VerifiedEvidence, rv: AzureReferenceValues, ctx: VerifyContext): void {
  const claims = evidence.claims as unknown as AzureClaims;
  const pins = Object.entries(rv.pcrs ?? {});
  if (pins.length === 0) {
    ctx.transcript.pass('azure.appraise.pcrs', 'WARNING: no PCRs pinned (azure.pcrs): the guest OS is not checked, only the paravisor');
  }
  for (const [index, allowed] of pins) {
    const step = `azure.appraise.pcr${index}`;
    const actual = claims.tpm.pcrs[index];
    if (actual === undefined) fail(ctx, step, 'EG_VERIFY_REFERENCE_VALUES', `the TPM quote does not cover PCR${index}`);
    if (!allowed.includes(actual)) fail(ctx, step, 'EG_VERIFY_REFERENCE_VALUES', `PCR${index} ${actual} is not one of the ${allowed.length} accepted`);
    ctx.transcript.pass(step, `PCR${index} matches an accepted value`);
  }
  if (rv.requireUserDataBinding === true) {
    const expected = claims.tpm.nonce.padEnd(128, '0');
    if (claims.hcl.userData !== expected) {
      fail(ctx, 'azure.appraise.user-data', 'EG_VERIFY_BINDING', `HCL user-data ${claims.hcl.userData ?? '(none)'} is not the quote nonce zero-padded to 64 bytes`);
    }
    ctx.transcript.pass('azure.appraise.user-data', 'the HCL user-data is the quote nonce: the hardware report was made for this request');
  }
}
