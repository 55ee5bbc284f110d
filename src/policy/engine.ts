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
import { LOG_MASK_ENTRYPOINT, POLICY_ENTRYPOINTS, REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT } from './entrypoints.js';
import type { RequestInput, ResponseInput } from './input.js';
import { compactJson, compactPlan, confinedTo, inputUsageFromJson, readsMember, WHOLE, type CompactPlan, type InputUsage } from './input-usage.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, readTarGz, type ArchiveFiles } from './tar.js';
import { wasmCall, type WasmCall } from './wasm-call.js';

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
  /**
   * Evaluate on the compact input (only what the Rego reads) and memoise
   * deterministic decisions. Default true; false gives the module
   * the whole input every time (the reference path the tests compare with).
   */
  readonly compactInput?: boolean;
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
  /** True when the bundle has the `enclave_gate/log/mask` entrypoint. */
  readonly hasLogMaskRule: boolean;
  /**
   * True when {@link evaluateLogMask} answers the same for any two events
   * with the same `input.peer`: the bundle has no mask rule, or a
   * deterministic one that reads nothing else of the event (the default
   * policy's reads only the caller's identity there). The decision log then
   * asks once per connection rather than once per event.
   */
  readonly logMaskByPeer: boolean;
  /**
   * Evaluates `enclave_gate/log/mask` on a decision-log event (`{input,
   * result, path, …}`, the whole event, as OPA gives `data.system.log.mask`):
   * the JSON pointers to erase from the logged input. Never throws. Empty
   * when the bundle has no mask rule. When evaluation fails or the result is
   * not a set of `/input/…` pointers, the answer is `/input` (erase the
   * whole input) with `failure` saying why: a log must never show more
   * because its masking broke.
   */
  evaluateLogMask(event: Readonly<Record<string, unknown>>): LogMaskResult;
  /** Evaluates `enclave_gate/request/decision`. Never throws. */
  evaluateRequest(input: RequestInput): Decision;
  /** Evaluates `enclave_gate/response/decision`. Never throws. */
  evaluateResponse(input: ResponseInput): Decision;
  /**
   * What the policy's rules can read of their input (input-usage.ts); the
   * engine hands the wasm module only that. WHOLE when it cannot tell.
   */
  readonly inputUsage: InputUsage;
  /** True when the policy may read top-level input member `name` (its value, not only that the key exists). */
  reads(name: string): boolean;
}

/** What {@link PolicyEngine.evaluateLogMask} answers. */
export interface LogMaskResult {
  /** JSON pointers (RFC 6901), each `/input` or under `/input/`. */
  readonly pointers: readonly string[];
  /** Why the whole input is erased: the rule failed or gave something else than pointers. */
  readonly failure?: string;
}

/** No mask rule: nothing more to erase. */
const NO_LOG_MASK: LogMaskResult = Object.freeze({ pointers: Object.freeze([]) });

/** The answer when the mask rule fails: the whole input goes. */
function logMaskFailure(why: string): LogMaskResult {
  return Object.freeze({ pointers: Object.freeze(['/input']), failure: why });
}

/**
 * Reads the mask rule's result set: a set (JSON array) of pointer strings,
 * or OPA's `{"op": "remove", "path": …}` objects. Upserts and pointers
 * outside the input are refused (the caller erases everything then).
 */
function logMaskOfResult(raw: unknown): LogMaskResult {
  if (!Array.isArray(raw)) return logMaskFailure('result set is not an array');
  if (raw.length === 0) return NO_LOG_MASK;
  const entry: unknown = raw[0];
  if (raw.length !== 1 || typeof entry !== 'object' || entry === null || !('result' in entry)) return logMaskFailure('malformed result set');
  const result = (entry as { result: unknown }).result;
  if (!Array.isArray(result)) return logMaskFailure('enclave_gate.log.mask is not a set');
  const pointers: string[] = [];
  for (const item of result as unknown[]) {
    const op = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
    const pointer = typeof item === 'string' ? item : op?.['op'] === 'remove' ? op['path'] : undefined;
    if (typeof pointer !== 'string' || !(pointer === '/input' || /^\/input\/.+/.test(pointer))) {
      return logMaskFailure('enclave_gate.log.mask holds something other than a pointer under /input (only removals are supported)');
    }
    pointers.push(pointer);
  }
  return Object.freeze({ pointers: Object.freeze(pointers) });
}

/** Entries of a memo; the compact inputs it keys on are small. */
const MEMO_ENTRIES = 512;
/** Compact inputs longer than this are not memoised (they carry findings, so rarely repeat). */
const MEMO_MAX_KEY = 1024;

/**
 * Answers of a deterministic rule by compact input, the oldest forgotten
 * first. Failures are never remembered: a transient one (memory) must not stick.
 */
class Memo<V extends { readonly failure?: unknown }> {
  readonly #entries = new Map<string, V>();

  /** The remembered answer for `key`, else `compute()`'s, remembered when it is not a failure and the key is short. */
  recall(key: string, compute: () => V): V {
    if (key.length > MEMO_MAX_KEY) return compute();
    const known = this.#entries.get(key);
    if (known !== undefined) return known;
    const value = compute();
    if (value.failure === undefined) {
      if (this.#entries.size >= MEMO_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, value);
    }
    return value;
  }
}

/** Deep-freezes a decision that will be shared between requests. */
function frozenDecision(decision: Decision): Decision {
  const freezeDeep = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
    for (const member of Object.values(value)) freezeDeep(member);
    Object.freeze(value);
  };
  freezeDeep(decision);
  return decision;
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

/** How the engine hands input to the module. */
interface Evaluation {
  readonly usage: InputUsage;
  /** True when the same compact input always gives the same decision (no nondeterministic builtin). */
  readonly deterministic: boolean;
  /** What the log mask rule reads of the decision-log event, and whether its answer is a function of that. */
  readonly logUsage: InputUsage;
  readonly logDeterministic: boolean;
}

class WasmPolicyEngine implements PolicyEngine {
  readonly revision: string;
  readonly digest: PolicyDigest;
  readonly inputUsage: InputUsage;
  readonly #call: WasmCall;
  readonly #request: number;
  readonly #response: number;
  readonly #logMask: number | undefined;
  readonly #plan: CompactPlan;
  readonly #logPlan: CompactPlan;
  readonly #logMaskMemo: Memo<LogMaskResult> | undefined;
  /**
   * Decisions by compact input, per entrypoint. A clean JSON answer on a
   * route gives the same compact input every time (findings [], format,
   * path), and so does a clean request once its size is reduced to what the
   * rules compare it with (input-usage.ts, `representative`): the common
   * case skips wasm entirely.
   */
  readonly #requestMemo: Memo<Decision> | undefined;
  readonly #responseMemo: Memo<Decision> | undefined;
  /**
   * Decisions by the result text the module returned. Most evaluations end
   * in one of a few results (the allow, a handful of denies), and a known
   * text needs neither JSON.parse nor validation. Sound for any policy: the
   * decision is a function of the result text alone.
   */
  readonly #results = new Memo<Decision>();

  readonly logMask: readonly string[];
  readonly logMaskByPeer: boolean;

  constructor(policy: LoadedPolicy, revision: string, digest: PolicyDigest, ids: EntrypointIds, evaluation: Evaluation, logMask: readonly string[] = []) {
    this.logMask = logMask;
    this.#call = wasmCall(policy);
    this.revision = revision;
    this.digest = digest;
    this.#request = ids.request;
    this.#response = ids.response;
    this.#logMask = ids.logMask;
    this.inputUsage = evaluation.usage;
    this.#plan = compactPlan(evaluation.usage);
    this.#logPlan = compactPlan(evaluation.logUsage);
    this.#logMaskMemo = evaluation.logDeterministic ? new Memo() : undefined;
    this.logMaskByPeer = ids.logMask === undefined || (evaluation.logDeterministic && confinedTo(evaluation.logUsage, ['input', 'peer']));
    this.#requestMemo = evaluation.deterministic ? new Memo() : undefined;
    this.#responseMemo = evaluation.deterministic ? new Memo() : undefined;
  }

  reads(name: string): boolean {
    return readsMember(this.inputUsage, name);
  }

  get hasLogMaskRule(): boolean {
    return this.#logMask !== undefined;
  }

  evaluateLogMask(event: Readonly<Record<string, unknown>>): LogMaskResult {
    const id = this.#logMask;
    if (id === undefined) return NO_LOG_MASK;
    let json: string | undefined;
    try {
      // The event cut to what the mask rule itself reads (its own usage,
      // recorded at build time; the whole event when unknown), never the
      // request rules' projection.
      json = compactJson(event, this.#logPlan);
    } catch {
      json = undefined;
    }
    if (json === undefined) return logMaskFailure('the event does not serialise as JSON');
    const ask = (): LogMaskResult => {
      try {
        return logMaskOfResult(JSON.parse(this.#call(json, id)));
      } catch (thrown: unknown) {
        return logMaskFailure(describeThrown(thrown));
      }
    };
    // Most events give the same compact event (no JWT, no client
    // certificate), so a deterministic rule is asked once per distinct one.
    return this.#logMaskMemo === undefined ? ask() : this.#logMaskMemo.recall(json, ask);
  }

  evaluateRequest(input: RequestInput): Decision {
    return this.#decide(this.#compact(input), this.#request, this.#requestMemo);
  }

  evaluateResponse(input: ResponseInput): Decision {
    return this.#decide(this.#compact(input), this.#response, this.#responseMemo);
  }

  #decide(compact: string | undefined, entrypoint: number, memo: Memo<Decision> | undefined): Decision {
    if (memo === undefined || compact === undefined) return this.#evaluate(compact, entrypoint);
    return memo.recall(compact, () => this.#evaluate(compact, entrypoint));
  }

  /** The compact input as JSON text, or undefined when it does not serialise (then evaluation fails closed). */
  #compact(input: RequestInput | ResponseInput): string | undefined {
    try {
      return compactJson(input, this.#plan);
    } catch {
      return undefined;
    }
  }

  #evaluate(json: string | undefined, entrypoint: number): Decision {
    if (json === undefined) return failureDecision('error', 'the input does not serialise as JSON');
    let result: string;
    try {
      result = this.#call(json, entrypoint);
    } catch (thrown: unknown) {
      // opa-wasm throws strings (opa_abort), plain objects (missing builtin)
      // and Errors (memory growth, stack overflow, builtins). describeThrown
      // keeps one capped line; none of these messages carry input values.
      return failureDecision('error', describeThrown(thrown));
    }
    return this.#results.recall(result, () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(result);
      } catch {
        return failureDecision('error', 'the policy result is not JSON');
      }
      return frozenDecision(normalizeDecision(parsed));
    });
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

interface EntrypointIds {
  readonly request: number;
  readonly response: number;
  /** The optional decision-log mask. */
  readonly logMask: number | undefined;
}

/**
 * The entrypoint ids of a loaded module, checking that every one we need is
 * there; the log mask when the module has it, and it must when our build
 * recorded one (metadata.enclave_gate.log_mask).
 */
function entrypointIds(policy: LoadedPolicy, metadata: unknown): EntrypointIds {
  const ids: unknown = policy.entrypoints;
  const lookup = (name: string): number => {
    const id = typeof ids === 'object' && ids !== null ? (ids as Record<string, unknown>)[name] : undefined;
    if (typeof id !== 'number') throw loadFailed(`policy bundle: the wasm module has no entrypoint ${name}`);
    return id;
  };
  const expectsLogMask = typeof metadata === 'object' && metadata !== null && (metadata as Record<string, unknown>)['log_mask'] === true;
  const hasLogMask = typeof ids === 'object' && ids !== null && typeof (ids as Record<string, unknown>)[LOG_MASK_ENTRYPOINT] === 'number';
  return {
    request: lookup(REQUEST_ENTRYPOINT),
    response: lookup(RESPONSE_ENTRYPOINT),
    logMask: expectsLogMask || hasLogMask ? lookup(LOG_MASK_ENTRYPOINT) : undefined,
  };
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
  const ids = entrypointIds(policy, contents.buildMetadata);
  return Object.freeze(new WasmPolicyEngine(policy, contents.revision, digest, ids, evaluationOf(contents.buildMetadata, options), logMaskOf(contents.data)));
}

/**
 * What to give the module, from the metadata our build (compile.ts) wrote
 * into the manifest after reading the real Rego sources. A bundle built by
 * other tooling has none: it gets the whole input and no memo, as does
 * `compactInput: false`. Metadata that does not parse refuses the bundle: it
 * means a build we do not understand, and guessing could hide input.
 */
function evaluationOf(metadata: unknown, options: LoadPolicyOptions): Evaluation {
  const whole: Evaluation = { usage: WHOLE, deterministic: false, logUsage: WHOLE, logDeterministic: false };
  if (options.compactInput === false || typeof metadata !== 'object' || metadata === null) return whole;
  const { input_usage: usageJson, deterministic, log_input_usage: logUsageJson, log_deterministic: logDeterministic } = metadata as Record<string, unknown>;
  const parse = (json: unknown, where: string): InputUsage => {
    if (json === undefined) return WHOLE;
    try {
      return inputUsageFromJson(json, `.manifest metadata.enclave_gate.${where}`);
    } catch (err) {
      throw loadFailed(`policy bundle: ${(err as Error).message}`);
    }
  };
  // Test-supplied builtins may be anything, so they rule out the memos.
  const trusted = options.builtins === undefined;
  return {
    usage: parse(usageJson, 'input_usage'),
    deterministic: usageJson !== undefined && deterministic === true && trusted,
    logUsage: parse(logUsageJson, 'log_input_usage'),
    logDeterministic: logUsageJson !== undefined && logDeterministic === true && trusted,
  };
}

/**
 * Loads a policy from `source`: an OPA wasm bundle file (.tar.gz / .tgz), or a
 * directory of Rego that is first compiled with the OPA CLI (`opa build -t
 * wasm`, the capabilities file, both entrypoints and the log mask when the Rego has one; see compile.ts). Throws
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
