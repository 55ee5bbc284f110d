/**
 * The handful of TPM 2.0 commands the azure-vtpm provider needs, marshalled
 * by hand (TPM 2.0 Library, Part 2 structures and Part 3 commands; all
 * integers big-endian), and the transports that carry them: the kernel's
 * resource manager `/dev/tpmrm0` (one whole command written, one whole
 * response read), or a swtpm socket (unix path or tcp://host:port) for
 * development and tests. No tpm2-tss: six commands do not justify a native
 * library, and the marshalling is checked against swtpm in the tests.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';

/** Command codes (Part 2, Table 12). */
export const TPM_CC = {
  NV_DefineSpace: 0x12a,
  NV_Write: 0x137,
  NV_Read: 0x14e,
  Quote: 0x158,
  NV_ReadPublic: 0x169,
  ReadPublic: 0x173,
  PCR_Read: 0x17e,
} as const;

const TPM_ST_NO_SESSIONS = 0x8001;
const TPM_ST_SESSIONS = 0x8002;
/** TPM_RH_OWNER and TPM_RS_PW (the password session). */
export const TPM_RH_OWNER = 0x40000001;
const TPM_RS_PW = 0x40000009;
export const TPM_ALG = { rsa: 0x0001, sha256: 0x000b, null: 0x0010, rsassa: 0x0014, rsapss: 0x0016 } as const;
/** TPMA_NV_OWNERWRITE | AUTHWRITE | OWNERREAD | AUTHREAD: what `tpm2_nvdefine -C o` gives, and what Azure's tooling uses. */
export const NV_ATTRIBUTES_OWNER_RW = 0x00060006;
/** Largest TPM2B_MAX_NV_BUFFER the reference implementation (and swtpm) accepts. */
export const MAX_NV_CHUNK = 1024;
/** A TPM response never exceeds this (TPM_BUFFER_MAX of the reference implementation). */
const MAX_RESPONSE = 4096;

/** A non-success response code, with the command that got it. */
export class TpmError extends Error {
  constructor(
    readonly command: keyof typeof TPM_CC,
    readonly rc: number,
  ) {
    super(`TPM2_${command} failed with response code 0x${rc.toString(16).padStart(3, '0')} (${describeRc(rc)})`);
  }

  /** TPM_RC_HANDLE on any handle: the NV index or key does not exist. */
  get isHandleMissing(): boolean {
    return (this.rc & 0x80) !== 0 && (this.rc & 0x3f) === 0x0b;
  }
}

/** A few response codes an operator may meet, by name (Part 2, §6.6). */
function describeRc(rc: number): string {
  if (rc & 0x80) {
    const names: Record<number, string> = { 0x0b: 'TPM_RC_HANDLE: no such handle', 0x0e: 'TPM_RC_AUTH_FAIL: wrong authorization', 0x15: 'TPM_RC_SIZE', 0x04: 'TPM_RC_VALUE', 0x0d: 'TPM_RC_RANGE' };
    return names[rc & 0x3f] ?? 'format-1 error';
  }
  const names: Record<number, string> = {
    0x922: 'TPM_RC_RETRY',
    0x908: 'TPM_RC_YIELDED',
    0x14a: 'TPM_RC_NV_UNINITIALIZED: the index was never written',
    0x149: 'TPM_RC_NV_AUTHORIZATION',
    0x14c: 'TPM_RC_NV_DEFINED: the index already exists',
    0x101: 'TPM_RC_FAILURE',
    0x100: 'TPM_RC_INITIALIZE: TPM2_Startup was not run',
  };
  return names[rc] ?? 'see TPM 2.0 Part 2, §6.6';
}

/** One connection that carries whole commands and returns whole responses. */
export interface TpmTransport {
  send(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Opens a transport to `target`: a character device, a unix socket path, or tcp://host:port. */
export type TpmOpener = (target: string) => Promise<TpmTransport>;

/** Builds big-endian byte strings. */
class Writer {
  readonly #parts: number[] = [];
  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.#parts.push(x);
    return this;
  }
  /** A TPM2B: u16 size, then the bytes. */
  sized(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** Reads big-endian fields; running past the end is a malformed response. */
export class Reader {
  #offset = 0;
  readonly #view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get offset(): number {
    return this.#offset;
  }
  #need(n: number): void {
    if (this.#offset + n > this.bytes.length) throw new Error(`TPM response ends early (needs ${n} bytes at ${this.#offset}, has ${this.bytes.length})`);
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#offset++);
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return v;
  }
  take(n: number): Uint8Array {
    this.#need(n);
    const out = this.bytes.slice(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }
  sized(): Uint8Array {
    return this.take(this.u16());
  }
}

/** TPMS_AUTH_COMMAND for the empty password: what owner and AK use on Azure's vTPM. */
function passwordSession(): Uint8Array {
  return new Writer().u32(TPM_RS_PW).u16(0).u8(0).u16(0).done();
}

/** Marshals a command with `handles`, an optional password session, and `params`. */
export function marshalCommand(code: number, handles: readonly number[], params: Uint8Array, withSession: boolean): Uint8Array {
  const session = withSession ? passwordSession() : undefined;
  const body = new Writer();
  for (const h of handles) body.u32(h);
  if (session !== undefined) body.u32(session.length).bytes(session);
  body.bytes(params);
  const inner = body.done();
  return new Writer()
    .u16(withSession ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS)
    .u32(10 + inner.length)
    .u32(code)
    .bytes(inner)
    .done();
}

/** Checks a response's header and returns a reader positioned at its parameters. */
function openResponse(command: keyof typeof TPM_CC, response: Uint8Array, withSession: boolean, responseHandles = 0): Reader {
  const r = new Reader(response);
  const tag = r.u16();
  const size = r.u32();
  const rc = r.u32();
  if (size !== response.length) throw new Error(`TPM2_${command}: response says ${size} bytes, got ${response.length}`);
  if (rc !== 0) throw new TpmError(command, rc);
  if (tag !== (withSession ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS)) throw new Error(`TPM2_${command}: unexpected response tag 0x${tag.toString(16)}`);
  for (let i = 0; i < responseHandles; i++) r.u32();
  if (withSession) r.u32(); // parameterSize; the session area after the parameters is not needed
  return r;
}

/** TPML_PCR_SELECTION of the SHA-256 bank. */
export function pcrSelection(indexes: readonly number[]): Uint8Array {
  const select = new Uint8Array(3);
  for (const i of indexes) select[i >> 3]! |= 1 << (i & 7);
  return new Writer().u32(1).u16(TPM_ALG.sha256).u8(select.length).bytes(select).done();
}

/** TPMS_NV_PUBLIC fields the provider uses. */
export interface NvPublic {
  readonly index: number;
  readonly attributes: number;
  readonly dataSize: number;
}

/** The typed commands, over one transport. */
export class Tpm {
  constructor(readonly transport: TpmTransport) {}

  async #call(command: keyof typeof TPM_CC, handles: readonly number[], params: Uint8Array, withSession: boolean, responseHandles = 0): Promise<Reader> {
    const marshalled = marshalCommand(TPM_CC[command], handles, params, withSession);
    for (let attempt = 1; ; attempt++) {
      try {
        return openResponse(command, await this.transport.send(marshalled), withSession, responseHandles);
      } catch (error) {
        // TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING mean "ask again"; a few tries, then the error stands.
        if (!(error instanceof TpmError) || ![0x922, 0x908, 0x90a].includes(error.rc) || attempt === 4) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  async nvReadPublic(index: number): Promise<NvPublic> {
    const r = await this.#call('NV_ReadPublic', [index], new Uint8Array(), false);
    const pub = new Reader(r.sized());
    const found = pub.u32();
    pub.u16(); // nameAlg
    const attributes = pub.u32();
    pub.sized(); // authPolicy
    return { index: found, attributes, dataSize: pub.u16() };
  }

  async nvDefineSpace(index: number, size: number, attributes: number): Promise<void> {
    const nvPublic = new Writer().u32(index).u16(TPM_ALG.sha256).u32(attributes).u16(0).u16(size).done();
    await this.#call('NV_DefineSpace', [TPM_RH_OWNER], new Writer().u16(0).sized(nvPublic).done(), true);
  }

  async nvWrite(index: number, data: Uint8Array): Promise<void> {
    for (let offset = 0; offset < data.length; offset += MAX_NV_CHUNK) {
      const chunk = data.subarray(offset, offset + MAX_NV_CHUNK);
      await this.#call('NV_Write', [TPM_RH_OWNER, index], new Writer().sized(chunk).u16(offset).done(), true);
    }
  }

  async nvRead(index: number, size: number): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += MAX_NV_CHUNK) {
      const want = Math.min(MAX_NV_CHUNK, size - offset);
      const r = await this.#call('NV_Read', [TPM_RH_OWNER, index], new Writer().u16(want).u16(offset).done(), true);
      const chunk = r.sized();
      if (chunk.length !== want) throw new Error(`TPM2_NV_Read returned ${chunk.length} bytes, asked for ${want}`);
      out.set(chunk, offset);
    }
    return out;
  }

  /** The public area (TPMT_PUBLIC) of a loaded or persistent object. */
  async readPublic(handle: number): Promise<Uint8Array> {
    const r = await this.#call('ReadPublic', [handle], new Uint8Array(), false);
    return r.sized();
  }

  /** TPM2_Quote with the key's own scheme (NULL); returns the TPMS_ATTEST bytes and the raw RSA signature. */
  async quote(signHandle: number, qualifyingData: Uint8Array, pcrs: readonly number[]): Promise<{ readonly message: Uint8Array; readonly signature: Uint8Array; readonly sigAlg: number; readonly hashAlg: number }> {
    const params = new Writer().sized(qualifyingData).u16(TPM_ALG.null).bytes(pcrSelection(pcrs)).done();
    const r = await this.#call('Quote', [signHandle], params, true);
    const message = r.sized();
    const sigAlg = r.u16();
    if (sigAlg !== TPM_ALG.rsassa && sigAlg !== TPM_ALG.rsapss) throw new Error(`TPM2_Quote signed with algorithm 0x${sigAlg.toString(16)}, expected RSASSA`);
    const hashAlg = r.u16();
    return { message, signature: r.sized(), sigAlg, hashAlg };
  }

  /** Reads SHA-256 PCR values; the TPM answers at most 8 per call, so this asks until all came back. */
  async pcrRead(indexes: readonly number[]): Promise<Map<number, Uint8Array>> {
    const values = new Map<number, Uint8Array>();
    let remaining = [...indexes];
    for (let round = 0; remaining.length > 0; round++) {
      if (round > indexes.length) throw new Error('TPM2_PCR_Read made no progress');
      const r = await this.#call('PCR_Read', [], pcrSelection(remaining), false);
      r.u32(); // pcrUpdateCounter
      const banks = r.u32();
      const got: number[] = [];
      for (let b = 0; b < banks; b++) {
        const hash = r.u16();
        const select = r.take(r.u8());
        if (hash !== TPM_ALG.sha256) continue;
        select.forEach((byte, i) => {
          for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) got.push(i * 8 + bit);
        });
      }
      const count = r.u32();
      if (count !== got.length) throw new Error(`TPM2_PCR_Read returned ${count} digests for ${got.length} selected PCRs`);
      got.sort((a, b) => a - b).forEach((index) => values.set(index, r.sized()));
      if (got.length === 0) throw new Error('TPM2_PCR_Read returned no PCRs: is the SHA-256 bank allocated?');
      remaining = remaining.filter((i) => !values.has(i));
    }
    return values;
  }
}

/** Reads one whole TPM response from a stream socket (its size is in the header). */
function socketTransport(socket: Socket): TpmTransport {
  let buffered = Buffer.alloc(0);
  let waiter: { resolve(b: Uint8Array): void; reject(e: Error): void } | undefined;
  let failure: Error | undefined;
  const settle = (): void => {
    if (waiter === undefined || buffered.length < 10) return;
    const size = buffered.readUInt32BE(2);
    if (size < 10 || size > MAX_RESPONSE) {
      waiter.reject(new Error(`TPM response header claims ${size} bytes`));
      waiter = undefined;
      return;
    }
    if (buffered.length < size) return;
    const response = new Uint8Array(buffered.subarray(0, size));
    buffered = buffered.subarray(size);
    const w = waiter;
    waiter = undefined;
    w.resolve(response);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    settle();
  });
  const fail = (error: Error): void => {
    failure = error;
    waiter?.reject(error);
    waiter = undefined;
  };
  socket.on('error', fail);
  socket.on('close', () => fail(Object.assign(new Error('the TPM socket closed'), { code: 'ECONNRESET' })));
  return {
    send(command) {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
        socket.write(command);
      });
    },
    async close() {
      socket.destroy();
    },
  };
}

function connectSocket(options: { path: string } | { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(options);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A character device: the kernel's resource manager takes one command per write and answers it on the next read. */
function deviceTransport(handle: FileHandle): TpmTransport {
  return {
    async send(command) {
      await handle.write(command, 0, command.length, null);
      const buffer = new Uint8Array(MAX_RESPONSE);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      return buffer.slice(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

/** The default opener: tcp://host:port, a unix socket, or a device such as /dev/tpmrm0. */
export const openTpm: TpmOpener = async (target) => {
  if (target.startsWith('tcp://')) {
    const url = new URL(target);
    return socketTransport(await connectSocket({ host: url.hostname, port: Number(url.port) }));
  }
  if ((await stat(target)).isSocket()) return socketTransport(await connectSocket({ path: target }));
  return deviceTransport(await open(target, 'r+'));
};
