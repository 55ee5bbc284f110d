/**
 * Certificate manager: keeps the RA-TLS listener serving a certificate with
 * fresh evidence.
 *
 * - Renews before expiry: at `notAfter - renewBefore`, where renewBefore is
 *   `tls.renewBeforeSeconds` or a third of the validity (so at 2/3 of it).
 * - A renewal that fails (the evidence provider refuses bursts with
 *   EG_ATTESTATION_FAILED, details.reason 'rate-limited', or the TEE is
 *   briefly unavailable) is retried with exponential backoff and jitter,
 *   never sooner than the provider's retryAfterMs. The old certificate keeps
 *   being served meanwhile, but never past its notAfter: from then on
 *   `expired` is true (the gateway's readiness goes false and requests are
 *   refused with 503) and the `enclave_gate_certificate_valid` gauge is 0,
 *   until a renewal succeeds.
 * - Installs a certificate with `install` (the gateway passes
 *   `server.setSecureContext`): new handshakes get the new certificate,
 *   established connections keep the one they negotiated and are not dropped.
 * - Every issuance goes through one queue, so a scheduled renewal and a policy
 *   activation (which needs a certificate binding the new policy digest)
 *   never interleave, and a renewal always binds the policy last installed.
 */
import { EnclaveGateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { HashEntry } from '../wire/hash-entry.js';
import type { IssuedCertificate } from './issue.js';

/** The longest delay setTimeout takes (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Never schedule a renewal sooner than this after installing a certificate. */
const MIN_RENEW_DELAY_MS = 250;

/** Settings of {@link CertificateManager}. */
export interface CertificateManagerOptions {
  /** The certificate already being served. */
  readonly initial: IssuedCertificate;
  /** The policy hash `initial` binds. */
  readonly policyHash: HashEntry;
  /** Issues a certificate with fresh evidence binding `policyHash` (issueCertificate with the gateway's settings). */
  readonly issue: (policyHash: HashEntry) => Promise<IssuedCertificate>;
  /** Puts a certificate in service for new handshakes (server.setSecureContext). Must not throw for a valid certificate. */
  readonly install: (certificate: IssuedCertificate) => void;
  /** Renew this long before notAfter. Default: a third of the validity. */
  readonly renewBeforeSeconds?: number;
  /** First retry delay after a failed renewal. Default 1 s. */
  readonly retryMinMs?: number;
  /** Largest retry delay. Default 60 s. */
  readonly retryMaxMs?: number;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** What a rotation should do besides issuing and installing. */
export interface RotateOptions {
  /** Bind this policy hash (a policy activation); default: the current one. */
  readonly policyHash?: HashEntry;
  /**
   * Runs synchronously right after the new certificate is installed, in the
   * same tick: the gateway switches its policy holder here, so no request
   * can be handled between the certificate swap and the policy switch.
   */
  readonly afterInstall?: (certificate: IssuedCertificate) => void;
  /** For logs: why this rotation happens. */
  readonly reason?: string;
}

/** Keeps the served certificate fresh; see the module comment. */
export class CertificateManager {
  readonly #options: CertificateManagerOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #current: IssuedCertificate;
  #policyHash: HashEntry;
  #queue: Promise<unknown> = Promise.resolve();
  #renewTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #started = false;
  #closed = false;
  #lastError: string | undefined;

  constructor(options: CertificateManagerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now());
    this.#random = options.random ?? Math.random;
    this.#current = options.initial;
    this.#policyHash = options.policyHash;
  }

  /** The certificate new handshakes get. */
  get current(): IssuedCertificate {
    return this.#current;
  }

  /** The policy hash the current certificate binds. */
  get policyHash(): HashEntry {
    return this.#policyHash;
  }

  /** True once the current certificate is past its notAfter (no renewal succeeded in time). */
  get expired(): boolean {
    return this.#now() >= this.#current.notAfter.getTime();
  }

  /** For readiness: renewal state. */
  status(): Record<string, unknown> {
    return {
      expired: this.expired,
      renewAt: new Date(this.#renewAt(this.#current)).toISOString(),
      consecutiveFailures: this.#failures,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /** Starts the renewal schedule for the current certificate. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#publish(this.#current);
    this.#schedule(this.#renewAt(this.#current));
  }

  /**
   * Issues a certificate now (fresh evidence, `options.policyHash` or the
   * current policy) and installs it. Queued behind any issuance in progress.
   * Throws when issuance fails; the current certificate stays in service.
   */
  rotate(options: RotateOptions = {}): Promise<IssuedCertificate> {
    const run = this.#queue.then(() => this.#rotateNow(options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the timers; a rotation in progress finishes. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
    await this.#queue;
  }

  async #rotateNow(options: RotateOptions): Promise<IssuedCertificate> {
    if (this.#closed) throw new EnclaveGateError('EG_NOT_READY', 'the certificate manager is closed');
    const policyHash = options.policyHash ?? this.#policyHash;
    let certificate: IssuedCertificate;
    try {
      certificate = await this.#options.issue(policyHash);
    } catch (err) {
      this.#options.metrics?.certificateRotations.inc({ outcome: 'failed' });
      throw err;
    }
    if (this.#closed) throw new EnclaveGateError('EG_NOT_READY', 'the certificate manager is closed');
    // Install and switch in one synchronous block (see RotateOptions.afterInstall).
    this.#options.install(certificate);
    this.#current = certificate;
    this.#policyHash = policyHash;
    options.afterInstall?.(certificate);
    this.#failures = 0;
    this.#lastError = undefined;
    this.#options.metrics?.certificateRotations.inc({ outcome: 'ok' });
    this.#publish(certificate);
    this.#options.logger?.info({ certificate: certificate.toJSON(), reason: options.reason ?? 'manual' }, 'RA-TLS certificate rotated');
    for (const warning of certificate.warnings) this.#options.logger?.warn({ warning }, 'evidence warning');
    if (this.#started) this.#schedule(this.#renewAt(certificate));
    return certificate;
  }

  #publish(certificate: IssuedCertificate): void {
    const metrics = this.#options.metrics;
    metrics?.certExpiry.set(certificate.notAfter.getTime() / 1000);
    metrics?.evidenceTimestamp.set(certificate.evidenceIssuedAt.getTime() / 1000);
    metrics?.certificateValid.set(this.expired ? 0 : 1);
    clearTimeout(this.#expiryTimer);
    if (!this.#started || this.#closed) return;
    this.#arm('expiry', certificate.notAfter.getTime(), () => {
      if (this.#current !== certificate) return;
      metrics?.certificateValid.set(0);
      this.#options.logger?.error(
        { certificate: certificate.toJSON(), lastError: this.#lastError },
        'RA-TLS certificate expired before a renewal succeeded; not ready until one does',
      );
    });
  }

  /** When to renew `certificate`. */
  #renewAt(certificate: IssuedCertificate): number {
    const issuedAt = certificate.evidenceIssuedAt.getTime();
    const notAfter = certificate.notAfter.getTime();
    const validity = Math.max(0, notAfter - issuedAt);
    const before = this.#options.renewBeforeSeconds === undefined ? validity / 3 : Math.min(this.#options.renewBeforeSeconds * 1000, validity * 0.9);
    return Math.max(issuedAt + MIN_RENEW_DELAY_MS, notAfter - before);
  }

  #schedule(at: number): void {
    clearTimeout(this.#renewTimer);
    if (this.#closed) return;
    this.#arm('renew', at, () => {
      void this.rotate({ reason: this.#failures === 0 ? 'renewal' : `renewal retry ${this.#failures}` }).catch((err: unknown) => this.#renewalFailed(err));
    });
  }

  #renewalFailed(err: unknown): void {
    if (this.#closed) return;
    this.#failures += 1;
    const min = this.#options.retryMinMs ?? 1000;
    const max = this.#options.retryMaxMs ?? 60_000;
    let delay = Math.min(max, min * 2 ** Math.min(this.#failures - 1, 30));
    delay = delay / 2 + (delay / 2) * this.#random();
    const details = err instanceof EnclaveGateError ? err.details : undefined;
    const retryAfterMs = details?.['retryAfterMs'];
    if (typeof retryAfterMs === 'number' && retryAfterMs > delay) delay = retryAfterMs;
    const code = err instanceof EnclaveGateError ? err.code : 'EG_CERT_ISSUE_FAILED';
    const reason = typeof details?.['reason'] === 'string' ? details['reason'] : undefined;
    this.#lastError = reason === undefined ? code : `${code} (${reason})`;
    const notAfter = this.#current.notAfter.getTime();
    this.#options.logger?.warn(
      { code, reason, failures: this.#failures, retryInMs: Math.round(delay), notAfter: this.#current.notAfter.toISOString() },
      this.#now() < notAfter ? 'certificate renewal failed; still serving the current certificate, retrying' : 'certificate renewal failed; the current certificate has expired, retrying',
    );
    this.#schedule(this.#now() + delay);
  }

  /** A timer that fires at `at` (re-arming past setTimeout's range). */
  #arm(kind: 'renew' | 'expiry', at: number, fire: () => void): void {
    const delay = Math.max(0, at - this.#now());
    const timer = setTimeout(
      () => {
        if (this.#now() < at) this.#arm(kind, at, fire);
        else fire();
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    timer.unref();
    if (kind === 'renew') this.#renewTimer = timer;
    else this.#expiryTimer = timer;
  }
}
