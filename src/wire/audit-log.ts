/**
 * The signed decision log's record format (docs/audit.md), shared by the
 * writer (src/audit/) and the verifier (src/verify/audit-log.ts). Pure
 * functions, no I/O.
 *
 * A log is JSON Lines. Each line is one record:
 *   - `header`: starts every file; names the instance, its signing key
 *     (Ed25519, SPKI DER in base64) and the RA-TLS certificate whose claims
 *     bind that key (`audit-key-hash`), and the chain state at the file start.
 *   - `event`: one decision (OPA's decision-log event format) with its
 *     sequence number and chain hash: hash(n) = SHA-256(hash(n-1) "\n" n "\n"
 *     JSON(event)), starting from a genesis hash derived from the instance id.
 *   - `batch`: an Ed25519 signature over the chain head after a run of events
 *     (first/last sequence number, the hash before the run and after it).
 * Editing, dropping, reordering or inserting an event changes the chain, and
 * only the key born in the TEE can sign a new head.
 */
import { createHash, hash } from 'node:crypto';

export const AUDIT_LOG_VERSION = 1;
/** The only signature algorithm of version 1. */
export const AUDIT_SIGNATURE_ALG = 'Ed25519';

/** First line of every log file. */
export interface AuditHeaderRecord {
  readonly type: 'header';
  readonly version: typeof AUDIT_LOG_VERSION;
  /** Random id of the proxy process that wrote the log. */
  readonly instance: string;
  readonly alg: typeof AUDIT_SIGNATURE_ALG;
  /** The signing key: DER SubjectPublicKeyInfo, base64. */
  readonly signing_key: string;
  /** PEM of the RA-TLS certificate in service when the file was opened; its claims bind the key. */
  readonly certificate: string;
  /** When the file was opened (ISO 8601); the certificate is verified at this time. */
  readonly opened_at: string;
  /** Sequence number of the first event in this file. */
  readonly next_seq: number;
  /** Chain hash before that event (hex); the genesis hash for a new instance. */
  readonly prev: string;
}

/** One decision. */
export interface AuditEventRecord {
  readonly type: 'event';
  readonly seq: number;
  /** Chain hash after this event, hex. */
  readonly hash: string;
  /** OPA decision-log event, or `{ "overflow": { "dropped": N } }` when events were lost to a full buffer. */
  readonly event: Record<string, unknown>;
}

/** A signature over a run of events. */
export interface AuditBatchRecord {
  readonly type: 'batch';
  readonly instance: string;
  readonly first_seq: number;
  readonly last_seq: number;
  /** Chain hash before `first_seq`. */
  readonly prev: string;
  /** Chain hash after `last_seq`. */
  readonly head: string;
  /** Ed25519 signature over {@link batchMessage}, base64. */
  readonly sig: string;
  /** When the batch was signed (ISO 8601). */
  readonly signed_at: string;
  /** Set on the last batch, written when the proxy shut down cleanly. */
  readonly final?: true;
}

export type AuditRecord = AuditHeaderRecord | AuditEventRecord | AuditBatchRecord;

/** The chain hash before an instance's first event. */
export function genesisHash(instance: string): string {
  return createHash('sha256').update(`enclave-gate decision log v${AUDIT_LOG_VERSION}\n${instance}`).digest('hex');
}

/** hash(n) from hash(n-1), the sequence number and the event's JSON text. */
export function chainHash(prev: string, seq: number, eventJson: string): string {
  // One-shot: for a text of about a kilobyte, creating a Hash object costs as much as hashing.
  return hash('sha256', `${prev}\n${seq}\n${eventJson}`, 'hex');
}

/** The bytes a batch signature covers. */
export function batchMessage(batch: Pick<AuditBatchRecord, 'instance' | 'first_seq' | 'last_seq' | 'prev' | 'head' | 'signed_at'> & { readonly final?: boolean }): Buffer {
  return Buffer.from(
    JSON.stringify(['enclave-gate decision log batch', AUDIT_LOG_VERSION, batch.instance, batch.first_seq, batch.last_seq, batch.prev, batch.head, batch.signed_at, batch.final === true]),
    'utf8',
  );
}

/** SHA-256 hash entry value of a signing key's SPKI DER, as the `audit-key-hash` claim carries it. */
export function auditKeyDigest(spkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(spkiDer).digest());
}
