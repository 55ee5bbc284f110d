/**
 * The HCL report of an Azure confidential VM: what the paravisor (Microsoft's
 * "host compatibility layer", running at VMPL0 / as the TD's L1) reads out of
 * the hardware for the guest, through the vTPM NV index 0x01400001.
 *
 * Layout: wire/azure-hcl.ts (shared with the azure-vtpm provider).
 *
 * The hardware report's report_data[0:32] is SHA-256 of the variable data,
 * which is how the AK (and so every TPM quote) is tied to the hardware.
 */
import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import { HCL_HASH_SHA256, HCL_LAYOUT, HCL_REPORT_TYPE, HCL_SIGNATURE } from '../../wire/azure-hcl.js';

export { HCL_LAYOUT, HCL_REPORT_TYPE };
const HASH_TYPE_SHA256 = HCL_HASH_SHA256;

/** NV index size on Azure; nothing legitimate is larger. */
export const MAX_HCL_REPORT_BYTES = 8192;

/** A parsed HCL report; nothing here is verified yet. */
export interface HclReport {
  readonly platform: 'sev-snp' | 'tdx';
  /** The 1184-byte hardware report region (a TDREPORT uses the first 1024 bytes). */
  readonly hardwareReport: Uint8Array;
  /** The variable data exactly as hashed. */
  readonly variableData: Uint8Array;
  /** SHA-256 of the variable data. */
  readonly variableDataSha256: Uint8Array;
  /** The attestation key the vTPM quotes with (kid "HCLAkPub"). */
  readonly akPub: KeyObject;
  /** The AK as the JWK the HCL published (public parts only). */
  readonly akJwk: JsonWebKey;
  /** `user-data` of the variable data (what was last written to NV 0x01400002), lower-case hex, when present. */
  readonly userData?: string;
  /** `vm-configuration` of the variable data (secure boot, TPM enabled, console…), as published. */
  readonly vmConfiguration?: Readonly<Record<string, unknown>>;
}

function parseError(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_PARSE', `HCL report: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The HCLAkPub JWK from the variable data's key set. */
function akFromKeys(keys: unknown): { readonly jwk: JsonWebKey; readonly key: KeyObject } {
  if (!Array.isArray(keys)) throw parseError('variable data has no "keys" array');
  const found = keys.filter((k) => isObject(k) && k['kid'] === 'HCLAkPub');
  if (found.length !== 1) throw parseError(`variable data holds ${found.length} "HCLAkPub" keys, expected one`);
  const jwk = found[0] as Record<string, unknown>;
  if (jwk['kty'] !== 'RSA' || typeof jwk['n'] !== 'string' || typeof jwk['e'] !== 'string') {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'HCL report: HCLAkPub is not an RSA key (kty RSA with n and e)');
  }
  const publicJwk: JsonWebKey = { kty: 'RSA', n: jwk['n'], e: jwk['e'] };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'HCL report: HCLAkPub is not a valid RSA public key', { cause });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `HCL report: HCLAkPub is RSA-${bits}, at least 2048 bits are required`);
  return { jwk: publicJwk, key };
}

/**
 * Parses an HCL report (as read from NV 0x01400001; trailing zero bytes
 * after the variable data are allowed, the index is fixed-size).
 *
 * @throws VerifyError EG_VERIFY_PARSE for a truncated or malformed report,
 *   a bad signature string, variable data that is not JSON or lacks the AK;
 *   EG_VERIFY_UNSUPPORTED for another report type, hash type or key type.
 */
export function parseHclReport(bytes: Uint8Array): HclReport {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_USAGE', 'HCL report must be bytes');
  if (bytes.length > MAX_HCL_REPORT_BYTES) throw parseError(`${bytes.length} bytes, limit ${MAX_HCL_REPORT_BYTES}`);
  if (bytes.length < HCL_LAYOUT.variableDataOffset) throw parseError(`${bytes.length} bytes, shorter than the ${HCL_LAYOUT.variableDataOffset}-byte fixed part`);
  if (Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== HCL_SIGNATURE) throw parseError('does not start with "HCLA"');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = HCL_LAYOUT.requestDataOffset;
  const dataSize = view.getUint32(at, true);
  const reportType = view.getUint32(at + 8, true);
  const hashType = view.getUint32(at + 12, true);
  const variableSize = view.getUint32(at + 16, true);
  let platform: HclReport['platform'];
  if (reportType === HCL_REPORT_TYPE.snp) platform = 'sev-snp';
  else if (reportType === HCL_REPORT_TYPE.tdx) platform = 'tdx';
  else throw new VerifyError('EG_VERIFY_UNSUPPORTED', `HCL report: report type ${reportType} is neither SEV-SNP (2) nor TDX (4)`);
  if (hashType !== HASH_TYPE_SHA256) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `HCL report: variable-data hash type ${hashType} is not SHA-256 (1)`);
  if (dataSize !== HCL_LAYOUT.requestDataBytes + variableSize) {
    throw parseError(`request data size ${dataSize} is not ${HCL_LAYOUT.requestDataBytes} + variable-data size ${variableSize}`);
  }
  const end = HCL_LAYOUT.variableDataOffset + variableSize;
  if (variableSize === 0 || end > bytes.length) throw parseError(`variable data of ${variableSize} bytes does not fit in ${bytes.length} bytes`);
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw parseError(`non-zero byte at ${i}, after the variable data: nothing there is covered by the hash`);
  }
  const variableData = bytes.slice(HCL_LAYOUT.variableDataOffset, end);
  let json: unknown;
  try {
    // The HCL pads the JSON with NULs inside the hashed region; they are hashed but not JSON.
    json = JSON.parse(Buffer.from(variableData).toString('utf8').replace(/\0+$/, ''));
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'HCL report: variable data is not JSON', { cause });
  }
  if (!isObject(json)) throw parseError('variable data is not a JSON object');
  const ak = akFromKeys(json['keys']);
  const userData = json['user-data'];
  if (userData !== undefined && (typeof userData !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(userData))) throw parseError('"user-data" is not hex');
  const vmConfiguration = json['vm-configuration'];
  return {
    platform,
    hardwareReport: bytes.slice(HCL_LAYOUT.hardwareReportOffset, HCL_LAYOUT.hardwareReportOffset + HCL_LAYOUT.hardwareReportBytes),
    variableData,
    variableDataSha256: new Uint8Array(createHash('sha256').update(variableData).digest()),
    akPub: ak.key,
    akJwk: ak.jwk,
    ...(typeof userData === 'string' ? { userData: userData.toLowerCase() } : {}),
    ...(isObject(vmConfiguration) ? { vmConfiguration: Object.freeze({ ...vmConfiguration }) } : {}),
  };
}
