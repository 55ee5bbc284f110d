/**
 * The policy engine: loads an OPA wasm bundle into @open-policy-agent/opa-wasm
 * and evaluates the request and response decisions.
 *
 * Evaluation is synchronous (the SDK and its builtins are) and fails closed:
 * whatever goes wrong inside `evaluate` - a thrown string from the wasm
 * runtime, a throwing builtin, memory exhaustion, an input that does not
 * serialise - becomes a deny with `failure: 'error'`, never an exception and
 * never an allow.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

import { loadPolicy as loadWasmPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';

import { describeThrown, EnclaveGateError } from '../errors.js';
import { CUSTOM_BUILTINS, type CustomBuiltin } from './builtins/index.js';
import { bundleDigest, readBundle, type PolicyDigest } from './bundle.js';
import { compilePolicyDirectory } from './compile.js';
import { failureDecision, normalizeDecision, type Decision } from './decision.js';
import { POLICY_ENTRYPOINTS, REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT } from './entrypoints.js';
import type { RequestInput, ResponseInput } from './input.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, readTarGz, type ArchiveFiles } from './tar.js';

/**
 * Default cap on the policy's linear memory: 2048 pages = 128 MiB. Input
 * crosses into wasm as JSON text and is parsed there, and the PII builtin
 * dumps the body back out, so a body needs several times its size. Measured
 * with this policy (OPA 1.22.3, opa-wasm 1.10): a 1 MiB body that is one long
 * string peaks at 4.7 MiB of wasm memory, 8 MiB at 39 MiB; 1 MiB of small
 * chat messages (16k objects) at 10.8 MiB. So the cap admits bodies of about
 * 10 MiB; beyond it evaluation fails and the request is denied, instead of a
 * hostile input growing the (never shrinking) memory without bound. Keep the
 * proxy's inspection limit well below.
 */
export const DEFAULT_MAX_MEMORY_PAGES = 2048;
/** Initial memory: 2 MiB, enough for ordinary requests without growing. */
export const DEFAULT_INITIAL_MEMORY_PAGES = 32;

/** The policy's memory bounds, in 64 KiB pages. */
export interface MemoryLimits {
  /** Pages allocated up front. Default {@link DEFAULT_INITIAL_MEMORY_PAGES}. */
  readonly initialPages?: number;
  /** Hard cap; evaluation that needs more is denied. Default {@link DEFAULT_MAX_MEMORY_PAGES}. */
  readonly maximumPages?: number;
}

/** Options of {@link loadPolicy} and {@link loadPolicyBundle}. */
export interface LoadPolicyOptions {
  /** OPA CLI used when `source` is a directory. Default: .tools/bin/opa of this checkout. */
  readonly opaPath?: string;
  /** Capabilities file used when `source` is a directory. Default: rego/capabilities.json. */
  readonly capabilitiesPath?: string;
  /**
   * Builtins merged over the default custom builtins (same name replaces).
   * Meant for tests, e.g. a builtin that throws. The SDK's own builtins
   * always win over custom ones of the same name.
   */
  readonly builtins?: Readonly<Record<string, CustomBuiltin>>;
  /** Memory bounds of the wasm instance. */
  readonly memory?: MemoryLimits;
  /** Cap on the uncompressed bundle size in bytes. Default 64 MiB (tar.ts). */
  readonly maxBundleBytes?: number;
  /**
   * Runs on the archive's files before anything in them is interpreted, e.g.
   * the `.signatures.json` check (signature.ts). Throwing refuses the bundle.
   */
  readonly verifyArchive?: (files: ArchiveFiles) => void | Promise<void>;
}

/** A loaded policy, ready to decide. */
export interface PolicyEngine {
  /** `.manifest` revision of the bundle ("" when unset). */
  readonly revision: string;
  /** Digest of the bundle, bound into the RA-TLS evidence (see bundleDigest). */
  readonly digest: PolicyDigest;
  /**
   * JSON pointers the bundle asks the decision log to erase from logged
   * inputs (`data.enclave_gate.log.mask`, docs/audit.md), so the masking in
   * force is part of the attested policy digest. Empty when unset.
   */
  readonly logMask?: readonly string[];
  /** Evaluates `enclave_gate/request/decision`. Never throws. */
  evaluateRequest(input: RequestInput): Decision;
  /** Evaluates `enclave_gate/response/decision`. Never throws. */
  evaluateResponse(input: ResponseInput): Decision;
}

/**
 * Wraps a builtin so that what it throws reaches the engine as a fixed
 * message naming the builtin and the error class. A builtin's own message may
 * quote its argument, i.e. request data, and must not end up in logs.
 */
function guarded(name: string, builtin: CustomBuiltin): CustomBuiltin {
  return (...args: never[]): unknown => {
    try {
      return builtin(...args);
    } catch (thrown: unknown) {
      const kind = thrown instanceof Error ? thrown.name : typeof thrown;
      throw new Error(`builtin ${name} failed (${kind})`);
    }
  };
}

function loadFailed(message: string, cause?: unknown): EnclaveGateError {
  return new EnclaveGateError('EG_POLICY_LOAD_FAILED', message, { cause, details: { stage: 'load' } });
}

class WasmPolicyEngine implements PolicyEngine {
  readonly revision: string;
  readonly digest: PolicyDigest;
  readonly #policy: LoadedPolicy;
  readonly #request: number;
  readonly #response: number;
  readonly logMask: readonly string[];

  constructor(policy: LoadedPolicy, revision: string, digest: PolicyDigest, request: number, response: number, logMask: readonly string[] = []) {
    this.logMask = logMask;
    this.#policy = policy;
    this.revision = revision;
    this.digest = digest;
    this.#request = request;
    this.#response = response;
  }

  evaluateRequest(input: RequestInput): Decision {
    return this.#evaluate(input, this.#request);
  }

  evaluateResponse(input: ResponseInput): Decision {
    return this.#evaluate(input, this.#response);
  }

  #evaluate(input: RequestInput | ResponseInput, entrypoint: number): Decision {
    let raw: unknown;
    try {
      raw = this.#policy.evaluate(input, entrypoint);
    } catch (thrown: unknown) {
      // opa-wasm throws strings (opa_abort), plain objects (missing builtin)
      // and Errors (memory growth, stack overflow, builtins). describeThrown
      // keeps one capped line; none of these messages carry input values.
      return failureDecision('error', describeThrown(thrown));
    }
    return normalizeDecision(raw);
  }
}

/** `data.enclave_gate.log.mask`: JSON pointers under `/input/`; anything else there refuses the bundle. */
function logMaskOf(data: Record<string, unknown>): readonly string[] {
  const mask = ((data['enclave_gate'] as Record<string, unknown> | undefined)?.['log'] as Record<string, unknown> | undefined)?.['mask'];
  if (mask === undefined) return [];
  if (!Array.isArray(mask) || !mask.every((p) => typeof p === 'string' && /^\/input\/.+/.test(p))) {
    throw loadFailed('policy bundle: data.enclave_gate.log.mask must be a list of JSON pointers starting with /input/');
  }
  return Object.freeze([...(mask as string[])]);
}

/** The entrypoint ids of a loaded module, checking that every one we need is there. */
function entrypointIds(policy: LoadedPolicy): { request: number; response: number } {
  const ids: unknown = policy.entrypoints;
  const lookup = (name: string): number => {
    const id = typeof ids === 'object' && ids !== null ? (ids as Record<string, unknown>)[name] : undefined;
    if (typeof id !== 'number') throw loadFailed(`policy bundle: the wasm module has no entrypoint ${name}`);
    return id;
  };
  return { request: lookup(REQUEST_ENTRYPOINT), response: lookup(RESPONSE_ENTRYPOINT) };
}

/**
 * Loads a policy from the bytes of an OPA wasm bundle (.tar.gz), e.g. as
 * fetched from a bundle server. Throws EG_POLICY_LOAD_FAILED on any problem.
 */
export async function loadPolicyBundle(bundle: Uint8Array, options: LoadPolicyOptions = {}): Promise<PolicyEngine> {
  const files = readTarGz(bundle, { maxUncompressedBytes: options.maxBundleBytes });
  if (options.verifyArchive !== undefined) await options.verifyArchive(files);
  const contents = readBundle(files, POLICY_ENTRYPOINTS);
  const digest = bundleDigest(files);

  const initial = options.memory?.initialPages ?? DEFAULT_INITIAL_MEMORY_PAGES;
  const maximum = options.memory?.maximumPages ?? DEFAULT_MAX_MEMORY_PAGES;
  if (!Number.isInteger(initial) || !Number.isInteger(maximum) || initial < 1 || maximum < initial) {
    throw loadFailed(`invalid policy memory limits (initial ${initial}, maximum ${maximum} pages)`);
  }
  const builtins: Record<string, CustomBuiltin> = {};
  for (const [name, builtin] of Object.entries({ ...CUSTOM_BUILTINS, ...options.builtins })) {
    builtins[name] = guarded(name, builtin);
  }
  let policy: LoadedPolicy;
  try {
    policy = await loadWasmPolicy(contents.wasm, { initial, maximum }, builtins);
    policy.setData(contents.data);
  } catch (thrown: unknown) {
    throw loadFailed(`policy bundle: the wasm module does not load (${describeThrown(thrown)})`, thrown);
  }
  const ids = entrypointIds(policy);
  return Object.freeze(new WasmPolicyEngine(policy, contents.revision, digest, ids.request, ids.response, logMaskOf(contents.data)));
}

/**
 * Loads a policy from `source`: an OPA wasm bundle file (.tar.gz / .tgz), or a
 * directory of Rego that is first compiled with the OPA CLI (`opa build -t
 * wasm`, the capabilities file, both entrypoints; see compile.ts). Throws
 * EG_POLICY_LOAD_FAILED with a message saying what is wrong.
 */
export async function loadPolicy(source: string, options: LoadPolicyOptions = {}): Promise<PolicyEngine> {
  let info: Stats;
  try {
    info = await stat(source);
  } catch (err) {
    throw loadFailed(`policy source ${source} cannot be read (${describeThrown(err)})`, err);
  }
  if (info.isDirectory()) {
    return loadPolicyBundle(await compilePolicyDirectory(source, options), options);
  }
  if (!/\.(tar\.gz|tgz)$/.test(source)) {
    throw loadFailed(`policy source ${source} is neither a directory nor a .tar.gz bundle`);
  }
  // gzip output is never much larger than its input, so a file far above the
  // uncompressed cap cannot hold a valid bundle: refuse before reading it in.
  const cap = options.maxBundleBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  if (info.size > cap + 1024 * 1024) throw loadFailed(`policy bundle ${source} is larger than ${cap} bytes`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source);
  } catch (err) {
    throw loadFailed(`policy bundle ${source} cannot be read (${describeThrown(err)})`, err);
  }
  return loadPolicyBundle(bytes, options);
}
