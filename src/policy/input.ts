/**
 * The policy input contract: what the proxy hands to each entrypoint. The
 * proxy builds these objects; the Rego in rego/policy reads them. Field names
 * are snake_case because they are Rego-facing, and follow the
 * opa-envoy-plugin input where it has an equivalent (`parsed_path`,
 * `parsed_query`, lower-case `headers`).
 *
 * Both inputs are plain JSON values: no Buffers, no undefined inside arrays,
 * no functions. They cross into wasm as JSON text.
 */

import type { PiiFinding } from './builtins/pii.js';

/** TLS facts about the client connection; null where not negotiated. */
export interface PeerTls {
  /** e.g. "TLSv1.3". */
  readonly protocol: string | null;
  /** OpenSSL cipher name, e.g. "TLS_AES_256_GCM_SHA384". */
  readonly cipher: string | null;
  /** Negotiated ALPN protocol, e.g. "h2" or "http/1.1". */
  readonly alpn: string | null;
  /** SNI host name the client asked for. */
  readonly servername: string | null;
}

/**
 * What the proxy learnt from the client's RA-TLS certificate (mutual RA-TLS,
 * `tls.clientAttestation`; docs/mutual-ratls.md). Verified once per TLS
 * connection with the same library clients use on the proxy's certificate.
 * Evidence fields are null unless `verified` is true, so a policy cannot take
 * the measurement of rejected evidence for an accepted one. Never raw evidence.
 */
export interface PeerAttestation {
  /** True only when every check of the verifier passed (signatures, chain, binding, reference values). */
  readonly verified: boolean;
  /** `sev-snp`, `tdx`, `sgx`, `nitro`, `simulated`; null when not known (no evidence found). */
  readonly platform: string | null;
  /** Verified only: SNP MEASUREMENT, TDX MRTD, SGX MRENCLAVE, Nitro PCR0, simulated measurement (lower-case hex). */
  readonly measurement: string | null;
  /** Verified only: the evidence's report data, hex. */
  readonly report_data: string | null;
  /** Verified only: true for a debug TEE (accepted only with `allowDebug`). */
  readonly debug: boolean | null;
  /** Verified only: platform TCB facts, JSON-safe (numbers, strings, booleans). */
  readonly tcb: Readonly<Record<string, unknown>> | null;
  /** Verified only, when the client's claims carry one: `sha-384:<hex>` of the client's own policy. */
  readonly policy_hash?: string;
  /** Not verified only: the catalogue code of the first failed check, e.g. `EG_VERIFY_SIMULATED`. */
  readonly code?: string;
  /** SHA-256 of the client certificate DER, hex. */
  readonly fingerprint: string;
}

/**
 * A client certificate that chains to a CA the operator pinned
 * (`tls.clientCAs`; docs/identity.md). Absent when the client presented none
 * or one that does not chain, so a policy never mistakes an untrusted
 * certificate's subject for an identity.
 */
export interface PeerCertificate {
  /** Subject distinguished name, RDNs joined with "," in certificate order, e.g. "C=CH,O=Bank A,CN=fraud-client". */
  readonly subject: string;
  /** The subject's common name, or null. */
  readonly common_name: string | null;
  /** The subject's organisation, or null. */
  readonly organization: string | null;
  /** Issuer distinguished name, same rendering as `subject`. */
  readonly issuer: string;
  /** Subject alternative names by kind. */
  readonly sans: { readonly dns: readonly string[]; readonly ip: readonly string[]; readonly uri: readonly string[]; readonly email: readonly string[] };
  /** SHA-256 of the certificate DER, lower-case hex. */
  readonly fingerprint: string;
  /** Serial number, upper-case hex as OpenSSL prints it. */
  readonly serial: string;
  readonly not_before: string;
  readonly not_after: string;
}

/** An API key the proxy recognised; only its configured id, never the key. */
export interface PeerApiKey {
  readonly id: string;
}

/** The client end of the connection. */
export interface Peer {
  readonly address: string;
  readonly port: number;
  readonly tls: PeerTls;
  /** Present only when the client presented a certificate (mutual RA-TLS enabled, `tls.clientAttestation.mode` not `off`). */
  readonly attestation?: PeerAttestation;
  /** A client certificate from an operator-pinned CA (docs/identity.md). */
  readonly certificate?: PeerCertificate;
  /** The claims of a verified bearer JWT (signature, iss, aud, exp, nbf checked; docs/identity.md). */
  readonly jwt?: Readonly<Record<string, unknown>>;
  /** The API key the request carried, by id (docs/identity.md). */
  readonly api_key?: PeerApiKey;
}

/** Input of entrypoint `enclave_gate/request/decision`. */
export interface RequestInput {
  /** The proxy's id for this request (also sent upstream as x-request-id). */
  readonly request_id: string;
  /** HTTP method exactly as received (case-sensitive, e.g. "POST"). */
  readonly method: string;
  /**
   * Request target path exactly as it will be forwarded upstream, without the
   * query: not percent-decoded, not normalised. The policy matches routes on
   * this string so that what it approves is what the upstream gets.
   */
  readonly path: string;
  /** `path` split on "/", the leading empty segment dropped, each segment percent-decoded. */
  readonly parsed_path: readonly string[];
  /** Raw query string without the "?"; "" when there is none. */
  readonly query: string;
  /** Decoded query parameters; repeated names keep every value in order. */
  readonly parsed_query: Readonly<Record<string, readonly string[]>>;
  /** Request headers with lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The parsed JSON body. Absent (the key is missing) when the request has no
   * body. When `body_size > 0` the policy expects it and denies with
   * `body_not_inspected` if it is missing, so a body is never forwarded
   * unchecked.
   */
  readonly body?: unknown;
  /** Body length in bytes as received (0 without a body). */
  readonly body_size: number;
  /**
   * PII the proxy found in `body` (scanned once in TypeScript); present
   * whenever `body` is. The default policy uses it instead of calling the
   * builtin, which would make the body cross out of wasm again.
   */
  readonly pii?: readonly PiiFinding[];
  readonly peer: Peer;
}

/** The request a response belongs to, as far as the response policy needs it. */
export interface ResponseRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly parsed_path: readonly string[];
  readonly request_id: string;
}

/**
 * How the proxy reads a response body, so the policy knows what it is (and
 * is not) being shown:
 * - `json`: buffered and parsed; `body` holds it.
 * - `event-stream` / `ndjson`: a stream the proxy inspects event by event; the
 *   decision is asked once at the start (no `body`, no `event`) and again for
 *   every event that brings findings (`event`).
 * - `opaque`: a body the proxy cannot inspect (other media types, or an encoded
 *   stream); it would go to the client unread unless the policy denies it.
 * - `none`: no body (HEAD, 204, 304).
 */
export type ResponseBodyFormat = 'json' | 'event-stream' | 'ndjson' | 'opaque' | 'none';

/** Stream protocols the proxy recognises, used for error events and by policy. */
export type StreamProtocol = 'openai-chat' | 'openai-responses' | 'anthropic-messages' | 'ollama' | 'unknown';

/**
 * One piece of PII the proxy's scanner found in a stream, as the policy sees it.
 * Never the matched text: only its kind and where it is.
 */
export interface StreamFinding {
  /** Kind of PII (`email`, `payment_card`, ...). */
  readonly type: string;
  /**
   * Where it is. `stream:<channel>` for the assistant text (e.g.
   * `stream:choices.0.content`), with `start`/`end` counted in UTF-16 code units
   * from the beginning of that channel's text over the whole stream; or an RFC
   * 6901 pointer into the current event's JSON for any other string field, with
   * `start`/`end` inside that string.
   */
  readonly path: string;
  readonly start: number;
  readonly end: number;
  /** True when the PII sits in an object key of the event (which cannot be redacted). */
  readonly key?: true;
}

/** The stream event a response decision is asked about (docs/streaming.md). */
export interface StreamEventInput {
  readonly protocol: StreamProtocol;
  /** 0-based index of the upstream event that made these findings final. */
  readonly index: number;
  /** Findings newly final at this event; never empty (clean events are not asked about). */
  readonly findings: readonly StreamFinding[];
}

/** Input of entrypoint `enclave_gate/response/decision`. */
export interface ResponseInput {
  readonly request: ResponseRequestInfo;
  /** Upstream HTTP status. */
  readonly status: number;
  /** Upstream response headers with lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** How the body is read; see {@link ResponseBodyFormat}. */
  readonly body_format?: ResponseBodyFormat;
  /** The parsed JSON response body; present only when `body_format` is `json`. */
  readonly body?: unknown;
  /** PII the proxy found in `body` (JSON responses), scanned once in TypeScript. */
  readonly pii?: readonly PiiFinding[];
  /** Present only for a decision about findings in a stream event. */
  readonly event?: StreamEventInput;
}
