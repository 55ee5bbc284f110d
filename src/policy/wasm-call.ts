/**
 * One evaluation of a loaded OPA wasm module, from input JSON text to result
 * set JSON text, through the module's own ABI (OPA wasm ABI 1.2, `opa_eval`).
 *
 * Why not `LoadedPolicy.evaluate`: on every call the SDK copies the input
 * from a fresh ArrayBuffer into wasm memory, scans the result for its NUL
 * byte in a JavaScript loop, builds a new TextDecoder, and parses the result
 * into objects the engine then validates again. Here the input text is
 * encoded straight into wasm memory, and the result comes back as text, so
 * the engine can recognise a result it has seen before without parsing it
 * (engine.ts). Measured in bench/results/policy.md.
 *
 * The direct path reads the SDK instance's fields (`mem`, `wasmInstance`,
 * `dataAddr`, `dataHeapPtr`, `minorVersion`), which opa-wasm does not
 * document; they are checked once at load. When they are not what this
 * module expects (another SDK version, ABI < 1.2), the SDK's own `evaluate`
 * is used, with the same results.
 */
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';

/** Evaluates `entrypoint` on `inputJson`; returns the result set as JSON text. Throws what the module or SDK throws. */
export interface WasmCall {
  (inputJson: string, entrypoint: number): string;
  /** True when calls go straight through the ABI, false when through the SDK's `evaluate`. */
  readonly direct: boolean;
}

/** The SDK instance fields the direct path relies on. */
interface SdkInternals {
  readonly minorVersion: number;
  /** The module's WebAssembly.Memory (this project's TypeScript libs do not declare the WebAssembly types). */
  readonly mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly wasmInstance: { readonly exports: Record<string, unknown> };
  readonly dataAddr: number;
  readonly dataHeapPtr: number;
}

type OpaEval = (ctx: number, entrypoint: number, data: number, input: number, inputLength: number, heap: number, format: number) => number;

const PAGE_BYTES = 64 * 1024;

function internalsOf(policy: LoadedPolicy): (SdkInternals & { readonly opaEval: OpaEval }) | undefined {
  const candidate = policy as unknown as Partial<SdkInternals>;
  const opaEval = candidate.wasmInstance?.exports?.['opa_eval'];
  if (
    typeof candidate.minorVersion !== 'number' ||
    candidate.minorVersion < 2 ||
    !(candidate.mem?.buffer instanceof ArrayBuffer) ||
    typeof candidate.mem.grow !== 'function' ||
    typeof candidate.dataAddr !== 'number' ||
    typeof candidate.dataHeapPtr !== 'number' ||
    typeof opaEval !== 'function'
  ) {
    return undefined;
  }
  return Object.assign(candidate as SdkInternals, { opaEval: opaEval as OpaEval });
}

/** The fastest correct way to call `policy`: direct through the ABI when its SDK instance is as expected, else the SDK. */
export function wasmCall(policy: LoadedPolicy): WasmCall {
  const internals = internalsOf(policy);
  if (internals === undefined) return sdkCall(policy);
  const { mem, opaEval } = internals;
  const encoder = new TextEncoder();
  // Views over the memory, made again only when it grows (growing detaches
  // the old buffer) or the data moves (setData).
  let buffer = mem.buffer;
  let bytes = Buffer.from(buffer);
  let inputAddr = internals.dataHeapPtr;
  let inputRoom = bytes.subarray(inputAddr);
  const refresh = (): void => {
    if (mem.buffer === buffer && internals.dataHeapPtr === inputAddr) return;
    buffer = mem.buffer;
    bytes = Buffer.from(buffer);
    inputAddr = internals.dataHeapPtr;
    inputRoom = bytes.subarray(inputAddr);
  };
  const call = (inputJson: string, entrypoint: number): string => {
    // The input goes where the SDK puts it: right after the data, with the
    // evaluation's heap after the input; opa_eval resets the heap each time.
    refresh();
    const first = encoder.encodeInto(inputJson, inputRoom);
    let written = first.written;
    if (first.read < inputJson.length) {
      // Not enough room: grow as the SDK would (past the maximum this throws, and the engine fails closed).
      const needed = inputAddr + Buffer.byteLength(inputJson, 'utf8') - buffer.byteLength;
      mem.grow(Math.ceil(needed / PAGE_BYTES));
      refresh();
      ({ written } = encoder.encodeInto(inputJson, inputRoom));
    }
    const resultAddr = opaEval(0, entrypoint, internals.dataAddr, inputAddr, written, inputAddr + written, 0);
    // The evaluation may have grown the memory.
    refresh();
    const end = bytes.indexOf(0, resultAddr);
    return bytes.toString('utf8', resultAddr, end === -1 ? bytes.length : end);
  };
  return Object.assign(call, { direct: true });
}

/** Through the SDK's public `evaluate`. */
function sdkCall(policy: LoadedPolicy): WasmCall {
  const encoder = new TextEncoder();
  const call = (inputJson: string, entrypoint: number): string => JSON.stringify(policy.evaluate(encoder.encode(inputJson).buffer, entrypoint));
  return Object.assign(call, { direct: false });
}
