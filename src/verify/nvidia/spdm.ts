/**
 * An NVIDIA GPU attestation report: the SPDM 1.1 GET_MEASUREMENTS request
 * the driver sent (with the caller's 32-byte nonce) followed by the GPU's
 * signed MEASUREMENTS response (DMTF DSP0274 1.1, §10.11; little-endian):
 *
 *   request:  u8 version 0x11, u8 code 0xE0, u8 param1 (bit 0: sign), u8 param2 (0xFF: all), nonce[32], u8 slot  (37 bytes)
 *   response: u8 version 0x11, u8 code 0x60, u8 param1, u8 param2 (slot), u8 number of blocks,
 *             u24 record length, record, nonce[32] (the GPU's), u16 opaque length, opaque data,
 *             signature[96] (ECDSA P-384 r‖s over SHA-384 of request ‖ response up to the signature)
 *   block:    u8 index, u8 spec (1 = DMTF), u16 size, { u8 value type, u16 value size, value }
 *   opaque:   NVIDIA's list of { u16 type, u16 size, value } (20 = FWID, 3 = driver version, …)
 */
import { VerifyError } from '../../errors.js';
import { toHex } from '../bytes.js';

export const SPDM_REQUEST_BYTES = 37;
export const SPDM_SIGNATURE_BYTES = 96;
const SPDM_VERSION_11 = 0x11;
const GET_MEASUREMENTS = 0xe0;
const MEASUREMENTS = 0x60;
const DMTF_SPEC = 0x01;
/** Largest report NVML hands out (NVML_CC_GPU_ATTESTATION_REPORT_SIZE). */
export const MAX_GPU_REPORT_BYTES = 0x2000;

/** NVIDIA opaque-data field types the verifier names. */
export const OPAQUE_TYPE = {
  certIssuerName: 1,
  driverVersion: 3,
  gpuInfo: 4,
  vbiosVersion: 6,
  fwid: 20,
} as const;

/** One DMTF measurement block. */
export interface SpdmMeasurement {
  readonly index: number;
  readonly valueType: number;
  readonly value: Uint8Array;
}

/** A parsed report; nothing verified yet. */
export interface GpuReport {
  /** The caller's nonce, from the request: what binds the report to the CPU evidence. */
  readonly requestNonce: Uint8Array;
  readonly responderNonce: Uint8Array;
  readonly measurements: readonly SpdmMeasurement[];
  /** Opaque fields by type. */
  readonly opaque: ReadonlyMap<number, Uint8Array>;
  /** Request ‖ response up to the signature: what the GPU signed. */
  readonly signedBytes: Uint8Array;
  readonly signature: Uint8Array;
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `GPU report: ${message}`);
}

/** Parses an SPDM GET_MEASUREMENTS request + MEASUREMENTS response; every byte must be accounted for. */
export function parseGpuReport(bytes: Uint8Array): GpuReport {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', 'GPU report must be bytes');
  if (bytes.length > MAX_GPU_REPORT_BYTES) throw parseError(`${bytes.length} bytes, limit ${MAX_GPU_REPORT_BYTES}`);
  if (bytes.length < SPDM_REQUEST_BYTES + 8 + 34 + SPDM_SIGNATURE_BYTES) throw parseError(`${bytes.length} bytes is too short for an SPDM request and response`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== SPDM_VERSION_11 || bytes[1] !== GET_MEASUREMENTS) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `GPU report: the request is not an SPDM 1.1 GET_MEASUREMENTS (version 0x${bytes[0]!.toString(16)}, code 0x${bytes[1]!.toString(16)})`);
  }
  if ((bytes[2]! & 1) !== 1) throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'GPU report: the request did not ask for a signature');
  const requestNonce = bytes.slice(4, 36);
  let at = SPDM_REQUEST_BYTES;
  if (bytes[at] !== SPDM_VERSION_11 || bytes[at + 1] !== MEASUREMENTS) throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'GPU report: the response is not an SPDM 1.1 MEASUREMENTS');
  const blocks = bytes[at + 4]!;
  const recordLength = bytes[at + 5]! | (bytes[at + 6]! << 8) | (bytes[at + 7]! << 16);
  at += 8;
  const recordEnd = at + recordLength;
  if (recordEnd + 34 + SPDM_SIGNATURE_BYTES > bytes.length) throw parseError(`a measurement record of ${recordLength} bytes does not fit`);
  const measurements: SpdmMeasurement[] = [];
  while (at < recordEnd) {
    if (at + 4 > recordEnd) throw parseError('a measurement block header runs past the record');
    const index = bytes[at]!;
    const spec = bytes[at + 1]!;
    const size = view.getUint16(at + 2, true);
    if (spec !== DMTF_SPEC) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `GPU report: measurement ${index} uses specification ${spec}, not DMTF (1)`);
    if (at + 4 + size > recordEnd || size < 3) throw parseError(`measurement ${index} of ${size} bytes runs past the record`);
    const valueType = bytes[at + 4]!;
    const valueSize = view.getUint16(at + 5, true);
    if (valueSize !== size - 3) throw parseError(`measurement ${index} says ${valueSize} value bytes in a ${size}-byte block`);
    measurements.push({ index, valueType, value: bytes.slice(at + 7, at + 7 + valueSize) });
    at += 4 + size;
  }
  if (measurements.length !== blocks) throw parseError(`the response announces ${blocks} blocks and holds ${measurements.length}`);
  if (new Set(measurements.map((m) => m.index)).size !== measurements.length) throw parseError('a measurement index appears twice');
  const responderNonce = bytes.slice(at, at + 32);
  at += 32;
  const opaqueLength = view.getUint16(at, true);
  at += 2;
  const opaqueEnd = at + opaqueLength;
  if (opaqueEnd + SPDM_SIGNATURE_BYTES > bytes.length) throw parseError(`the ${SPDM_SIGNATURE_BYTES}-byte signature does not fit after the opaque data`);
  // NVML returns the report in a fixed-size buffer; zero padding after the
  // signature carries nothing, anything else would be unsigned data.
  for (let i = opaqueEnd + SPDM_SIGNATURE_BYTES; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw parseError(`non-zero byte at ${i}, after the signature: it is covered by nothing`);
  }
  const opaque = new Map<number, Uint8Array>();
  while (at < opaqueEnd) {
    if (at + 4 > opaqueEnd) throw parseError('an opaque field header runs past the opaque data');
    const type = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (at + 4 + size > opaqueEnd) throw parseError(`opaque field ${type} runs past the opaque data`);
    opaque.set(type, bytes.slice(at + 4, at + 4 + size));
    at += 4 + size;
  }
  return { requestNonce, responderNonce, measurements, opaque, signedBytes: bytes.slice(0, opaqueEnd), signature: bytes.slice(opaqueEnd, opaqueEnd + SPDM_SIGNATURE_BYTES) };
}

/** A text opaque field (driver and VBIOS versions are NUL-terminated ASCII). */
export function opaqueText(report: GpuReport, type: number): string | undefined {
  const value = report.opaque.get(type);
  return value === undefined ? undefined : Buffer.from(value).toString('latin1').replace(/\0+$/, '');
}

/** The FWID opaque field, hex. */
export function opaqueFwid(report: GpuReport): string | undefined {
  const value = report.opaque.get(OPAQUE_TYPE.fwid);
  return value === undefined ? undefined : toHex(value);
}
