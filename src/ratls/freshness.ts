/**
 * The proxy's side of the freshness exchange (wire/freshness.ts): fresh
 * evidence over claims that carry the client's nonce and this connection's
 * TLS exporter value. Rate-limited with a token bucket, because each answer
 * asks the TEE for a new quote (about a second on stock TDX kernels).
 */
import type { TLSSocket } from 'node:tls';
import { EnclaveGateError } from '../errors.js';
import type { EvidenceProvider } from '../evidence/provider.js';
import { encodeClaims, reportDataFor } from '../wire/claims.js';
import { encodeTaggedEvidence } from '../wire/extension.js';
import { EXPORTER_LABEL, EXPORTER_LENGTH, NONCE_MAX_BYTES, NONCE_MIN_BYTES, parseNonceQuery, type FreshnessAnswer } from '../wire/freshness.js';
import { hashEntry, type HashEntry } from '../wire/hash-entry.js';

/** Settings of the responder. */
export interface FreshnessOptions {
  readonly provider: EvidenceProvider;
  /** The active policy digest, bound into every answer as `policy-hash`. */
  readonly policyHash: () => HashEntry;
  /** Sustained answers per second. */
  readonly perSecond: number;
  /** Answers allowed in a burst. */
  readonly burst: number;
  readonly now?: () => number;
}

/** Answers one freshness request on `socket`; throws catalogue errors. */
export type FreshnessResponder = (socket: TLSSocket, query: string) => Promise<FreshnessAnswer>;

/** Creates the responder. */
export function createFreshnessResponder(options: FreshnessOptions): FreshnessResponder {
  const now = options.now ?? (() => Date.now());
  let tokens = options.burst;
  let refilledAt = now();
  const take = (): void => {
    const t = now();
    tokens = Math.min(options.burst, tokens + ((t - refilledAt) / 1000) * options.perSecond);
    refilledAt = t;
    if (tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - tokens) / options.perSecond));
      throw new EnclaveGateError('EG_RATE_LIMITED', `fresh attestation is limited to ${options.perSecond}/s; retry in ${retryAfter} s`, {
        details: { retryAfter },
      });
    }
    tokens -= 1;
  };

  return async (socket, query) => {
    const nonce = parseNonceQuery(query);
    if (nonce === undefined) {
      throw new EnclaveGateError('EG_BAD_REQUEST', `nonce must be ${NONCE_MIN_BYTES}–${NONCE_MAX_BYTES} bytes of hex: ?nonce=HEX`);
    }
    take();
    // The key of the certificate this connection was served with; after a
    // rotation that is still the key the client saw in the handshake.
    const local = socket.getX509Certificate();
    if (local === undefined) throw new EnclaveGateError('EG_INTERNAL', 'the connection has no local certificate');
    const spki = new Uint8Array(local.publicKey.export({ type: 'spki', format: 'der' }));
    const tlsExporter = new Uint8Array(socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)));
    const claims = encodeClaims({ pubkeyHash: hashEntry('sha-384', spki), policyHash: options.policyHash(), nonce, tlsExporter });
    let evidence;
    try {
      evidence = await options.provider.getEvidence(reportDataFor(claims), { publicKey: spki, nonce });
    } catch (cause) {
      // The provider's own quote limiter (evidence/caching.ts) refuses bursts
      // the bucket above let through; tell the client when to come back.
      const retryAfterMs = cause instanceof EnclaveGateError && cause.details?.['reason'] === 'rate-limited' ? cause.details['retryAfterMs'] : undefined;
      if (typeof retryAfterMs === 'number') {
        throw new EnclaveGateError('EG_RATE_LIMITED', 'the TEE is busy with other quotes; retry later', { cause, details: { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) } });
      }
      if (cause instanceof EnclaveGateError) throw cause;
      throw new EnclaveGateError('EG_ATTESTATION_FAILED', 'fresh evidence could not be obtained', { cause });
    }
    const tagged = encodeTaggedEvidence({ tag: evidence.tag, evidence: evidence.evidence, claims });
    return {
      version: 1,
      platform: options.provider.platform,
      tagged_evidence: Buffer.from(tagged).toString('base64'),
      ...(evidence.endorsements ? { endorsements: Buffer.from(evidence.endorsements).toString('base64') } : {}),
      ...(evidence.gpus !== undefined && evidence.gpus.length > 0 ? { gpus: evidence.gpus.map((g) => Buffer.from(g).toString('base64')) } : {}),
      issued_at: new Date(now()).toISOString(),
    };
  };
}
