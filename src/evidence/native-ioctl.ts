/**
 * Raw ioctl for providers whose device speaks no file protocol (the Nitro
 * Secure Module). Node has no ioctl, so this calls libc's through koffi, an
 * *optional* dependency imported only when such a provider first talks to
 * its device: nothing else in enclave-gate needs a native binary, and a host
 * without koffi gets a clear EG_ATTESTATION_UNAVAILABLE instead of a crash.
 *
 * The seam tests replace is {@link IoctlDevice}: one `call` per ioctl with
 * the request bytes in and the response bytes out, errno as a Node-style
 * error (`code: 'ENOTTY'`), so device errors read the same as fs errors.
 */
import { importKoffi } from './koffi.js';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { attestationUnavailable, errnoError } from './device-errors.js';
import type { ProviderName } from './provider.js';

/** An open character device that answers "request buffer in, response buffer out" ioctls. */
export interface IoctlDevice {
  /**
   * Issues ioctl `number` whose argument is `{u64 req_addr, u64 req_len,
   * u64 resp_addr, u64 resp_len}` (the NSM raw layout), with a response
   * buffer of `responseCapacity` bytes; returns the `resp_len` bytes the
   * kernel wrote. Rejects with an errno error when ioctl returns -1.
   * Asynchronous so a fake can compute its answer (sign a document); the
   * real NSM answers in milliseconds, so the native call runs inline.
   */
  call(number: number, request: Uint8Array, responseCapacity: number): Promise<Uint8Array>;
  close(): void;
}

/** Opens a device; the function tests inject. */
export type IoctlOpener = (path: string) => Promise<IoctlDevice>;

/** What this module needs of koffi; typed here so no `any` crosses the boundary. */
interface KoffiLike {
  load(name: string): { func(signature: string): (...args: unknown[]) => number };
  struct(name: string, fields: Record<string, unknown>): unknown;
  alloc(type: string, count: number): unknown;
  free(pointer: unknown): void;
  address(pointer: unknown): bigint;
  encode(pointer: unknown, type: string, value: unknown, count: number): void;
  view(pointer: unknown, length: number): ArrayBuffer;
  errno(): number;
}

interface RawArg {
  request: { addr: bigint | number; len: bigint | number };
  response: { addr: bigint | number; len: bigint | number };
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

interface BoundIoctl {
  readonly koffi: KoffiLike;
  readonly ioctl: (fd: number, number: number, arg: RawArg) => number;
}

let loaded: Promise<BoundIoctl> | undefined;

/** Imports koffi and binds libc's ioctl once; a failed import is retried next time (it may get installed). */
function bindIoctl(provider: ProviderName): Promise<BoundIoctl> {
  loaded ??= (async () => {
    let koffi: KoffiLike;
    try {
      koffi = await importKoffi<KoffiLike>();
    } catch (cause) {
      loaded = undefined;
      throw Object.assign(
        attestationUnavailable(provider, `the optional dependency "koffi" (raw ioctl from Node) could not be loaded: ${cause instanceof Error ? cause.message.split('\n', 1)[0] : String(cause)}. Install it with \`npm install koffi\``),
        { cause },
      );
    }
    const iovec = koffi.struct('eg_ioctl_iovec', { addr: 'uint64_t', len: 'uint64_t' });
    koffi.struct('eg_ioctl_raw', { request: iovec, response: iovec });
    const ioctl = koffi.load('libc.so.6').func('int ioctl(int fd, unsigned long request, _Inout_ eg_ioctl_raw *arg)');
    return { koffi, ioctl: (fd: number, number: number, arg: RawArg) => ioctl(fd, number, arg) };
  })();
  return loaded;
}

/**
 * Opens `path` and returns a device whose `call` runs the real ioctl through
 * koffi. Buffers live in native memory (koffi.alloc) for the duration of one
 * call, so their addresses stay fixed while the kernel reads and writes them.
 */
export function nativeIoctlOpener(provider: ProviderName): IoctlOpener {
  return async (path: string): Promise<IoctlDevice> => {
    const { koffi, ioctl } = await bindIoctl(provider);
    const fd = openSync(path, 'r+');
    return {
      async call(number, request, responseCapacity) {
        const reqPtr = koffi.alloc('uint8_t', Math.max(1, request.length));
        const respPtr = koffi.alloc('uint8_t', responseCapacity);
        try {
          if (request.length > 0) koffi.encode(reqPtr, 'uint8_t', Array.from(request), request.length);
          const arg: RawArg = {
            request: { addr: koffi.address(reqPtr), len: BigInt(request.length) },
            response: { addr: koffi.address(respPtr), len: BigInt(responseCapacity) },
          };
          // errno is read right after the call, before anything else can touch it.
          const rc = ioctl(fd, number, arg);
          const errno = rc === -1 ? koffi.errno() : 0;
          if (rc === -1) {
            const name = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
            throw errnoError(name, `ioctl 0x${number.toString(16)} failed`, path);
          }
          const length = Number(arg.response.len);
          if (!Number.isSafeInteger(length) || length < 0 || length > responseCapacity) {
            throw errnoError('EOVERFLOW', `ioctl answered ${String(arg.response.len)} bytes into a ${responseCapacity}-byte buffer`, path);
          }
          return new Uint8Array(koffi.view(respPtr, length).slice(0));
        } finally {
          koffi.free(reqPtr);
          koffi.free(respPtr);
        }
      },
      close() {
        closeSync(fd);
      },
    };
  };
}
