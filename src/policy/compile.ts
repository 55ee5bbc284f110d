/**
 * Compiles a directory of Rego into a wasm bundle with the pinned OPA CLI, the
 * way rego/toolchain/build.sh does, for development and tests (`loadPolicy`
 * given a directory). Production loads the prebuilt rego/build/bundle.tar.gz.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EnclaveGateError } from '../errors.js';
import { POLICY_ENTRYPOINTS } from './entrypoints.js';

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
  /** Entrypoints to compile. Default: the request and response decisions. */
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
  const entrypoints = options.entrypoints ?? POLICY_ENTRYPOINTS;
  const work = await mkdtemp(join(tmpdir(), 'enclave-gate-opa-'));
  try {
    const out = join(work, 'bundle.tar.gz');
    // Same flags as build.sh (which explains why there is no -O).
    const args = ['build', '.', '--target', 'wasm', '--capabilities', capabilities];
    for (const entrypoint of entrypoints) args.push('--entrypoint', entrypoint);
    args.push('--ignore', '*_test.rego', '--output', out);
    await run(opa, args, dir, options.timeoutMs ?? 120_000);
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
