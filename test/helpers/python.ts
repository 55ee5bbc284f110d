/**
 * The Python that runs the client tests: the venv test/run.sh creates in
 * .venv/ with the real openai, anthropic and httpx packages from PyPI, or
 * $ENCLAVE_GATE_PYTHON. A missing interpreter fails the test with the remedy,
 * never skips it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';

export const PYTHON = process.env['ENCLAVE_GATE_PYTHON'] ?? join(PACKAGE_ROOT, '.venv', 'bin', 'python');

/** Runs a Python script with the test venv and returns its stdout. */
export async function runPython(script: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: run test/run.sh once (it creates .venv with the client SDKs), or set ENCLAVE_GATE_PYTHON`);
  }
  const { stdout } = await promisify(execFile)(PYTHON, [join(PACKAGE_ROOT, script), ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 });
  return stdout;
}
