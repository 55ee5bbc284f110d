/** Asserting that a call fails with one catalogue code. */
import { expect } from 'vitest';
import { EnclaveGateError, isErrorCode, type ErrorCode } from '../../src/errors.js';

/** Runs `fn` and asserts it throws an EnclaveGateError (or VerifyError) with `code`. */
export function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}, but nothing was thrown`).toBeDefined();
  expect(isErrorCode(thrown, code), `expected ${code}, got ${String((thrown as { code?: string }).code)}: ${String(thrown)}`).toBe(true);
}

/** Awaits `promise`, asserts it rejects with an EnclaveGateError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<EnclaveGateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnclaveGateError);
  return error as EnclaveGateError;
}
