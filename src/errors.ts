/**
 * The one catalogue of enclave-gate error codes.
 *
 * Every failure the proxy, the policy engine, the evidence providers or the
 * verifier can report has exactly one entry here: a stable `code` (also used as
 * the `reason` label on metrics and in problem+json bodies), the HTTP status the
 * proxy answers with, the exit code the CLI ends with, and a short title.
 * `docs/errors.md` lists the same codes; a test keeps the two in sync.
 *
 * This module imports nothing so that every other module (including the
 * client-only `verify/` library) can depend on it.
 */

/** What each catalogue entry carries. */
export interface ErrorSpec {
  /** HTTP status the proxy answers with when this error ends a request. */
  readonly status: number;
  /** Process exit code when this error ends a CLI command. */
  readonly exitCode: number;
  /** One-line human title; also the problem+json `title`. */
  readonly title: string;
}

/**
 * Verifier exit codes: one per failure class (go-sev-guest's tools/check does
 * the same). Scripts branch on these, so they never change meaning.
 */
export const EXIT = {
  ok: 0,
  usage: 1,
  parse: 2,
  signature: 3,
  chain: 4,
  validity: 5,
  revoked: 6,
  binding: 7,
  tcb: 8,
  referenceValues: 9,
  connect: 10,
  config: 11,
  startup: 12,
  /** `audit verify`: an event was edited, dropped, reordered or inserted. */
  auditChain: 13,
  /** `audit verify`: events that no signed batch covers (a cut-off or unsigned tail). */
  auditUnsigned: 14,
} as const;

export const ERRORS = {
  // ── proxy: request path ────────────────────────────────────────────────
  EG_POLICY_DENIED: { status: 403, exitCode: EXIT.usage, title: 'Request denied by policy' },
  EG_RESPONSE_DENIED: { status: 403, exitCode: EXIT.usage, title: 'Response withheld by policy' },
  EG_CLIENT_ATTESTATION_FAILED: {
    status: 403,
    exitCode: EXIT.usage,
    title: 'Client certificate attestation is required and did not verify',
  },
  EG_POLICY_FAILURE: { status: 500, exitCode: EXIT.usage, title: 'Policy evaluation failed; request denied' },
  EG_INVALID_JSON: { status: 400, exitCode: EXIT.usage, title: 'Request body is not valid JSON' },
  EG_BAD_REQUEST: { status: 400, exitCode: EXIT.usage, title: 'Malformed request' },
  EG_BODY_TOO_LARGE: { status: 413, exitCode: EXIT.usage, title: 'Request body exceeds the inspection limit' },
  EG_HEADERS_TOO_LARGE: { status: 431, exitCode: EXIT.usage, title: 'Request headers are too large' },
  EG_CLIENT_CLOSED: {
    status: 499,
    exitCode: EXIT.usage,
    title: 'Client closed the connection before the answer was complete',
  },
  EG_REQUEST_TIMEOUT: { status: 408, exitCode: EXIT.usage, title: 'Request body was not received in time' },
  EG_UPSTREAM_UNAVAILABLE: { status: 502, exitCode: EXIT.usage, title: 'Model server is unreachable' },
  EG_UPSTREAM_TIMEOUT: { status: 504, exitCode: EXIT.usage, title: 'Model server did not answer in time' },
  EG_UPSTREAM_RESPONSE_TOO_LARGE: {
    status: 502,
    exitCode: EXIT.usage,
    title: 'Model server response exceeds the inspection limit',
  },
  EG_UPSTREAM_INVALID_JSON: {
    status: 502,
    exitCode: EXIT.usage,
    title: 'Model server sent a JSON response that does not parse',
  },
  EG_RATE_LIMITED: { status: 429, exitCode: EXIT.usage, title: 'Too many fresh attestation requests; retry later' },
  EG_UNAUTHENTICATED: { status: 401, exitCode: EXIT.usage, title: 'Caller credentials are missing or invalid' },
  EG_QUOTA_EXCEEDED: { status: 429, exitCode: EXIT.usage, title: 'Rate limit of the calling party exceeded; retry later' },
  EG_DECISION_LOG_UNAVAILABLE: { status: 503, exitCode: EXIT.startup, title: 'Decision log cannot take more events; request refused (fail closed)' },
  EG_NOT_READY: { status: 503, exitCode: EXIT.startup, title: 'Proxy is not ready' },
  EG_NOT_FOUND: { status: 404, exitCode: EXIT.usage, title: 'No such admin endpoint' },
  EG_INTERNAL: { status: 500, exitCode: EXIT.startup, title: 'Internal error' },
  EG_TOO_MANY_HEADERS: { status: 431, exitCode: EXIT.usage, title: 'Request has more header fields than allowed' },
  EG_AMBIGUOUS_REQUEST: {
    status: 400,
    exitCode: EXIT.usage,
    title: 'Request could be read more than one way (e.g. two Host headers)',
  },
  EG_AMBIGUOUS_PATH: {
    status: 400,
    exitCode: EXIT.usage,
    title: 'Request target is not a plain origin-form path (dot segments, empty segments, encoded separators)',
  },
  EG_UPGRADE_NOT_SUPPORTED: { status: 501, exitCode: EXIT.usage, title: 'Protocol upgrades (WebSocket, h2c) are not supported' },

  // ── start-up: configuration, policy, attestation ───────────────────────
  EG_CONFIG_INVALID: { status: 500, exitCode: EXIT.config, title: 'Configuration is invalid' },
  EG_POLICY_LOAD_FAILED: { status: 500, exitCode: EXIT.startup, title: 'Policy bundle could not be loaded' },
  EG_ATTESTATION_UNAVAILABLE: {
    status: 500,
    exitCode: EXIT.startup,
    title: 'Attestation provider is not available on this host',
  },
  EG_ATTESTATION_FAILED: { status: 500, exitCode: EXIT.startup, title: 'Attestation evidence could not be obtained' },
  EG_CERT_ISSUE_FAILED: { status: 500, exitCode: EXIT.startup, title: 'RA-TLS certificate could not be issued' },
  EG_LISTEN_FAILED: { status: 500, exitCode: EXIT.startup, title: 'Could not listen on the configured address' },

  // ── verifier (client side); exit codes follow EXIT classes ─────────────
  EG_VERIFY_USAGE: { status: 400, exitCode: EXIT.usage, title: 'Verifier called with invalid arguments' },
  EG_VERIFY_PARSE: { status: 400, exitCode: EXIT.parse, title: 'Evidence does not parse' },
  EG_VERIFY_UNSUPPORTED: { status: 400, exitCode: EXIT.parse, title: 'Evidence format or version is not supported' },
  EG_VERIFY_SIGNATURE: { status: 400, exitCode: EXIT.signature, title: 'Evidence signature is invalid' },
  EG_VERIFY_CHAIN: { status: 400, exitCode: EXIT.chain, title: 'Certificate chain does not reach a pinned root' },
  EG_VERIFY_ENDORSEMENTS_MISSING: {
    status: 400,
    exitCode: EXIT.chain,
    title: 'Endorsements needed to verify the evidence are missing',
  },
  EG_VERIFY_EXPIRED: {
    status: 400,
    exitCode: EXIT.validity,
    title: 'Certificate or collateral is expired or not yet valid',
  },
  EG_VERIFY_REVOKED: { status: 400, exitCode: EXIT.revoked, title: 'Certificate is revoked' },
  EG_VERIFY_BINDING: {
    status: 400,
    exitCode: EXIT.binding,
    title: 'Evidence is not bound to this key, policy, nonce or session',
  },
  EG_VERIFY_TCB: { status: 400, exitCode: EXIT.tcb, title: 'Platform TCB is not acceptable' },
  EG_VERIFY_REFERENCE_VALUES: {
    status: 400,
    exitCode: EXIT.referenceValues,
    title: 'Evidence does not match the reference values',
  },
  EG_VERIFY_DEBUG: {
    status: 400,
    exitCode: EXIT.referenceValues,
    title: 'Evidence comes from a debug TEE and debug is not allowed',
  },
  EG_VERIFY_SIMULATED: {
    status: 400,
    exitCode: EXIT.referenceValues,
    title: 'Evidence is simulated and simulation is not allowed',
  },
  EG_VERIFY_CONNECT: { status: 502, exitCode: EXIT.connect, title: 'Could not connect to the server to verify' },
  // ── audit verify (docs/audit.md) ──────────────────────────────────────
  EG_AUDIT_PARSE: { status: 400, exitCode: EXIT.parse, title: 'Decision log record does not parse' },
  EG_AUDIT_SIGNATURE: { status: 400, exitCode: EXIT.signature, title: 'Decision log batch signature is invalid' },
  EG_AUDIT_CHAIN: { status: 400, exitCode: EXIT.auditChain, title: 'Decision log chain is broken (edited, dropped, reordered or inserted event)' },
  EG_AUDIT_UNSIGNED: { status: 400, exitCode: EXIT.auditUnsigned, title: 'Decision log holds events no signed batch covers' },
  EG_AUDIT_KEY: { status: 400, exitCode: EXIT.binding, title: 'Decision log signing key is not bound to verified attestation evidence' },
} as const satisfies Record<string, ErrorSpec>;

/** Every stable error code. */
export type ErrorCode = keyof typeof ERRORS;

const kEnclaveGateError = Symbol.for('enclave-gate.error');

/** Options accepted by every catalogue error. */
export interface ErrorOptions {
  /** The underlying error, kept for logs; never shown to HTTP clients. */
  cause?: unknown;
  /** Machine-readable details safe to show to the caller (no bodies, no keys). */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error type of enclave-gate. `code` is stable; `message` is for
 * humans and must never contain request bodies or key material.
 */
export class EnclaveGateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly exitCode: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, options: ErrorOptions = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnclaveGateError';
    this.code = code;
    this.status = spec.status;
    this.exitCode = spec.exitCode;
    this.details = options.details;
  }

  /** Brand check that survives duplicate installs of the package (undici does the same). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary prototype check; only the base class is branded.
    if (this !== EnclaveGateError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kEnclaveGateError] === true;
  }

  get [kEnclaveGateError](): true {
    return true;
  }
}

/** A failed verification step; `code` tells the failure class. */
export class VerifyError extends EnclaveGateError {
  constructor(code: ErrorCode & `EG_VERIFY_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
    this.name = 'VerifyError';
  }
}

/** True when `value` is an EnclaveGateError with the given code. */
export function isErrorCode(value: unknown, code: ErrorCode): value is EnclaveGateError {
  return value instanceof EnclaveGateError && value.code === code;
}

/**
 * Turns anything thrown (opa-wasm throws strings, not Errors) into a message
 * that is safe to log: the first line only, capped, so a thrown value can
 * never smuggle a whole request body into a log line.
 */
export function describeThrown(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = `${value.name}: ${value.message}`;
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'object' && value !== null && 'message' in value) text = String(value.message);
  else text = String(value);
  const firstLine = text.split('\n', 1)[0] ?? '';
  return firstLine.length > 200 ? `${firstLine.slice(0, 200)}…` : firstLine;
}
