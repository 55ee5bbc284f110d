/**
 * Compiles a directory of Rego into a wasm bundle with the pinned OPA CLI: for
 * rego/toolchain/build.sh (through build-bundle.ts), for `loadPolicy` given a
 * directory, and for tests.
 *
 * Besides `opa build -t wasm`, it reads the real Rego sources once and writes
 * what they can read of the input (input-usage.ts) into the bundle's
 * `.manifest` metadata, so the engine can evaluate on a compact input. The
 * sources are copied to a scratch directory first, because `opa build` only
 * takes a `.manifest` from a directory it builds in bundle mode (-b), and
 * the user's directory must not be written to.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EnclaveGateError } from '../errors.js';
import { LOG_MASK_ENTRYPOINT, POLICY_ENTRYPOINTS } from './entrypoints.js';
import { analyseInputUsage, deterministicSources, inputUsageToJson } from './input-usage.js';

/** The OPA CLI rego/toolchain/install-opa.sh installs (this file sits two levels below the repo root, in src/ or dist/). */
export const DEFAULT_OPA_PATH = fileURLToPath(new URL('../../.tools/bin/opa', import.meta.url));
/** The capabilities file rego/toolchain/capabilities.mjs generates. */
export const DEFAULT_CAPABILITIES_PATH = fileURLToPath(new URL('../../rego/capabilities.json', import.meta.url));

/** Options of {@link compilePolicyDirectory}. */
export interface CompileOptions {
  /** OPA CLI to run. Default {@link DEFAULT_OPA_PATH}. */
  readonly opaPath?: string;
  /** Capabilities file. Default {@link DEFAULT_CAPABILITIES_PATH}. */
  readonly capabilitiesPath?: string;
  /**
   * Entrypoints to compile. Default: the request and response decisions,
   * plus the decision-log mask when a policy file declares `package
   * enclave_gate.log` (see {@link policyEntrypoints}).
   */
  readonly entrypoints?: readonly string[];
  /** Give up after this long. Default 120 s (a cold `opa build` takes about a second). */
  readonly timeoutMs?: number;
}

/** Longest piece of OPA's diagnostics quoted in an error message. */
const MAX_DIAGNOSTICS = 4000;

function run(file: string, args: string[], cwd: string, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      const message =
        code === 'ENOENT'
          ? `OPA CLI not found at ${file}; run rego/toolchain/install-opa.sh or pass opaPath`
          : // OPA prints its diagnostics on stdout, warnings on stderr.
            `opa build failed: ${([stdout, stderr].map((s) => s.trim()).filter(Boolean).join('\n') || err.message).slice(0, MAX_DIAGNOSTICS)}`;
      reject(new EnclaveGateError('EG_POLICY_LOAD_FAILED', message, { cause: err, details: { stage: 'compile' } }));
    });
  });
}

/**
 * Runs `opa build -t wasm` on `dir` (test files `*_test.rego` excluded) and
 * returns the bundle bytes (.tar.gz). The build runs inside `dir` with "." as
 * its path, as build.sh does, because OPA records file names relative to the
 * path it is given and they end up in the bundle, and so in its digest.
 */
export async function compilePolicyDirectory(dir: string, options: CompileOptions = {}): Promise<Uint8Array> {
  const opa = options.opaPath ?? DEFAULT_OPA_PATH;
  const capabilities = options.capabilitiesPath ?? DEFAULT_CAPABILITIES_PATH;
  const work = await mkdtemp(join(tmpdir(), 'enclave-gate-opa-'));
  try {
    const source = join(work, 'src');
    await cp(dir, source, { recursive: true });
    const sources = await regoSources(source);
    const entrypoints = options.entrypoints ?? policyEntrypoints(sources);
    await writeManifest(source, sources, entrypoints);
    const out = join(work, 'bundle.tar.gz');
    // Run from inside the copy with "." as the path: OPA stores file names
    // relative to it, and they end up in the bundle and its digest. No -O:
    // with OPA 1.22.3 it gives the same module for our policy and fails on
    // some rule shapes that call our TypeScript builtin.
    const args = ['build', '-b', '.', '--target', 'wasm', '--capabilities', capabilities];
    for (const entrypoint of entrypoints) args.push('--entrypoint', entrypoint);
    args.push('--ignore', '*_test.rego', '--output', out);
    await run(opa, args, source, options.timeoutMs ?? 120_000);
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Every policy (non-test) .rego file under `dir`, as text. */
async function regoSources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith('.rego') && !e.name.endsWith('_test.rego'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return Promise.all(files.map((file) => readFile(file, 'utf8')));
}

/** `package enclave_gate.log` at the start of a line: the file holds the decision-log mask rule. */
const LOG_PACKAGE = /^package\s+enclave_gate\.log\s*(#.*)?$/m;
/**
 * Anything that may reach the log package: `data.enclave_gate.log…`, but
 * also `data.enclave_gate` itself or `data.enclave_gate[x]`. Only
 * `enclave_gate.<other package>` (or `enclave_gate/<other>` in a comment
 * naming an entrypoint) is known not to.
 */
const LOG_REFERENCE = /\benclave_gate\b(?!\s*[./]\s*(?!log\b)[A-Za-z_])/;

/**
 * The entrypoints to compile for these (non-test) sources: request and
 * response always; `enclave_gate/log/mask` only when some file declares the
 * package, because `opa build -e` fails on an entrypoint that does not exist.
 */
export function policyEntrypoints(sources: readonly string[]): readonly string[] {
  return sources.some((source) => LOG_PACKAGE.test(source)) ? [...POLICY_ENTRYPOINTS, LOG_MASK_ENTRYPOINT] : POLICY_ENTRYPOINTS;
}

/**
 * The sources whose input reads count for the request and response
 * decisions. The mask rule reads the decision-log event (`input.input…`,
 * `input.result…`), not the request, so its files are left out, or they
 * would widen the compact input of every request. Left out only when no
 * other file refers to the log package: if a request rule used it, its
 * reads would count, and leaving them out would hide input.
 */
export function decisionSources(sources: readonly string[]): readonly string[] {
  const others = sources.filter((source) => !LOG_PACKAGE.test(source));
  return others.some((source) => LOG_REFERENCE.test(source)) ? sources : others;
}

/**
 * The files of the log package, when the mask rule's reads can be told from
 * them alone: it must not reach other rules (`data.`, whose `input` could be
 * re-pointed with `with`) nor re-point input itself (`with`). Otherwise
 * undefined, and the rule is given the whole event.
 */
function logMaskSources(sources: readonly string[]): readonly string[] | undefined {
  const log = sources.filter((source) => LOG_PACKAGE.test(source));
  if (log.length === 0) return undefined;
  const selfContained = log.every((source) => !/\bdata\.|\bwith\b|\bimport\b/.test(source.replace(/#.*$/gm, '')));
  return selfContained ? log : undefined;
}

/**
 * Writes `.manifest` into the scratch copy: the user's own manifest if there
 * is one (revision, roots), plus metadata.enclave_gate = {input_usage,
 * deterministic, log_mask}. Without one, roots [""] as `opa build` uses by
 * default.
 */
async function writeManifest(dir: string, allSources: readonly string[], entrypoints: readonly string[]): Promise<void> {
  const path = join(dir, '.manifest');
  let manifest: Record<string, unknown> = { roots: [''] };
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) manifest = parsed as Record<string, unknown>;
  } catch {
    // No manifest (the usual case), or one opa build would reject anyway.
  }
  const sources = [...decisionSources(allSources)];
  const usage = inputUsageToJson(analyseInputUsage(sources));
  const logSources = logMaskSources(allSources);
  const log = logSources === undefined ? {} : { log_input_usage: inputUsageToJson(analyseInputUsage(logSources)), log_deterministic: deterministicSources(logSources) };
  const metadata = typeof manifest['metadata'] === 'object' && manifest['metadata'] !== null ? (manifest['metadata'] as Record<string, unknown>) : {};
  manifest = {
    ...manifest,
    metadata: { ...metadata, enclave_gate: { input_usage: usage, deterministic: deterministicSources(sources), log_mask: entrypoints.includes(LOG_MASK_ENTRYPOINT), ...log } },
  };
  await writeFile(path, JSON.stringify(manifest));
}
