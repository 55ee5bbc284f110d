/**
 * nitro provider: AWS Nitro Enclaves. The attestation document comes from
 * the Nitro Secure Module behind `/dev/nsm`, through one raw ioctl:
 * `NSM_IOCTL_RAW` = _IOWR(0x0A, 0, struct nsm_raw) = 0xC0200A00, whose
 * argument is two {u64 addr, u64 len} iovecs, a CBOR request and a buffer
 * for the CBOR response (the kernel rewrites the response length).
 *
 * The messages are those of aws-nitro-enclaves-nsm-api (serde_cbor of its
 * `Request` / `Response` enums): `{"Attestation": {"user_data", "nonce",
 * "public_key"}}` → `{"Attestation": {"document": bstr}}` or
 * `{"Error": "<ErrorCode>"}`; `"DescribeNSM"` → `{"DescribeNSM": {…}}`,
 * which the probe uses because it costs no attestation.
 *
 * What the document carries (docs/providers.md):
 *  - `user_data`  the 64 bytes of report data, SHA-256(claims) ‖ 0³², so
 *                 the verifier's one report-data rule holds on Nitro too;
 *  - `public_key` the TLS key's DER SubjectPublicKeyInfo, when the caller
 *                 passes it (a second, direct binding clients can read);
 *  - `nonce`      the freshness endpoint's client nonce, when there is one.
 */
import { Tag, decode, encode } from 'cbor2';
import { timingSafeEqual } from 'node:crypto';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { attestationFailed, deviceError, type ErrnoHints } from './device-errors.js';
import { nativeIoctlOpener, type IoctlDevice, type IoctlOpener } from './native-ioctl.js';
import type { Evidence, GetEvidenceOptions, ProbingProvider } from './provider.js';
import { assertReportData } from './report-data.js';

/** Where the nsm driver puts the device. */
export const DEFAULT_NSM_DEVICE = '/dev/nsm';
/** _IOWR(NSM_MAGIC 0x0A, 0, struct nsm_raw of 32 bytes): linux/nsm.h. */
export const NSM_IOCTL_RAW = 0xc0200a00;
/** The driver refuses larger requests with EMSGSIZE and never answers more than this. */
export const NSM_MAX_REQUEST_BYTES = 0x1000;
export const NSM_MAX_RESPONSE_BYTES = 0x3000;
/** Field limits of the NSM API (user_data and nonce 512 bytes, public_key 1024). */
export const NSM_LIMITS = { userData: 512, nonce: 512, publicKey: 1024 } as const;

/** Options for the nitro provider. */
export interface NitroOptions {
  /** NSM device; default /dev/nsm. */
  readonly device?: string;
  /** Opens the device; tests inject a fake, the default calls ioctl through koffi. */
  readonly open?: IoctlOpener;
}

const NSM_HINTS: ErrnoHints = {
  ENOENT: {
    code: 'EG_ATTESTATION_UNAVAILABLE',
    hint: 'there is no NSM device: run inside an AWS Nitro Enclave whose kernel has the nsm driver (the AWS enclave kernel, or Linux ≥ 6.8 with CONFIG_NSM)',
  },
  ENOTTY: {
    code: 'EG_ATTESTATION_UNAVAILABLE',
    hint: 'the device does not understand NSM_IOCTL_RAW (0xC0200A00): it is not the Nitro Secure Module',
  },
  ENODEV: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'the NSM driver found no Nitro Secure Module' },
  EMSGSIZE: { code: 'EG_ATTESTATION_FAILED', hint: `the request exceeds the ${NSM_MAX_REQUEST_BYTES}-byte limit of the NSM` },
};

/** Encodes an NSM `Attestation` request; absent fields are CBOR null, as the NSM library sends them. */
export function encodeNsmAttestationRequest(fields: { readonly userData?: Uint8Array; readonly nonce?: Uint8Array; readonly publicKey?: Uint8Array }): Uint8Array {
  const inner = new Map<string, Uint8Array | null>([
    ['user_data', fields.userData ?? null],
    ['nonce', fields.nonce ?? null],
    ['public_key', fields.publicKey ?? null],
  ]);
  return encode(new Map([['Attestation', inner]]));
}

/** The `DescribeNSM` request: a unit variant, so just its name. */
export const NSM_DESCRIBE_REQUEST: Uint8Array = encode('DescribeNSM');

function lookup(value: unknown, key: string): unknown {
  if (value instanceof Map) return value.get(key);
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)) return (value as Record<string, unknown>)[key];
  return undefined;
}

/** The single key of an NSM response map (`Attestation`, `DescribeNSM`, `Error`) and its value. */
function responseVariant(bytes: Uint8Array): { readonly variant: string; readonly value: unknown } {
  let decoded: unknown;
  try {
    decoded = decode(bytes);
  } catch (cause) {
    throw attestationFailed('nitro', 'the NSM answered with something that is not CBOR', {}, cause);
  }
  const keys = decoded instanceof Map ? [...decoded.keys()] : typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) ? Object.keys(decoded) : [];
  if (keys.length !== 1 || typeof keys[0] !== 'string') throw attestationFailed('nitro', 'the NSM answer is not a one-entry CBOR map');
  const variant = keys[0];
  const value = lookup(decoded, variant);
  if (variant === 'Error') throw attestationFailed('nitro', `the NSM refused the request: ${typeof value === 'string' ? value.slice(0, 80) : 'unknown error'}`, { nsmError: typeof value === 'string' ? value.slice(0, 80) : null });
  return { variant, value };
}

/** The payload fields of a COSE_Sign1 attestation document that must echo the request (not verified: the client does that). */
function echoedFields(document: Uint8Array): { readonly userData: unknown; readonly nonce: unknown; readonly publicKey: unknown } {
  try {
    let envelope: unknown = decode(document);
    if (envelope instanceof Tag && Number(envelope.tag) === 18) envelope = envelope.contents;
    if (!Array.isArray(envelope) || envelope.length !== 4 || !(envelope[2] instanceof Uint8Array)) throw new Error('not a COSE_Sign1 with an attached payload');
    const payload: unknown = decode(envelope[2]);
    return { userData: lookup(payload, 'user_data'), nonce: lookup(payload, 'nonce'), publicKey: lookup(payload, 'public_key') };
  } catch (cause) {
    throw attestationFailed('nitro', 'the NSM answered with an attestation document that does not decode as COSE_Sign1', {}, cause);
  }
}

function sameBytes(actual: unknown, expected: Uint8Array | undefined): boolean {
  if (expected === undefined) return actual === undefined || actual === null;
  return actual instanceof Uint8Array && actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Checks that the document echoes exactly what was asked for. The NSM signs
 * what it is given, so a mismatch means the answer was not for this request
 * (a fake or replaying device, or a driver bug); issuing a certificate over
 * it would bind someone else's key.
 */
function assertDocumentEchoes(document: Uint8Array, asked: { readonly userData: Uint8Array; readonly nonce?: Uint8Array; readonly publicKey?: Uint8Array }): void {
  const found = echoedFields(document);
  const mismatched = [
    sameBytes(found.userData, asked.userData) ? undefined : 'user_data (the report data)',
    sameBytes(found.publicKey, asked.publicKey) ? undefined : 'public_key (the TLS key)',
    sameBytes(found.nonce, asked.nonce) ? undefined : 'nonce',
  ].filter((m): m is string => m !== undefined);
  if (mismatched.length > 0) {
    throw attestationFailed('nitro', `the attestation document does not echo the ${mismatched.join(', ')} that was requested; refusing to bind it`, { mismatched });
  }
}

function checkLength(name: string, value: Uint8Array | undefined, max: number): void {
  if (value !== undefined && value.length > max) throw attestationFailed('nitro', `${name} is ${value.length} bytes, the NSM accepts at most ${max}`);
}

/** Creates the nitro provider. Nothing is loaded or opened until the first call. */
export function createNitroProvider(options: NitroOptions = {}): ProbingProvider {
  const device = options.device ?? DEFAULT_NSM_DEVICE;
  const open = options.open ?? nativeIoctlOpener('nitro');

  /** Opens the device, makes one raw call and closes it again; errors name the device and errno. */
  async function rawCall(request: Uint8Array, action: string): Promise<Uint8Array> {
    let handle: IoctlDevice;
    try {
      handle = await open(device);
    } catch (cause) {
      throw deviceError('nitro', 'open', device, cause, NSM_HINTS);
    }
    try {
      return await handle.call(NSM_IOCTL_RAW, request, NSM_MAX_RESPONSE_BYTES);
    } catch (cause) {
      throw deviceError('nitro', `${action} (NSM_IOCTL_RAW) on`, device, cause, NSM_HINTS);
    } finally {
      try {
        handle.close();
      } catch {
        // Closing a character device cannot lose data; the answer is what matters.
      }
    }
  }

  return {
    name: 'nitro',
    platform: 'nitro',
    insecure: false,
    async probe() {
      const { variant } = responseVariant(await rawCall(NSM_DESCRIBE_REQUEST, 'DescribeNSM'));
      if (variant !== 'DescribeNSM') throw attestationFailed('nitro', `DescribeNSM was answered with "${variant.slice(0, 40)}"`);
    },
    async getEvidence(reportData: Uint8Array, callOptions: GetEvidenceOptions = {}): Promise<Evidence> {
      assertReportData('nitro', reportData);
      checkLength('the public key', callOptions.publicKey, NSM_LIMITS.publicKey);
      checkLength('the nonce', callOptions.nonce, NSM_LIMITS.nonce);
      const asked = {
        userData: reportData,
        ...(callOptions.nonce === undefined ? {} : { nonce: callOptions.nonce }),
        ...(callOptions.publicKey === undefined ? {} : { publicKey: callOptions.publicKey }),
      };
      const request = encodeNsmAttestationRequest(asked);
      if (request.length > NSM_MAX_REQUEST_BYTES) throw attestationFailed('nitro', `the request is ${request.length} bytes, the NSM accepts at most ${NSM_MAX_REQUEST_BYTES}`);
      const { variant, value } = responseVariant(await rawCall(request, 'Attestation'));
      const document = lookup(value, 'document');
      if (variant !== 'Attestation' || !(document instanceof Uint8Array) || document.length === 0) {
        throw attestationFailed('nitro', `the NSM answered "${variant.slice(0, 40)}" without an attestation document`);
      }
      assertDocumentEchoes(document, asked);
      return { tag: EVIDENCE_TAG.nitro, evidence: document.slice() };
    },
  };
}
