/**
 * Turns the errno of a failed device operation into an EnclaveGateError that
 * tells the operator what to do. Providers pass their own hints for the codes
 * whose meaning depends on the device (EBUSY on configfs is not EBUSY on a
 * socket); the generic hints below cover the rest.
 */
import { EnclaveGateError, describeThrown, type ErrorCode } from '../errors.js';
import type { ProviderName } from './provider.js';

/** What one errno means for a device, and whether it means "not here" or "broken". */
export interface ErrnoHint {
  /** UNAVAILABLE: this host cannot attest this way (auto moves on). FAILED: it should, but did not. */
  readonly code: Extract<ErrorCode, 'EG_ATTESTATION_UNAVAILABLE' | 'EG_ATTESTATION_FAILED'>;
  /** What to do about it, in one sentence. */
  readonly hint: string;
}

/** Hints keyed by errno name (`ENOENT`, `EBUSY`, …). */
export type ErrnoHints = Readonly<Record<string, ErrnoHint>>;

const GENERIC: ErrnoHints = {
  ENOENT: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'the path does not exist on this host' },
  EACCES: { code: 'EG_ATTESTATION_FAILED', hint: 'permission denied: run enclave-gate as a user that may use this device' },
  EPERM: { code: 'EG_ATTESTATION_FAILED', hint: 'operation not permitted: run enclave-gate as a user that may use this device' },
  EROFS: { code: 'EG_ATTESTATION_FAILED', hint: 'the file system is read-only: mount it read-write into the container' },
  EIO: { code: 'EG_ATTESTATION_FAILED', hint: 'the TEE firmware or host rejected the request; check the kernel log (dmesg)' },
};

/** The errno name of a thrown value, if it carries one. */
export function errnoOf(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null || !('code' in cause)) return undefined;
  const code = (cause as { code: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** A Node-style errno error, for code that detects a condition itself (e.g. an oversized read). */
export function errnoError(code: string, message: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${message}${path === undefined ? '' : `, '${path}'`}`);
  error.code = code;
  if (path !== undefined) error.path = path;
  return error;
}

/**
 * Wraps `cause` (thrown by `action` on `path`) as an EnclaveGateError.
 * EnclaveGateErrors pass through unchanged so the first, most precise
 * diagnosis wins.
 */
export function deviceError(provider: ProviderName, action: string, path: string, cause: unknown, hints: ErrnoHints = {}): EnclaveGateError {
  if (cause instanceof EnclaveGateError) return cause;
  const errno = errnoOf(cause);
  const known = errno === undefined ? undefined : (hints[errno] ?? GENERIC[errno]);
  const code = known?.code ?? 'EG_ATTESTATION_FAILED';
  const why = known?.hint ?? describeThrown(cause);
  return new EnclaveGateError(code, `attestation provider "${provider}": ${action} ${path} failed${errno === undefined ? '' : ` (${errno})`}: ${why}`, {
    cause,
    details: { provider, path, ...(errno === undefined ? {} : { errno }) },
  });
}

/** A provider-level failure that is not an errno (bad output, race, limits). */
export function attestationFailed(provider: ProviderName, message: string, details: Record<string, unknown> = {}, cause?: unknown): EnclaveGateError {
  return new EnclaveGateError('EG_ATTESTATION_FAILED', `attestation provider "${provider}": ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { provider, ...details },
  });
}

/** The provider cannot run on this host. */
export function attestationUnavailable(provider: ProviderName, message: string, details: Record<string, unknown> = {}): EnclaveGateError {
  return new EnclaveGateError('EG_ATTESTATION_UNAVAILABLE', `attestation provider "${provider}" is not available on this host: ${message}`, {
    details: { provider, ...details },
  });
}
