/**
 * Appraisal of verified GPU evidence: measurement allowlists per SPDM block
 * index, the values an operator derives from NVIDIA's RIMs (reference
 * integrity manifests) for the driver and VBIOS they deploy. Fetching RIMs
 * and OCSP from NVIDIA is not part of the verifier.
 */
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import type { GpuClaims } from './verify.js';

/** The `nvidia` section of the reference values. */
export interface GpuReferenceValues {
  /** Measurement index ("0".."255") → accepted values (hex); every device must match each listed index. */
  readonly measurements?: Readonly<Record<string, readonly string[]>>;
  /** Accepted driver versions (e.g. "550.90.07"). */
  readonly driverVersions?: readonly string[];
}

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `NVIDIA reference values: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Validates the `nvidia` section; unknown keys, bad indexes, bad hex and empty lists are EG_VERIFY_USAGE. */
export function parseGpuReferenceValues(json: unknown): GpuReferenceValues {
  if (!isPlainObject(json)) usage('must be a JSON object');
  const out: { measurements?: Record<string, readonly string[]>; driverVersions?: readonly string[] } = {};
  for (const key of Object.keys(json)) if (key !== 'measurements' && key !== 'driverVersions') usage(`unknown key "${key.slice(0, 40)}"`);
  if (json['measurements'] !== undefined) {
    const m = json['measurements'];
    if (!isPlainObject(m)) usage('measurements must be an object of index → array of hex values');
    out.measurements = {};
    for (const [index, allowed] of Object.entries(m)) {
      if (!/^(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$/.test(index)) usage(`measurements key "${index.slice(0, 40)}" is not an index 0..255`);
      if (!Array.isArray(allowed) || allowed.length === 0) usage(`measurements["${index}"] must be a non-empty array of hex values`);
      out.measurements[index] = Object.freeze(
        allowed.map((v: unknown, i) => {
          if (typeof v !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(v)) usage(`measurements["${index}"][${i}] must be hex`);
          return v.toLowerCase();
        }),
      );
    }
  }
  if (json['driverVersions'] !== undefined) {
    const d = json['driverVersions'];
    if (!Array.isArray(d) || d.length === 0 || !d.every((v) => typeof v === 'string')) usage('driverVersions must be a non-empty array of strings');
    out.driverVersions = Object.freeze([...(d as string[])]);
  }
  return Object.freeze(out);
}

function fail(ctx: VerifyContext, step: string, detail: string): never {
  ctx.transcript.fail(step, 'EG_VERIFY_REFERENCE_VALUES', detail);
  throw new VerifyError('EG_VERIFY_REFERENCE_VALUES', detail);
}

/** Compares every device's measurements and driver version with the reference values. */
export function appraiseGpu(evidence: VerifiedEvidence, rv: GpuReferenceValues, ctx: VerifyContext): void {
  const { devices } = evidence.claims as unknown as GpuClaims;
  const pins = Object.entries(rv.measurements ?? {});
  if (pins.length === 0) ctx.transcript.pass('gpu.appraise.measurements', 'WARNING: no GPU measurements pinned (nvidia.measurements): any firmware and driver is accepted');
  devices.forEach((device, i) => {
    for (const [index, allowed] of pins) {
      const actual = device.measurements[index];
      if (actual === undefined) fail(ctx, `gpu${i}.appraise.measurement${index}`, `gpu${i} reports no measurement ${index}`);
      if (!allowed.includes(actual)) fail(ctx, `gpu${i}.appraise.measurement${index}`, `gpu${i} measurement ${index} ${actual} is not one of the ${allowed.length} accepted`);
    }
    if (pins.length > 0) ctx.transcript.pass(`gpu${i}.appraise.measurements`, `${pins.length} measurements match the reference values`);
    if (rv.driverVersions !== undefined) {
      if (device.driverVersion === undefined || !rv.driverVersions.includes(device.driverVersion)) {
        fail(ctx, `gpu${i}.appraise.driver`, `gpu${i} driver ${device.driverVersion ?? '(unknown)'} is not among ${rv.driverVersions.join(', ')}`);
      }
      ctx.transcript.pass(`gpu${i}.appraise.driver`, `driver ${device.driverVersion} accepted`);
    }
  });
}
