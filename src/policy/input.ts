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

/** The client end of the connection. */
export interface Peer {
  readonly address: string;
  readonly port: number;
  readonly tls: PeerTls;
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
  readonly peer: Peer;
}

/** The request a response belongs to, as far as the response policy needs it. */
export interface ResponseRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly parsed_path: readonly string[];
  readonly request_id: string;
}

/** Input of entrypoint `enclave_gate/response/decision`. */
export interface ResponseInput {
  readonly request: ResponseRequestInfo;
  /** Upstream HTTP status. */
  readonly status: number;
  /** Upstream response headers with lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The parsed JSON response body; absent when the response is not JSON or has no body. */
  readonly body?: unknown;
}
