/**
 * The decision contract between the Rego policy and the proxy, and the one
 * place that turns whatever the wasm module returned into a Decision.
 *
 * Fail closed (DESIGN §3.2): only a well-formed decision whose `allow` is
 * exactly `true` allows. Undefined results, malformed decisions and
 * evaluation errors all become denies that carry `failure`, so the proxy can
 * answer EG_POLICY_FAILURE instead of EG_POLICY_DENIED and count them apart.
 */

/** Why a decision is a deny the policy did not itself decide. */
export type DecisionFailure = 'undefined' | 'malformed' | 'error';

/**
 * A per-party rate limit the policy asks the proxy to enforce on an allowed
 * request (docs/identity.md): token buckets keyed by `key`.
 */
export interface RateLimit {
  /** Bucket identity, e.g. the party or the caller's subject. */
  readonly key: string;
  /** Metric label; bounded by the proxy. */
  readonly party?: string;
  readonly requests_per_minute?: number;
  /** Size of the requests bucket; default requests_per_minute rounded up. */
  readonly burst?: number;
  /** Model tokens per minute (usage.total_tokens of JSON answers). */
  readonly tokens_per_minute?: number;
}

/** A normalised policy decision. */
export interface Decision {
  /** True only when the policy returned `allow: true` in a well-formed decision. */
  readonly allow: boolean;
  /** HTTP status the proxy answers a deny with; absent → the proxy's default (403). */
  readonly status?: number;
  /** Stable, machine-readable reason codes (see the comment blocks in rego/policy). */
  readonly reasons: readonly string[];
  /**
   * Headers the proxy sets: on a deny, on the problem response (e.g. `allow` on
   * a 405); on an allowed request, on the request forwarded upstream; on an
   * allowed response, on the response to the client.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Redaction instructions; the proxy validates and applies them (src/proxy/redact.ts, docs/streaming.md). */
  readonly redact?: unknown;
  /** A per-party rate limit for the proxy to enforce (allowed requests only). */
  readonly rate_limit?: RateLimit;
  /** Set when the deny comes from a failed evaluation rather than from the policy. */
  readonly failure?: DecisionFailure;
  /**
   * For `failure`: a one-line description safe for logs (never input data).
   * Not for HTTP clients.
   */
  readonly detail?: string;
}

/** Reason codes of the failure denies, one per failure kind. */
export const FAILURE_REASONS = {
  undefined: 'policy_undefined',
  malformed: 'policy_malformed_decision',
  error: 'policy_error',
} as const satisfies Record<DecisionFailure, string>;

/** Keys a decision object may carry; anything else makes it malformed. */
const DECISION_KEYS = new Set(['allow', 'status', 'reasons', 'headers', 'redact', 'rate_limit']);
/** Keys of `rate_limit`. */
const RATE_LIMIT_KEYS = new Set(['key', 'party', 'requests_per_minute', 'burst', 'tokens_per_minute']);
/** What a `party` label may look like (it becomes a Prometheus label value). */
export const PARTY_LABEL = /^[A-Za-z0-9_.-]{1,64}$/;

/** RFC 9110 field-name token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters that would split or truncate a header line (response splitting). */
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;
/** Key names short and plain enough to quote in `detail` without risk. */
const QUOTABLE_KEY = /^[A-Za-z_]{1,32}$/;

/** A deny produced by a failure of the given kind. */
export function failureDecision(failure: DecisionFailure, detail?: string): Decision {
  const decision: Decision = { allow: false, reasons: [FAILURE_REASONS[failure]], failure };
  return Object.freeze(detail === undefined ? decision : { ...decision, detail });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(detail: string): Decision {
  return failureDecision('malformed', detail);
}

function positiveNumber(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= max;
}

/** Validates `rate_limit`; a description of the first problem, or the limit. */
function validateRateLimit(value: unknown): RateLimit | string {
  if (!isRecord(value)) return '"rate_limit" is not an object';
  for (const key of Object.keys(value)) if (!RATE_LIMIT_KEYS.has(key)) return '"rate_limit" has an unexpected key';
  const { key, party, requests_per_minute: rpm, burst, tokens_per_minute: tpm } = value;
  if (typeof key !== 'string' || key.length === 0 || key.length > 256) return '"rate_limit.key" is not a string of 1 to 256 characters';
  if (party !== undefined && (typeof party !== 'string' || !PARTY_LABEL.test(party))) return '"rate_limit.party" is not a label';
  if (rpm !== undefined && !positiveNumber(rpm, 1_000_000)) return '"rate_limit.requests_per_minute" is not a positive number';
  if (tpm !== undefined && !positiveNumber(tpm, 1_000_000_000)) return '"rate_limit.tokens_per_minute" is not a positive number';
  if (burst !== undefined && (!Number.isInteger(burst) || !positiveNumber(burst, 1_000_000))) return '"rate_limit.burst" is not a positive integer';
  if (rpm === undefined && tpm === undefined) return '"rate_limit" sets neither requests_per_minute nor tokens_per_minute';
  return Object.freeze({
    key,
    ...(party === undefined ? {} : { party: party as string }),
    ...(rpm === undefined ? {} : { requests_per_minute: rpm as number }),
    ...(burst === undefined ? {} : { burst: burst as number }),
    ...(tpm === undefined ? {} : { tokens_per_minute: tpm as number }),
  });
}

/**
 * Validates the policy's decision object (the value of the entrypoint). Returns
 * a description of the first problem, or the decision.
 */
function validate(result: unknown): Decision | string {
  if (!isRecord(result)) return 'decision is not an object';
  for (const key of Object.keys(result)) {
    if (!DECISION_KEYS.has(key)) {
      return QUOTABLE_KEY.test(key) ? `decision has unexpected key "${key}"` : 'decision has an unexpected key';
    }
  }
  const { allow, status, reasons, headers, redact } = result;
  if (typeof allow !== 'boolean') return '"allow" is not a boolean';
  if (!Array.isArray(reasons) || !reasons.every((r) => typeof r === 'string')) {
    return '"reasons" is not an array of strings';
  }
  const decision: { -readonly [K in keyof Decision]: Decision[K] } = { allow, reasons: Object.freeze([...reasons]) };
  if ('status' in result) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      return '"status" is not an integer from 100 to 599';
    }
    // A deny answered with 1xx/2xx would look like success to the client.
    if (!allow && status < 300) return 'a deny carries a non-error "status"';
    decision.status = status;
  }
  if ('headers' in result) {
    if (!isRecord(headers)) return '"headers" is not an object';
    for (const [name, value] of Object.entries(headers)) {
      if (!HEADER_NAME.test(name)) return '"headers" has an invalid header name';
      if (typeof value !== 'string' || HEADER_VALUE_FORBIDDEN.test(value)) {
        return '"headers" has a value that is not a single-line string';
      }
    }
    decision.headers = Object.freeze({ ...(headers as Record<string, string>) });
  }
  if ('redact' in result) decision.redact = redact;
  if ('rate_limit' in result) {
    const limit = validateRateLimit(result['rate_limit']);
    if (typeof limit === 'string') return limit;
    decision.rate_limit = limit;
  }
  return Object.freeze(decision);
}

/**
 * Turns an opa-wasm result set into a Decision. opa-wasm returns `[]` when the
 * entrypoint is undefined and `[{ result: X }]` otherwise; anything else, and
 * any X that is not a well-formed decision, is a deny with `failure` set.
 * Well-formed: an object with `allow` (boolean) and `reasons` (strings), and
 * optionally `status` (integer 100–599, ≥ 300 on a deny), `headers` (string
 * values, no CR/LF/NUL), `redact` (passed through) and `rate_limit`
 * (key, party?, requests_per_minute?, burst?, tokens_per_minute?); no other keys.
 */
export function normalizeDecision(raw: unknown): Decision {
  if (!Array.isArray(raw)) return malformed('result set is not an array');
  if (raw.length === 0) return failureDecision('undefined', 'the decision is undefined');
  if (raw.length !== 1) return malformed(`result set has ${raw.length} entries`);
  const entry: unknown = raw[0];
  if (!isRecord(entry) || !('result' in entry)) return malformed('result set entry has no "result"');
  const checked = validate(entry.result);
  return typeof checked === 'string' ? malformed(checked) : checked;
}
