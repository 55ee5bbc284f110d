/**
 * Locates the real hardware evidence: the project's own copy in test/vectors
 * (refreshed from ../shared/vectors when that grows), or
 * $ENCLAVE_GATE_VECTORS. Tests fail loudly when the directory is missing:
 * a verifier test that silently skips proves nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the vectors directory; throws when it is missing. */
export function vectorsDir(): string {
  const dir = process.env['ENCLAVE_GATE_VECTORS'] ?? resolve(repoRoot, 'test', 'vectors');
  if (!existsSync(join(dir, 'README.md'))) {
    throw new Error(
      `test vectors not found at ${dir}: restore test/vectors from the repository or set ENCLAVE_GATE_VECTORS`,
    );
  }
  return dir;
}

/** Reads one vector file, e.g. `vector('sev-snp/gosev-milan-report.bin')`. */
export function vector(relativePath: string): Buffer {
  return readFileSync(join(vectorsDir(), relativePath));
}

/** Reads one vector file as UTF-8 text (PEM, JSON). */
export function vectorText(relativePath: string): string {
  return vector(relativePath).toString('utf8');
}
