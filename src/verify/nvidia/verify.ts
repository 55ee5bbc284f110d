/**
 * NVIDIA GPU evidence (Hopper in confidential-computing mode): for each
 * device, the SPDM measurement report (spdm.ts) and the certificate chain
 * the driver returns with it, leaf (the GSP FMC alias key) first, NVIDIA
 * Device Identity CA last.
 *
 * Checks per device: the chain reaches the pinned NVIDIA Device Identity CA
 * and every certificate is valid at ctx.at; the report's ECDSA P-384
 * signature by the leaf (so a changed byte anywhere is a signature failure);
 * the leaf's TCG DICE FWID extension (2.23.133.5.4.1) names the firmware the
 * report's FWID field says is running. The
 * nonce (the request's, which binds the report to the CPU evidence) and the
 * measurements are appraisal's (appraise.ts). Fetching RIMs and OCSP from
 * NVIDIA is not done here: reference measurements come from the caller.
 *
 * Evidence is the JSON document CoCo's attester produces:
 *   { "device_evidence_list": [ { "arch": "HOPPER", "uuid": "GPU-…",
 *       "evidence": hex or base64 (the report), "certificate": base64 of the PEM chain } ] }
 */
import 'reflect-metadata';
import { verify as verifySignature, type X509Certificate } from 'node:crypto';
import { X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { VerifyError } from '../../errors.js';
import { toHex } from '../bytes.js';
import { recorded, type VerifiedEvidence, type VerifyContext } from '../types.js';
import { parsePemBundle, verifyChain } from '../x509.js';
import { OPAQUE_TYPE, opaqueFwid, opaqueText, parseGpuReport, type GpuReport } from './spdm.js';

/**
 * SHA-256 of the DER of "NVIDIA Device Identity CA" (O=NVIDIA, P-384,
 * 2021-11-05 → 9999-12-31), the root of every GPU device certificate chain.
 * Computed from test/vectors/nvidia/nvidia-device-root.pem (the PEM trustee
 * and nvtrust ship) with `openssl x509 -outform DER | sha256sum`; a test
 * recomputes it from that file.
 */
export const NVIDIA_DEVICE_ROOT_SHA256 = '102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48';
export const NVIDIA_PINNED_ROOTS: ReadonlyMap<string, string> = new Map([[NVIDIA_DEVICE_ROOT_SHA256, 'NVIDIA Device Identity CA']]);
const OID_TCG_DICE_FWID = '2.23.133.5.4.1';
const FWID_BYTES = 48;
/** A host has at most 8 GPUs (plus NVSwitches, which this verifier does not read). */
const MAX_DEVICES = 8;
export const MAX_GPU_EVIDENCE_BYTES = 256 * 1024;

/** Options of {@link verifyGpuEvidence}. */
export interface GpuVerifyOptions {
  /** Trust anchors (SHA-256 of DER → name) in place of the pinned NVIDIA root; tests only. */
  readonly roots?: ReadonlyMap<string, string>;
  /** Number of the first device in transcript steps (gpu<N>), when several pieces of evidence are verified in a row. */
  readonly firstIndex?: number;
}

/** One verified device. */
export interface GpuDeviceClaims {
  readonly arch: string;
  readonly uuid?: string;
  /** The request nonce, hex: must be the CPU evidence's report_data[0:32]. */
  readonly nonce: string;
  /** The firmware ID the leaf certificate and the report agree on. */
  readonly fwid: string;
  readonly driverVersion?: string;
  /** Measurement index (decimal string) → value, hex. */
  readonly measurements: Readonly<Record<string, string>>;
  readonly certificateChain: readonly string[];
}

/** The claims of verified GPU evidence. */
export interface GpuClaims {
  readonly devices: readonly GpuDeviceClaims[];
}

interface DeviceInput {
  readonly arch: string;
  readonly uuid?: string;
  readonly report: Uint8Array;
  readonly chainPem: string;
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `GPU evidence: ${message}`);
}

function decodeReport(text: unknown, i: number): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) throw parseError(`device ${i}: "evidence" must be a hex or base64 string`);
  const trimmed = text.trim();
  if (/^(?:[0-9a-fA-F]{2})+$/.test(trimmed)) return new Uint8Array(Buffer.from(trimmed, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return new Uint8Array(Buffer.from(trimmed, 'base64'));
  throw parseError(`device ${i}: "evidence" is neither hex nor base64`);
}

/** Decodes the CoCo evidence JSON (bytes of UTF-8 text). */
export function parseGpuEvidence(bytes: Uint8Array): DeviceInput[] {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', 'GPU evidence must be bytes (the JSON document)');
  if (bytes.length > MAX_GPU_EVIDENCE_BYTES) throw parseError(`${bytes.length} bytes, limit ${MAX_GPU_EVIDENCE_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'GPU evidence is not JSON (expected {"device_evidence_list": [...]})', { cause });
  }
  const list = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['device_evidence_list'] : undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_DEVICES) throw parseError(`"device_evidence_list" must hold 1..${MAX_DEVICES} devices`);
  return list.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw parseError(`device ${i} is not an object`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!['arch', 'uuid', 'evidence', 'certificate'].includes(key)) throw parseError(`device ${i}: unknown key "${key.slice(0, 40)}"`);
    if (typeof e['arch'] !== 'string') throw parseError(`device ${i}: "arch" must be a string`);
    if (e['arch'].toUpperCase() !== 'HOPPER') throw new VerifyError('EG_VERIFY_UNSUPPORTED', `GPU evidence: device ${i} is ${e['arch'].slice(0, 20)}; only Hopper reports are verified locally`);
    if (typeof e['certificate'] !== 'string') throw parseError(`device ${i}: "certificate" must be the base64 of the PEM chain`);
    const chainPem = Buffer.from(e['certificate'], 'base64').toString('latin1');
    return {
      arch: e['arch'],
      ...(typeof e['uuid'] === 'string' ? { uuid: e['uuid'] } : {}),
      report: decodeReport(e['evidence'], i),
      chainPem,
    };
  });
}

/** The last 48 bytes of the leaf's TCG DICE FWID extension, hex. */
function certificateFwid(leaf: X509Certificate): string {
  let value: Uint8Array | undefined;
  try {
    const ext = new PeculiarCertificate(leaf.raw).extensions.find((e) => e.type === OID_TCG_DICE_FWID);
    value = ext === undefined ? undefined : new Uint8Array(ext.value);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'GPU evidence: the signing certificate extensions do not parse', { cause });
  }
  if (value === undefined || value.length < FWID_BYTES) throw new VerifyError('EG_VERIFY_CHAIN', `GPU evidence: the signing certificate has no FWID extension (${OID_TCG_DICE_FWID}): it is not a GPU firmware alias certificate`);
  return toHex(value.subarray(value.length - FWID_BYTES));
}

function fail(ctx: VerifyContext, step: string, code: ConstructorParameters<typeof VerifyError>[0], detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

function verifyDevice(device: DeviceInput, i: number, roots: ReadonlyMap<string, string>, ctx: VerifyContext): GpuDeviceClaims {
  const label = `gpu${i}`;
  const report: GpuReport = recorded(ctx, `${label}.parse`, () => parseGpuReport(device.report));
  ctx.transcript.pass(`${label}.parse`, `${device.arch} SPDM 1.1 measurements report, ${report.measurements.length} blocks, ${device.report.length} bytes`);
  const chain = recorded(ctx, `${label}.cert`, () => parsePemBundle(device.chainPem, `${label} certificate chain`));
  if (chain.length < 2) fail(ctx, `${label}.cert`, 'EG_VERIFY_CHAIN', `${label}: the certificate chain holds ${chain.length} certificate; it needs the signing certificate and the CAs up to the NVIDIA root`);
  verifyChain(chain, roots, `${label}.cert`, ctx);
  const leaf = chain[0]!;
  let ok = false;
  try {
    ok = verifySignature('sha384', report.signedBytes, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, report.signature);
  } catch {
    ok = false;
  }
  if (!ok) fail(ctx, `${label}.signature`, 'EG_VERIFY_SIGNATURE', `${label}: the report's ECDSA P-384 signature does not verify under the signing certificate`);
  ctx.transcript.pass(`${label}.signature`, 'ECDSA P-384 SHA-384 over the SPDM request and response verifies under the signing certificate');
  const fwid = opaqueFwid(report);
  const certFwid = recorded(ctx, `${label}.fwid`, () => certificateFwid(leaf));
  if (fwid === undefined || fwid !== certFwid) {
    fail(ctx, `${label}.fwid`, 'EG_VERIFY_BINDING', `${label}: the report's FWID ${fwid ?? '(none)'} is not the signing certificate's ${certFwid}`);
  }
  ctx.transcript.pass(`${label}.fwid`, `the signing certificate is for the running firmware (FWID ${fwid.slice(0, 16)}…)`);
  const measurements: Record<string, string> = {};
  for (const m of report.measurements) measurements[String(m.index)] = toHex(m.value);
  const driverVersion = opaqueText(report, OPAQUE_TYPE.driverVersion);
  return {
    arch: device.arch,
    ...(device.uuid === undefined ? {} : { uuid: device.uuid }),
    nonce: toHex(report.requestNonce),
    fwid,
    ...(driverVersion === undefined ? {} : { driverVersion }),
    measurements: Object.freeze(measurements),
    certificateChain: chain.map((c) => c.subject.replace(/\n/g, ', ')),
  };
}

/**
 * Verifies GPU evidence at ctx.at. Every device must verify and all must
 * carry the same nonce (they were asked together). `reportData` is that
 * nonce; `measurement` is the first device's FWID.
 */
export function verifyGpuEvidence(bytes: Uint8Array, ctx: VerifyContext, options: GpuVerifyOptions = {}): VerifiedEvidence {
  const devices = recorded(ctx, 'gpu.parse', () => parseGpuEvidence(bytes));
  const roots = options.roots ?? NVIDIA_PINNED_ROOTS;
  const verified = devices.map((d, i) => verifyDevice(d, (options.firstIndex ?? 0) + i, roots, ctx));
  const nonce = verified[0]!.nonce;
  if (verified.some((d) => d.nonce !== nonce)) fail(ctx, 'gpu.nonce', 'EG_VERIFY_BINDING', 'the GPUs were asked with different nonces');
  const claims: GpuClaims = { devices: verified };
  return Object.freeze({
    platform: 'nvidia-gpu',
    measurement: verified[0]!.fwid,
    reportData: nonce,
    // A GPU in CC mode has no debug switch in its report; devtools mode shows in the measurements.
    debug: false,
    tcb: Object.freeze({ driverVersions: verified.map((d) => d.driverVersion ?? null) }),
    claims: Object.freeze(claims) as unknown as Readonly<Record<string, unknown>>,
  });
}
