/**
 * A fake Nitro Secure Module at the ioctl seam (src/evidence/native-ioctl.ts):
 * it checks each call is NSM_IOCTL_RAW with the driver's buffer limits,
 * decodes the CBOR request as the NSM would, and answers with whatever the
 * test supplies: a real document from test/vectors/nitro, a document the
 * test signs with its own root, an NSM error, or an errno.
 */
import { decode, encode } from 'cbor2';
import type { IoctlDevice, IoctlOpener } from '../../src/evidence/native-ioctl.js';
import { NSM_IOCTL_RAW, NSM_MAX_REQUEST_BYTES, NSM_MAX_RESPONSE_BYTES } from '../../src/evidence/nitro.js';

/** The fields of an Attestation request, as the NSM decoded them. */
export interface NsmAttestationRequest {
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
  readonly publicKey: Uint8Array | null;
}

/** What the fake answers to an Attestation request. */
export type NsmAnswer =
  | { readonly document: Uint8Array }
  | { readonly error: string }
  | { readonly errno: string }
  /** Raw response bytes, for malformed answers. */
  | { readonly raw: Uint8Array };

export interface FakeNsmOptions {
  /** Answer to Attestation requests (may be async, e.g. signing). */
  readonly attest: (request: NsmAttestationRequest) => NsmAnswer | Promise<NsmAnswer>;
  /** errno to fail open() with (e.g. ENOENT, EACCES). */
  readonly openErrno?: string;
}

export interface FakeNsm {
  readonly open: IoctlOpener;
  /** Every decoded Attestation request, in order. */
  readonly requests: NsmAttestationRequest[];
  /** Variants of every call (Attestation, DescribeNSM). */
  readonly calls: string[];
  /** Devices opened and not closed. */
  openDevices(): number;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake NSM`), { code });
}

function field(map: Map<unknown, unknown>, key: string): Uint8Array | null {
  const value = map.get(key);
  if (value === null) return null;
  if (!(value instanceof Uint8Array)) throw new Error(`fake NSM: "${key}" is neither bytes nor null`);
  return value;
}

export function createFakeNsm(options: FakeNsmOptions): FakeNsm {
  const requests: NsmAttestationRequest[] = [];
  const calls: string[] = [];
  let opened = 0;
  return {
    requests,
    calls,
    openDevices: () => opened,
    async open(): Promise<IoctlDevice> {
      if (options.openErrno !== undefined) throw errno(options.openErrno);
      opened++;
      return {
        async call(number, request, capacity) {
          if (number !== NSM_IOCTL_RAW) throw errno('ENOTTY');
          if (request.length > NSM_MAX_REQUEST_BYTES) throw errno('EMSGSIZE');
          if (capacity !== NSM_MAX_RESPONSE_BYTES) throw new Error(`fake NSM: response buffer of ${capacity} bytes, the driver uses ${NSM_MAX_RESPONSE_BYTES}`);
          // The NSM decodes maps; cbor2 would give plain objects for text keys unless asked for Maps.
          const decoded: unknown = decode(request, { preferMap: true });
          if (decoded === 'DescribeNSM') {
            calls.push('DescribeNSM');
            return encode(new Map([['DescribeNSM', new Map<string, unknown>([['version_major', 1], ['module_id', 'i-fake-enc0']])]]));
          }
          const inner = decoded instanceof Map ? decoded.get('Attestation') : undefined;
          if (!(inner instanceof Map) || inner.size !== 3) throw new Error('fake NSM: not an Attestation request with user_data, nonce and public_key');
          calls.push('Attestation');
          const req = { userData: field(inner, 'user_data'), nonce: field(inner, 'nonce'), publicKey: field(inner, 'public_key') };
          requests.push(req);
          const answer = await options.attest(req);
          if ('errno' in answer) throw errno(answer.errno);
          if ('raw' in answer) return answer.raw;
          if ('error' in answer) return encode(new Map([['Error', answer.error]]));
          return encode(new Map([['Attestation', new Map([['document', answer.document]])]]));
        },
        close() {
          opened--;
        },
      };
    },
  };
}
