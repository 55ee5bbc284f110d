/**
 * The package's root directory, the same whether code runs from src/ (tests)
 * or dist/ (installed): both sit one level below it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default policy bundle that `npm run policy:build` writes. */
export const DEFAULT_POLICY_BUNDLE = join(PACKAGE_ROOT, 'rego', 'build', 'bundle.tar.gz');

/** The capabilities file the Rego is compiled against. */
export const CAPABILITIES_FILE = join(PACKAGE_ROOT, 'rego', 'capabilities.json');

/** The pinned OPA CLI when the project installed it, else `opa` from PATH. */
export function defaultOpaPath(): string {
  const pinned = join(PACKAGE_ROOT, '.tools', 'bin', 'opa');
  return existsSync(pinned) ? pinned : 'opa';
}
