/** Small helpers the online tests share: temp cache dirs, error-code assertions, fixed clocks. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isErrorCode, type ErrorCode } from '../../../../src/errors.js';

const made: string[] = [];

/** A fresh empty directory, removed by {@link removeTempDirs}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eg-online-'));
  made.push(dir);
  return dir;
}

/** Removes every directory {@link tempDir} made. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A clock fixed at `iso` plus `offsetMs`. */
export function clockAt(iso: string, offsetMs = 0): () => Date {
  return () => new Date(Date.parse(iso) + offsetMs);
}

/** Awaits `promise`, expecting a rejection with `code`; returns the error for further checks. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details?: Readonly<Record<string, unknown>> }> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a rejection with ${code}`).toBeDefined();
  expect(isErrorCode(thrown, code), `expected ${code}, got ${String((thrown as { code?: string }).code)}: ${String(thrown)}`).toBe(true);
  return thrown as Error & { details?: Readonly<Record<string, unknown>> };
}
