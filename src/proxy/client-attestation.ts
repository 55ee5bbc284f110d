/**
 * Mutual RA-TLS (docs/mutual-ratls.md): the proxy asks clients for a
 * certificate, verifies the TEE evidence in it with the same library clients
 * use on the proxy's certificate (src/verify/), and hands the outcome to the
 * policy as `input.peer.attestation`.
 *
 * Client RA-TLS certificates are self-signed; trust comes from the evidence,
 * not from an issuer. So the TLS layer accepts any certificate (requestCert,
 * rejectUnauthorized false: it still proves the client holds the key) and the
 * verdict decides. No CA key is ever handed out to make WebPKI accept them
 * (the dstack PR #1106 lesson).
 *
 * A certificate is verified once per TLS connection, at `secureConnection`;
 * the verdict is kept on the socket (a WeakMap) and in a small LRU by
 * certificate fingerprint, so a client that reconnects with the same
 * certificate is not verified again until the verdict's `validUntil` (or a
 * maximum age) has passed. Failures are cached briefly too, so a client that
 * retries a bad certificate cannot make the proxy redo the expensive checks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EnclaveGateError, describeThrown } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PeerAttestation } from '../policy/input.js';
import { certificateFingerprint, verifyCertificate } from '../verify/certificate.js';
import { parseReferenceValues, type ReferenceValues } from '../verify/reference-values.js';
import type { Verdict } from '../verify/verdict.js';
import { acceptedRequestId } from './headers.js';
import { problemBody, toProblem } from './respond.js';
import { deepFreeze } from '../util/deep-freeze.js';

/** `tls.clientAttestation` as the configuration schema gives it. */
export interface ClientAttestationConfig {
  readonly mode: 'off' | 'optional' | 'required';
  /** Inline reference values, or the path of a JSON file holding them. */
  readonly referenceValues?: string | Readonly<Record<string, unknown>> | undefined;
  readonly allowSimulated: boolean;
  readonly allowDebug: boolean;
}

/** Settings of {@link ClientAttestation}; the defaults suit production. */
export interface ClientAttestationOptions {
  readonly mode: 'optional' | 'required';
  /** Parsed reference values (parseReferenceValues). Absent → the verifier's safe defaults. */
  readonly referenceValues?: ReferenceValues;
  readonly allowSimulated: boolean;
  readonly allowDebug: boolean;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Verdicts kept across connections, by certificate fingerprint. Default 1024. */
  readonly cacheSize?: number;
  /** Longest a passing verdict is reused across connections, even before its validUntil. Default 10 min. */
  readonly maxAgeMs?: number;
  /** How long a failing verdict is reused across connections. Default 30 s. */
  readonly failureAgeMs?: number;
  /** Clock (tests). */
  readonly now?: () => Date;
  /** The verifier (tests count its calls). Default verifyCertificate. */
  readonly verify?: typeof verifyCertificate;
}

/** A verdict and what the policy sees of it. */
export interface ClientVerdict {
  readonly verdict: Verdict;
  readonly attestation: PeerAttestation;
  /** Epoch ms after which a passing verdict no longer holds (its validUntil); Infinity without one. */
  readonly validUntil: number;
}

interface CacheEntry extends ClientVerdict {
  /** Epoch ms after which the entry is not reused for another connection. */
  readonly reuseUntil: number;
}

/** Per-socket outcome: a verdict, or `none` when the client sent no certificate. */
type SocketState = ClientVerdict | 'none';

/**
 * Per-socket attestation, shared with src/proxy/input.ts (which builds the
 * policy input from it). Keyed by the socket, so it goes when the socket does.
 */
const bySocket = new WeakMap<object, SocketState>();

/** What the policy sees of the connection's client certificate; undefined when none was presented or none was asked for. */
export function peerAttestationOf(socket: object): PeerAttestation | undefined {
  const state = bySocket.get(socket);
  return state === undefined || state === 'none' ? undefined : state.attestation;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * A JSON-safe copy of a verifier value for the policy input: bigints as
 * decimal strings, bytes as hex, dates as ISO text, non-finite numbers as
 * null, undefined dropped, nesting capped (deeper values become null).
 */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (depth >= 8) return null;
  if (value instanceof Uint8Array) return hexOf(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : jsonSafe(v, depth + 1)));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) if (v !== undefined) out[String(k)] = jsonSafe(v, depth + 1);
    return out;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out[k] = jsonSafe(v, depth + 1);
    }
    return out;
  }
  return null;
}

/**
 * Maps a Verdict onto `input.peer.attestation`. Evidence fields are null
 * unless the verdict passed; a failure carries its code instead. Never the
 * raw evidence, the transcript or the verifier's message.
 */
export function attestationInput(verdict: Verdict, fingerprint: string): PeerAttestation {
  if (!verdict.ok) {
    return {
      verified: false,
      platform: verdict.platform ?? null,
      measurement: null,
      report_data: null,
      debug: null,
      tcb: null,
      code: verdict.code ?? 'EG_VERIFY_PARSE',
      fingerprint,
    };
  }
  const tcb = verdict.tcb === undefined ? null : (jsonSafe(verdict.tcb) as Record<string, unknown>);
  return {
    verified: true,
    platform: verdict.platform ?? null,
    measurement: verdict.measurement === undefined ? null : verdict.measurement.toLowerCase(),
    report_data: verdict.reportData === undefined ? null : verdict.reportData.toLowerCase(),
    debug: verdict.debug ?? null,
    tcb,
    ...(verdict.ratls?.policyHash === undefined ? {} : { policy_hash: verdict.ratls.policyHash }),
    fingerprint,
  };
}

/** The reason a refused request carries (docs/mutual-ratls.md). */
function refusalReason(state: SocketState): string {
  return state === 'none' ? 'client_certificate_missing' : `client_attestation_failed:${state.attestation.code ?? 'EG_VERIFY_PARSE'}`;
}

/** Verifies client certificates and gates requests on the outcome. */
export class ClientAttestation {
  readonly mode: 'optional' | 'required';
  readonly #options: ClientAttestationOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #cacheSize: number;
  readonly #maxAgeMs: number;
  readonly #failureAgeMs: number;
  readonly #now: () => Date;
  readonly #verify: typeof verifyCertificate;
  /** Certificates actually verified (cache misses), for tests and diagnostics. */
  verifications = 0;

  constructor(options: ClientAttestationOptions) {
    this.mode = options.mode;
    this.#options = options;
    this.#cacheSize = Math.max(0, options.cacheSize ?? 1024);
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#failureAgeMs = options.failureAgeMs ?? 30_000;
    this.#now = options.now ?? (() => new Date());
    this.#verify = options.verify ?? verifyCertificate;
  }

  /** Verifies (or finds in the cache) the verdict of a certificate given as DER. */
  verdictForCertificate(der: Uint8Array): ClientVerdict {
    const fingerprint = certificateFingerprint(der);
    const now = this.#now();
    const cached = this.#cache.get(fingerprint);
    if (cached !== undefined) {
      this.#cache.delete(fingerprint);
      if (cached.reuseUntil > now.getTime() && cached.validUntil > now.getTime()) {
        this.#cache.set(fingerprint, cached);
        return cached;
      }
    }
    this.verifications += 1;
    let verdict: Verdict;
    try {
      verdict = this.#verify(der, {
        at: now,
        ...(this.#options.referenceValues === undefined ? {} : { referenceValues: this.#options.referenceValues }),
        allowSimulated: this.#options.allowSimulated,
        allowDebug: this.#options.allowDebug,
      });
    } catch (err) {
      // verifyCertificate returns failures as values; a throw is a bug. Fail closed.
      verdict = { ok: false, code: 'EG_VERIFY_PARSE', message: `unexpected failure: ${describeThrown(err)}`, steps: [] };
    }
    const validUntil = verdict.ok && verdict.validUntil !== undefined ? Date.parse(verdict.validUntil) : Number.POSITIVE_INFINITY;
    const entry: CacheEntry = {
      verdict,
      // Frozen all the way down: shared by every request on the connection (and by later connections with the same certificate).
      attestation: deepFreeze(attestationInput(verdict, fingerprint)),
      validUntil: Number.isNaN(validUntil) ? 0 : validUntil,
      reuseUntil: now.getTime() + (verdict.ok ? this.#maxAgeMs : this.#failureAgeMs),
    };
    if (this.#cacheSize > 0) {
      this.#cache.set(fingerprint, entry);
      while (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#log(entry);
    return entry;
  }

  #log(entry: ClientVerdict): void {
    const logger = this.#options.logger;
    if (logger === undefined) return;
    const { attestation } = entry;
    if (attestation.verified) {
      logger.info(
        { fingerprint: attestation.fingerprint, platform: attestation.platform, measurement: attestation.measurement, debug: attestation.debug },
        attestation.platform === 'simulated' ? 'client attestation verified (INSECURE: simulated evidence)' : 'client attestation verified',
      );
    } else {
      logger.info({ fingerprint: attestation.fingerprint, platform: attestation.platform, code: attestation.code }, 'client attestation failed');
    }
  }

  /** Number of verdicts held across connections. */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  /**
   * The socket's verdict: verified at most once per connection, again only
   * when a passing verdict has outlived its validUntil on a long-lived
   * connection (then it fails as the certificate or its endorsements expired).
   */
  check(socket: TLSSocket): SocketState {
    const known = bySocket.get(socket);
    if (known === 'none') return known;
    if (known !== undefined && (!known.verdict.ok || known.validUntil > this.#now().getTime())) return known;
    let state: SocketState;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
    const raw = (peer as { raw?: Buffer } | undefined)?.raw;
    if (raw === undefined || raw.length === 0) {
      state = 'none';
    } else {
      state = this.verdictForCertificate(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    }
    bySocket.set(socket, state);
    return state;
  }

  /** The `secureConnection` listener: verify once, as the connection is established. */
  readonly onSecureConnection = (socket: TLSSocket): void => {
    this.check(socket);
  };

  /**
   * Wraps the request handler: every request refreshes the socket's verdict
   * if it expired; in `required` mode a connection without a verified
   * certificate is answered 403 EG_CLIENT_ATTESTATION_FAILED and closed,
   * before anything (the freshness endpoint included) sees the request.
   */
  wrap(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const state = this.check(req.socket as TLSSocket);
      if (this.mode === 'required' && (state === 'none' || !state.attestation.verified)) {
        this.#refuse(req, res, state);
        return;
      }
      handler(req, res);
    };
  }

  #refuse(req: IncomingMessage, res: ServerResponse, state: SocketState): void {
    const id = acceptedRequestId(req.headers['x-request-id']) ?? randomUUID();
    const reason = refusalReason(state);
    const detail =
      state === 'none'
        ? 'this proxy requires a client RA-TLS certificate and none was presented'
        : `the client RA-TLS certificate did not verify (${state.attestation.code ?? 'EG_VERIFY_PARSE'})`;
    const { body, headers } = problemBody(toProblem(new EnclaveGateError('EG_CLIENT_ATTESTATION_FAILED', detail), id, [reason]), req.url ?? '/');
    headers['connection'] = 'close';
    res.writeHead(403, headers);
    res.end(body);
    // The request body, if any, is never read; the connection goes with the answer.
    res.once('finish', () => req.socket.destroySoon?.());
    this.#options.metrics?.requests.inc({ decision: 'deny', code: 'EG_CLIENT_ATTESTATION_FAILED' });
    this.#options.logger?.info(
      {
        request_id: id,
        method: req.method,
        path: (req.url ?? '/').split('?', 1)[0],
        status: 403,
        decision: 'deny',
        code: 'EG_CLIENT_ATTESTATION_FAILED',
        reasons: [reason],
      },
      'request',
    );
  }
}

/** Reads `referenceValues`: inline, or a JSON file. Throws EG_CONFIG_INVALID with the verifier's message. */
function loadReferenceValues(value: string | Readonly<Record<string, unknown>>): ReferenceValues {
  let document: unknown = value;
  if (typeof value === 'string') {
    try {
      document = readFileSync(value, 'utf8');
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `tls.clientAttestation.referenceValues: cannot read ${value} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
  }
  try {
    return parseReferenceValues(document);
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `tls.clientAttestation.referenceValues: ${describeThrown(cause).replace(/^\w+: /, '')}`, { cause });
  }
}

/**
 * Builds the client attestation from `tls.clientAttestation`; undefined when
 * the mode is `off`. Insecure switches are logged as warnings and set
 * `enclave_gate_attestation_insecure{provider="client-attestation"}` to 1.
 */
export function createClientAttestation(
  config: ClientAttestationConfig,
  deps: { readonly logger?: Logger; readonly metrics?: Metrics } = {},
): ClientAttestation | undefined {
  const { logger, metrics } = deps;
  if (config.mode === 'off') {
    if (config.referenceValues !== undefined || config.allowSimulated || config.allowDebug) {
      logger?.warn('tls.clientAttestation settings are ignored: mode is "off", so clients are not asked for certificates');
    }
    return undefined;
  }
  const referenceValues = config.referenceValues === undefined ? undefined : loadReferenceValues(config.referenceValues);
  const allowSimulated = config.allowSimulated || referenceValues?.allowSimulated === true;
  const allowDebug = config.allowDebug || referenceValues?.allowDebug === true;
  if (allowSimulated) {
    logger?.warn(
      { mode: config.mode },
      'INSECURE: client attestation accepts SIMULATED evidence. Anyone can mint such a client certificate; it proves nothing about the caller. Never use this in production.',
    );
  }
  if (allowDebug) logger?.warn({ mode: config.mode }, 'INSECURE: client attestation accepts debug TEEs, whose memory the host can read.');
  metrics?.attestationInsecure.set({ provider: 'client-attestation' }, allowSimulated || allowDebug ? 1 : 0);
  logger?.info({ mode: config.mode, referenceValues: referenceValues !== undefined }, 'mutual RA-TLS: clients are asked for RA-TLS certificates');
  return new ClientAttestation({
    mode: config.mode,
    ...(referenceValues === undefined ? {} : { referenceValues }),
    allowSimulated,
    allowDebug,
    ...(logger === undefined ? {} : { logger }),
    ...(metrics === undefined ? {} : { metrics }),
  });
}
