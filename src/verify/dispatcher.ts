/**
 * An undici dispatcher that refuses to talk to a server before verifying its
 * RA-TLS certificate.
 *
 * The connector is undici's own, with certificate-authority checks off (the
 * certificate is self-signed; trust comes from the evidence inside it). Once
 * the TLS handshake has completed, and before the socket is handed back to
 * undici, the peer certificate is verified; undici writes the first request
 * byte only after that hand-over, so an unverified server never receives a
 * request. A failed verification destroys the socket and fails the request
 * with a VerifyError carrying the verdict's code.
 *
 * Host names are deliberately not checked: the identity that matters is the
 * attested code (measurements, policy hash), so pass reference values that
 * pin it; without them any genuine TEE passes.
 */
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { VerifyError, describeThrown, type ErrorCode } from '../errors.js';
import type { AppraisalPolicy } from './appraisal-policy.js';
import { certificateFingerprint, verifyCertificate, verifyFreshAttestation } from './certificate.js';
import { exchangeFreshness } from './fresh-client.js';
import { parseReferenceValues, type ReferenceValues } from './reference-values.js';
import { SnpChainCache } from './sev-snp/index.js';
import { Transcript } from './types.js';
import { failureVerdict, type Verdict } from './verdict.js';

/** Options of {@link createAttestedDispatcher}. */
export interface AttestedDispatcherOptions {
  /** What to accept (JSON document or parsed); validated when the dispatcher is created. */
  readonly referenceValues?: ReferenceValues;
  /** Accept simulated evidence (development only). */
  readonly allowSimulated?: boolean;
  /** Accept debug TEEs. */
  readonly allowDebug?: boolean;
  /** A Rego appraisal policy that must also allow each server (loadAppraisalPolicy). */
  readonly appraisalPolicy?: AppraisalPolicy;
  /** Validation clock, read once per handshake. Default: the wall clock (this is a network edge). */
  readonly at?: () => Date;
  /**
   * Never set: a certificate authority plays no part in RA-TLS trust, and
   * accepting one here would suggest it does.
   */
  readonly ca?: never;
  /** How many verified certificates to remember (by SHA-256 of their DER). Default 64; 0 disables caching. */
  readonly cacheSize?: number;
  /** Called with every fresh verdict, success or failure (not with cache hits). Exceptions it throws are ignored. */
  readonly onVerdict?: (verdict: Verdict) => void;
  /**
   * Also ask every new connection for fresh evidence bound to a nonce and to
   * that connection's TLS session (GET /.well-known/attestation) before the
   * first request, defeating relayed or replayed evidence. Costs one quote on
   * the server per connection. Default false.
   */
  readonly requireFresh?: boolean;
  /** TCP + TLS handshake timeout in milliseconds. Default 10 000. */
  readonly connectTimeout?: number;
  /** Other undici Agent options (keep-alive, pipelining…); `connect` is this module's. */
  readonly agentOptions?: Omit<Agent.Options, 'connect'>;
}

interface CacheEntry {
  readonly verdict: Verdict;
  /** Epoch ms after which the verdict must not be reused. */
  readonly until: number;
}

/**
 * Least-recently-used map of verified certificates. Only successes are
 * stored, and an entry is used only while `at` is before the verdict's
 * validUntil, so caching never extends what verification would accept.
 */
class VerdictCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(fingerprint: string, at: Date): Verdict | undefined {
    const entry = this.#entries.get(fingerprint);
    if (entry === undefined) return undefined;
    this.#entries.delete(fingerprint);
    if (at.getTime() > entry.until) return undefined;
    this.#entries.set(fingerprint, entry);
    return entry.verdict;
  }

  set(fingerprint: string, verdict: Verdict): void {
    if (this.#max === 0 || verdict.validUntil === undefined) return;
    this.#entries.delete(fingerprint);
    this.#entries.set(fingerprint, { verdict, until: Date.parse(verdict.validUntil) });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `createAttestedDispatcher: ${message}`);
}

function verifyCode(code: ErrorCode | undefined): ErrorCode & `EG_VERIFY_${string}` {
  return code !== undefined && code.startsWith('EG_VERIFY_') ? (code as ErrorCode & `EG_VERIFY_${string}`) : 'EG_VERIFY_PARSE';
}

/**
 * Creates an undici dispatcher (an `Agent`) whose connections are verified
 * RA-TLS connections. Use it with `request`, `fetch` or any undici API:
 *
 * @example
 * const dispatcher = createAttestedDispatcher({ referenceValues: { measurements: [m], policyHashes: [p] } });
 * const res = await request('https://enclave.example:8443/v1/chat/completions', { dispatcher, method: 'POST', body });
 *
 * @throws VerifyError EG_VERIFY_USAGE for invalid options (including `ca`).
 */
export function createAttestedDispatcher(options: AttestedDispatcherOptions = {}): Dispatcher {
  if (typeof options !== 'object' || options === null) usage('options must be an object');
  if ((options as { ca?: unknown }).ca !== undefined) usage('`ca` is not accepted: RA-TLS trust comes from the evidence, not from a certificate authority');
  const cacheSize = options.cacheSize ?? 64;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) usage('cacheSize must be a non-negative integer');
  const referenceValues = parseReferenceValues(options.referenceValues ?? {});
  const at = options.at ?? ((): Date => new Date());
  if (typeof at !== 'function') usage('at must be a function returning the validation instant');
  const cache = new VerdictCache(cacheSize);
  // Verified AMD chain links are the same for every server on the same hosts.
  const chainCache = new SnpChainCache();

  const report = (verdict: Verdict): void => {
    try {
      options.onVerdict?.(verdict);
    } catch {
      // An observer must not be able to change whether a connection is trusted.
    }
  };

  const check = (raw: Uint8Array): Verdict => {
    const now = at();
    const fingerprint = certificateFingerprint(raw);
    const cached = cache.get(fingerprint, now);
    if (cached !== undefined) return cached;
    const verdict = verifyCertificate(raw, {
      at: now,
      referenceValues,
      allowSimulated: options.allowSimulated === true,
      allowDebug: options.allowDebug === true,
      ...(options.appraisalPolicy === undefined ? {} : { appraisalPolicy: options.appraisalPolicy }),
      chainCache,
    });
    report(verdict);
    if (verdict.ok) cache.set(fingerprint, verdict);
    return verdict;
  };

  const base = buildConnector({
    rejectUnauthorized: false,
    // No TLS session resumption: every connection runs a full handshake, so
    // every connection presents, and proves possession of, the attested key.
    maxCachedSessions: 0,
    timeout: options.connectTimeout ?? 10_000,
  });

  const connect: buildConnector.connector = (connectOptions, callback) => {
    if (connectOptions.protocol !== 'https:') {
      callback(new VerifyError('EG_VERIFY_USAGE', `the attested dispatcher only connects to https: origins, not ${connectOptions.protocol}`), null);
      return;
    }
    base(connectOptions, (error, socket) => {
      if (error !== null || socket === null) {
        callback(error ?? new VerifyError('EG_VERIFY_CONNECT', 'connection failed'), null);
        return;
      }
      let verdict: Verdict;
      try {
        const raw = (socket as TLSSocket).getPeerCertificate(true)?.raw;
        if (raw === undefined || raw.length === 0) {
          verdict = failureVerdict(new VerifyError('EG_VERIFY_PARSE', 'the server presented no certificate'), new Transcript());
          report(verdict);
        } else {
          verdict = check(new Uint8Array(raw));
        }
      } catch (thrown) {
        // verifyCertificate never throws; this is the clock or the socket failing. Fail closed.
        verdict = failureVerdict(new VerifyError('EG_VERIFY_PARSE', `verification could not run: ${describeThrown(thrown)}`), new Transcript());
        report(verdict);
      }
      const host = `${connectOptions.hostname}:${connectOptions.port || 443}`;
      if (verdict.ok && options.requireFresh === true) {
        const tls = socket as TLSSocket;
        const certificate = new Uint8Array(tls.getPeerCertificate(true).raw);
        exchangeFreshness(tls, host, options.connectTimeout ?? 10_000).then(
          (exchange) => {
            const fresh = verifyFreshAttestation(exchange.answer, {
              at: at(),
              certificate,
              nonce: exchange.nonce,
              tlsExporter: exchange.tlsExporter,
              referenceValues,
              allowSimulated: options.allowSimulated === true,
              allowDebug: options.allowDebug === true,
      ...(options.appraisalPolicy === undefined ? {} : { appraisalPolicy: options.appraisalPolicy }),
              chainCache,
            });
            report(fresh);
            if (fresh.ok) return callback(null, socket);
            socket.destroy();
            callback(new VerifyError(verifyCode(fresh.code), `fresh attestation of ${host} failed: ${fresh.message ?? fresh.code ?? 'unknown'}`, { details: { host, verdict: fresh } }), null);
          },
          (error: unknown) => {
            socket.destroy();
            callback(error instanceof Error ? error : new VerifyError('EG_VERIFY_CONNECT', 'freshness exchange failed'), null);
          },
        );
        return;
      }
      if (verdict.ok) {
        callback(null, socket);
        return;
      }
      socket.destroy();
      callback(
        new VerifyError(verifyCode(verdict.code), `RA-TLS verification of ${host} failed: ${verdict.message ?? verdict.code ?? 'unknown'}`, {
          details: { host, verdict },
        }),
        null,
      );
    });
  };

  return new Agent({ ...(options.agentOptions ?? {}), connect });
}
