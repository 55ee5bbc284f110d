/**
 * Where each evidence format keeps its 64 bytes of report data, so a
 * provider can check that the device answered *this* request. The check is
 * cheap and catches what the device interfaces cannot rule out: a configfs
 * writer racing ours, Gramine's process-global pseudo-files used by another
 * thread, a dstack agent that padded or truncated what we sent. Verification
 * proper (signatures, chains) is the verifier's job, not the issuer's.
 */
import { timingSafeEqual } from 'node:crypto';
import { attestationFailed } from './device-errors.js';
import type { HardwareProviderName } from './provider.js';

/** Length of the report data every TEE here signs. */
export const REPORT_DATA_LENGTH = 64;

/** SEV-SNP ATTESTATION_REPORT: fixed size, report data at 0x50 (SEV-SNP ABI spec, Table 22). */
export const SNP_REPORT_SIZE = 0x4a0;
const SNP_REPORT_DATA_OFFSET = 0x50;

/** Intel quote header (v3/v4/v5) is 48 bytes; TEE type 0x81 is TDX, 0 is SGX. */
const INTEL_HEADER = 48;
const TEE_TYPE_SGX = 0x00;
const TEE_TYPE_TDX = 0x81;
/** Offset of report data inside an SGX enclave report body (384 bytes). */
const SGX_BODY_REPORT_DATA = 320;
/** Offset of report data inside a TD report body (TDX 1.0: 584 bytes, 1.5: 648 bytes). */
const TD_BODY_REPORT_DATA = 520;
/** v5 quotes put a body descriptor {u16 type, u32 size} between header and body. */
const V5_BODY_DESCRIPTOR = 6;

/** Platform and report data found in a piece of evidence. */
export interface EmbeddedReportData {
  readonly platform: 'sev-snp' | 'tdx' | 'sgx';
  readonly reportData: Uint8Array;
}

/** Throws unless `reportData` is exactly 64 bytes: callers hash and pad, providers never do. */
export function assertReportData(provider: HardwareProviderName, reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.length !== REPORT_DATA_LENGTH) {
    const got = reportData instanceof Uint8Array ? `${reportData.length} bytes` : typeof reportData;
    throw attestationFailed(provider, `report data must be exactly ${REPORT_DATA_LENGTH} bytes, got ${got}`);
  }
}

/** Report data of a raw SEV-SNP attestation report; undefined when too short to be one. */
export function snpReportData(report: Uint8Array): EmbeddedReportData | undefined {
  if (report.length < SNP_REPORT_SIZE) return undefined;
  return { platform: 'sev-snp', reportData: report.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + REPORT_DATA_LENGTH) };
}

/** Platform and report data of an Intel DCAP quote (v3 SGX, v4/v5 SGX or TDX); undefined when unrecognised. */
export function intelQuoteReportData(quote: Uint8Array): EmbeddedReportData | undefined {
  if (quote.length < INTEL_HEADER + V5_BODY_DESCRIPTOR) return undefined;
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const version = view.getUint16(0, true);
  // Attestation key type 2 (ECDSA P-256) or 3 (P-384); also tells a quote from an SNP report, whose u32 version leaves these bytes zero.
  const keyType = view.getUint16(2, true);
  if (keyType !== 2 && keyType !== 3) return undefined;
  const teeType = view.getUint32(4, true);
  let platform: EmbeddedReportData['platform'];
  let offset: number;
  if (version === 3 || version === 4) {
    if (teeType === TEE_TYPE_TDX && version === 4) [platform, offset] = ['tdx', INTEL_HEADER + TD_BODY_REPORT_DATA];
    else if (teeType === TEE_TYPE_SGX) [platform, offset] = ['sgx', INTEL_HEADER + SGX_BODY_REPORT_DATA];
    else return undefined;
  } else if (version === 5) {
    const bodyType = view.getUint16(INTEL_HEADER, true);
    const body = INTEL_HEADER + V5_BODY_DESCRIPTOR;
    // Body type 1 is an SGX enclave report, 2 a TDX 1.0 and 3 a TDX 1.5 TD report.
    if (bodyType === 1 && teeType === TEE_TYPE_SGX) [platform, offset] = ['sgx', body + SGX_BODY_REPORT_DATA];
    else if ((bodyType === 2 || bodyType === 3) && teeType === TEE_TYPE_TDX) [platform, offset] = ['tdx', body + TD_BODY_REPORT_DATA];
    else return undefined;
  } else {
    return undefined;
  }
  if (quote.length < offset + REPORT_DATA_LENGTH) return undefined;
  return { platform, reportData: quote.subarray(offset, offset + REPORT_DATA_LENGTH) };
}

/**
 * Checks that `found` (from the evidence) is the report data we asked for,
 * on the platform we expected. The message never prints report data: it is
 * a hash of key material, harmless, but logs do not need it.
 */
export function assertEchoed(
  provider: HardwareProviderName,
  found: EmbeddedReportData | undefined,
  expected: { readonly platform: EmbeddedReportData['platform']; readonly reportData: Uint8Array },
  what: string,
): void {
  if (found === undefined) throw attestationFailed(provider, `${what} is not a recognisable ${expected.platform} report or quote`);
  if (found.platform !== expected.platform) {
    throw attestationFailed(provider, `${what} is ${found.platform} evidence, expected ${expected.platform}`);
  }
  if (!timingSafeEqual(found.reportData, expected.reportData)) {
    throw attestationFailed(
      provider,
      `${what} does not carry the report data that was requested (another writer used the device concurrently, or the device rewrote the input)`,
    );
  }
}
