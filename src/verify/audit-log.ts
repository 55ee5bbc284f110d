/**
 * Verifies a signed decision log (docs/audit.md; `enclave-gate audit verify`):
 * the signing key's attestation (the RA-TLS certificate in the log, or one
 * given, must verify and bind the key in its `audit-key-hash` claim), every
 * batch signature, and the hash chain, reporting each edited, dropped,
 * reordered or inserted event with its sequence number, file and line.
 *
 * The chain is walked in sequence order, so a pure reordering of lines shows
 * as `reordered` and nothing else; a run of events whose stored hashes were
 * recomputed after an edit still fails against the signed head of its batch.
 */
import { createPublicKey, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { ERRORS, type ErrorCode } from '../errors.js';
import {
  AUDIT_LOG_VERSION,
  auditKeyDigest,
  batchMessage,
  chainHash,
  genesisHash,
  type AuditBatchRecord,
  type AuditEventRecord,
  type AuditHeaderRecord,
} from '../wire/audit-log.js';
import { formatHashEntry } from '../wire/hash-entry.js';
import { verifyCertificate } from './certificate.js';
import type { ReferenceValues } from './reference-values.js';
import { verdictExitCode } from './verdict.js';

/** What kind of problem a finding is. */
export type AuditFindingKind = 'parse' | 'attestation' | 'key' | 'signature' | 'edited' | 'dropped' | 'reordered' | 'inserted' | 'unsigned';

export interface AuditFinding {
  readonly kind: AuditFindingKind;
  readonly code: ErrorCode;
  readonly message: string;
  readonly file?: string;
  /** 1-based line in `file`. */
  readonly line?: number;
  /** The event's sequence number, or the first of a range. */
  readonly seq?: number;
  /** Last sequence number of a range. */
  readonly lastSeq?: number;
}

/** The outcome of {@link verifyAuditLog}. */
export interface AuditReport {
  readonly ok: boolean;
  /** Exit code of `audit verify`: 0, or the first failure class's (docs/errors.md). */
  readonly exitCode: number;
  readonly instance?: string;
  /** `sha-256:<hex>` of the signing key's SPKI. */
  readonly signingKeyHash?: string;
  readonly files: number;
  readonly events: number;
  readonly batches: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  /** True when the log ends with the final batch written at a clean shutdown. */
  readonly closed: boolean;
  /** The certificate that binds the key, as verified. */
  readonly attestation?: { readonly ok: boolean; readonly code?: string; readonly platform?: string; readonly measurement?: string; readonly policyHash?: string; readonly auditKeyHash?: string };
  readonly findings: readonly AuditFinding[];
}

export interface AuditLogFile {
  readonly name: string;
  readonly text: string;
}

export interface VerifyAuditLogOptions {
  /** A certificate (PEM or DER) to check the key against instead of the ones in the log. */
  readonly certificate?: string | Uint8Array;
  readonly allowSimulated?: boolean;
  readonly referenceValues?: ReferenceValues;
  /** Validation time of the certificate; default: when the (first) file was opened. */
  readonly at?: Date;
}

interface Located<T> {
  readonly record: T;
  readonly file: string;
  readonly line: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The record on one line, or a description of why it is not one. */
function parseRecord(text: string): AuditHeaderRecord | AuditEventRecord | AuditBatchRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not a JSON object';
  switch (value['type']) {
    case 'header':
      if (value['version'] !== AUDIT_LOG_VERSION) return `unsupported version ${String(value['version'])}`;
      if (typeof value['instance'] !== 'string' || typeof value['signing_key'] !== 'string' || typeof value['certificate'] !== 'string') return 'header without instance, signing_key or certificate';
      if (!isSeq(value['next_seq']) || typeof value['prev'] !== 'string' || !HEX64.test(value['prev']) || typeof value['opened_at'] !== 'string') return 'header without next_seq, prev or opened_at';
      return value as unknown as AuditHeaderRecord;
    case 'event':
      if (!isSeq(value['seq']) || typeof value['hash'] !== 'string' || !HEX64.test(value['hash']) || !isObject(value['event'])) return 'event without seq, hash or event';
      return value as unknown as AuditEventRecord;
    case 'batch':
      if (!isSeq(value['first_seq']) || !Number.isInteger(value['last_seq']) || typeof value['sig'] !== 'string') return 'batch without first_seq, last_seq or sig';
      if (typeof value['prev'] !== 'string' || typeof value['head'] !== 'string' || typeof value['instance'] !== 'string' || typeof value['signed_at'] !== 'string') return 'batch without prev, head, instance or signed_at';
      return value as unknown as AuditBatchRecord;
    default:
      return 'unknown record type';
  }
}

/** Exit classes in the order they are reported: the first present decides the exit code. */
const PRIORITY: readonly AuditFindingKind[] = ['parse', 'attestation', 'key', 'signature', 'edited', 'dropped', 'reordered', 'inserted', 'unsigned'];

/** Verifies the given log files (one instance; rotated files in any order). */
export function verifyAuditLog(files: readonly AuditLogFile[], options: VerifyAuditLogOptions = {}): AuditReport {
  const findings: AuditFinding[] = [];
  const add = (finding: AuditFinding): void => void findings.push(finding);
  const headers: Located<AuditHeaderRecord>[] = [];
  const events: Located<AuditEventRecord>[] = [];
  const batches: Located<AuditBatchRecord>[] = [];

  // 1. Parse. Every file starts with a header; blank lines only at the end.
  const perFile: { name: string; header: AuditHeaderRecord | undefined; events: Located<AuditEventRecord>[] }[] = [];
  for (const file of files) {
    const lines = file.text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const entry = { name: file.name, header: undefined as AuditHeaderRecord | undefined, events: [] as Located<AuditEventRecord>[] };
    perFile.push(entry);
    lines.forEach((text, i) => {
      const line = i + 1;
      const record = parseRecord(text);
      if (typeof record === 'string') {
        add({ kind: 'parse', code: 'EG_AUDIT_PARSE', message: `record does not parse: ${record}`, file: file.name, line });
        return;
      }
      if (record.type === 'header') {
        if (line !== 1) add({ kind: 'inserted', code: 'EG_AUDIT_CHAIN', message: 'a header record in the middle of a file', file: file.name, line });
        else {
          entry.header = record;
          headers.push({ record, file: file.name, line });
        }
      } else if (record.type === 'event') {
        const located = { record, file: file.name, line };
        events.push(located);
        entry.events.push(located);
      } else {
        batches.push({ record, file: file.name, line });
      }
    });
    if (entry.header === undefined && lines.length > 0) add({ kind: 'parse', code: 'EG_AUDIT_PARSE', message: 'the file does not start with a header record', file: file.name, line: 1 });
  }
  const first = [...headers].sort((a, b) => a.record.next_seq - b.record.next_seq)[0];
  if (first === undefined) {
    if (findings.length === 0) add({ kind: 'parse', code: 'EG_AUDIT_PARSE', message: 'no decision log header found' });
    return report(findings, { files: files.length, events: events.length, batches: batches.length, closed: false });
  }
  const instance = first.record.instance;
  const spki = Buffer.from(first.record.signing_key, 'base64');
  for (const h of headers) {
    if (h.record.instance !== instance || h.record.signing_key !== first.record.signing_key) {
      add({ kind: 'parse', code: 'EG_AUDIT_PARSE', message: `file belongs to another instance (${h.record.instance}); verify one instance at a time`, file: h.file, line: h.line });
    }
  }
  let publicKey: KeyObject | undefined;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
  } catch {
    publicKey = undefined;
    add({ kind: 'parse', code: 'EG_AUDIT_PARSE', message: 'the signing key is not an Ed25519 SubjectPublicKeyInfo', file: first.file, line: first.line });
  }
  const signingKeyHash = formatHashEntry({ alg: 'sha-256', digest: auditKeyDigest(spki) });

  // 2. The key's attestation: each certificate must verify and bind this key.
  let attestation: AuditReport['attestation'];
  const certificates: { cert: string | Uint8Array; at: Date; where: Located<AuditHeaderRecord> | undefined }[] =
    options.certificate !== undefined
      ? [{ cert: options.certificate, at: options.at ?? new Date(first.record.opened_at), where: undefined }]
      : [...new Map(headers.map((h) => [h.record.certificate, h])).values()].map((h) => ({ cert: h.record.certificate, at: options.at ?? new Date(h.record.opened_at), where: h }));
  for (const { cert, at, where } of certificates) {
    const der = typeof cert === 'string' ? pemToDer(cert) : cert;
    const verdict = verifyCertificate(der, {
      at: Number.isNaN(at.getTime()) ? new Date(0) : at,
      ...(options.referenceValues === undefined ? {} : { referenceValues: options.referenceValues }),
      allowSimulated: options.allowSimulated === true,
    });
    attestation ??= {
      ok: verdict.ok,
      ...(verdict.code === undefined ? {} : { code: verdict.code }),
      ...(verdict.platform === undefined ? {} : { platform: verdict.platform }),
      ...(verdict.measurement === undefined ? {} : { measurement: verdict.measurement }),
      ...(verdict.ratls?.policyHash === undefined ? {} : { policyHash: verdict.ratls.policyHash }),
      ...(verdict.ratls?.auditKeyHash === undefined ? {} : { auditKeyHash: verdict.ratls.auditKeyHash }),
    };
    const loc = where === undefined ? {} : { file: where.file, line: where.line };
    if (!verdict.ok) {
      add({ kind: 'attestation', code: verdict.code ?? 'EG_VERIFY_PARSE', message: `the certificate does not verify: ${verdict.message ?? ''} (exit ${verdictExitCode(verdict)})`, ...loc });
    } else if (verdict.ratls?.auditKeyHash !== signingKeyHash) {
      add({
        kind: 'key',
        code: 'EG_AUDIT_KEY',
        message:
          verdict.ratls?.auditKeyHash === undefined
            ? 'the certificate binds no decision-log key (no audit-key-hash claim)'
            : `the certificate binds key ${verdict.ratls.auditKeyHash}, the log is signed with ${signingKeyHash}`,
        ...loc,
      });
    }
  }

  // 3. Batch signatures.
  const signed: Located<AuditBatchRecord>[] = [];
  for (const b of batches) {
    const r = b.record;
    let valid = false;
    try {
      valid = publicKey !== undefined && r.instance === instance && verifySignature(null, batchMessage(r), publicKey, Buffer.from(r.sig, 'base64'));
    } catch {
      valid = false;
    }
    if (!valid) add({ kind: 'signature', code: 'EG_AUDIT_SIGNATURE', message: `batch ${r.first_seq}–${r.last_seq}: the signature does not verify`, file: b.file, line: b.line, seq: r.first_seq, lastSeq: r.last_seq });
    else signed.push(b);
  }

  // 4. Order: within each file, sequence numbers must rise.
  for (const file of perFile) {
    for (let i = 1; i < file.events.length; i += 1) {
      const prev = file.events[i - 1]!;
      const cur = file.events[i]!;
      if (cur.record.seq < prev.record.seq && cur.record.seq !== prev.record.seq) {
        add({ kind: 'reordered', code: 'EG_AUDIT_CHAIN', message: `event ${cur.record.seq} comes after event ${prev.record.seq}`, file: cur.file, line: cur.line, seq: cur.record.seq });
      }
    }
  }

  // 5. The chain, in sequence order.
  const bySeq = new Map<number, Located<AuditEventRecord>[]>();
  for (const e of events) {
    const list = bySeq.get(e.record.seq) ?? [];
    list.push(e);
    bySeq.set(e.record.seq, list);
  }
  const startSeq = first.record.next_seq;
  if (startSeq !== 1) add({ kind: 'dropped', code: 'EG_AUDIT_CHAIN', message: `events 1–${startSeq - 1} are not in the given files (rotated away, or removed)`, seq: 1, lastSeq: startSeq - 1 });
  const startHash = startSeq === 1 ? genesisHash(instance) : first.record.prev;
  if (startSeq === 1 && first.record.prev !== startHash) add({ kind: 'edited', code: 'EG_AUDIT_CHAIN', message: 'the first header does not start from the instance genesis hash', file: first.file, line: first.line });
  // Loops, not Math.max(...): a log can hold more events than a call has arguments.
  let maxSeq = startSeq - 1;
  for (const e of events) if (e.record.seq > maxSeq) maxSeq = e.record.seq;
  for (const b of signed) if (b.record.last_seq > maxSeq) maxSeq = b.record.last_seq;
  /** Stored hash after each sequence number that is present (the genuine copy of a duplicate). */
  const hashAt = new Map<number, string>([[startSeq - 1, startHash]]);
  let prevHash: string | undefined = startHash;
  const missing = (from: number, to: number): void =>
    add({ kind: 'dropped', code: 'EG_AUDIT_CHAIN', message: from === to ? `event ${from} is missing` : `events ${from}–${to} are missing`, seq: from, lastSeq: to });
  // Only the sequence numbers present are visited, so a forged huge number costs nothing.
  const present = [...bySeq.keys()].sort((a, b) => a - b);
  let expected = startSeq;
  for (const seq of present) {
    const copies = bySeq.get(seq)!;
    if (seq < startSeq) {
      for (const c of copies) add({ kind: 'inserted', code: 'EG_AUDIT_CHAIN', message: `event ${seq} comes before the log's first event ${startSeq}`, file: c.file, line: c.line, seq });
      continue;
    }
    if (seq > expected) {
      missing(expected, seq - 1);
      prevHash = undefined;
    }
    expected = seq + 1;
    const computed = copies.map((c) => (prevHash === undefined ? undefined : chainHash(prevHash, seq, JSON.stringify(c.record.event))));
    let genuine = copies.findIndex((c, i) => computed[i] !== undefined && computed[i] === c.record.hash);
    if (copies.length > 1) {
      // Two events claim this place: the one that chains is the original.
      copies.forEach((c, i) => {
        if (i !== genuine) add({ kind: 'inserted', code: 'EG_AUDIT_CHAIN', message: `a second event ${seq} that does not belong to the chain`, file: c.file, line: c.line, seq });
      });
      if (genuine < 0) genuine = 0;
    } else if (genuine < 0) {
      genuine = 0;
      if (prevHash !== undefined) add({ kind: 'edited', code: 'EG_AUDIT_CHAIN', message: `event ${seq} does not match its chain hash`, file: copies[0]!.file, line: copies[0]!.line, seq });
    }
    prevHash = copies[genuine]!.record.hash;
    hashAt.set(seq, prevHash);
  }
  if (expected <= maxSeq) missing(expected, maxSeq);

  // 6. Signed heads: a run whose hashes were recomputed after an edit does not end on its signed head.
  const covered: [number, number][] = [];
  for (const b of signed) {
    const r = b.record;
    const before = hashAt.get(r.first_seq - 1);
    const after = hashAt.get(r.last_seq);
    const reported = findings.some((f) => f.seq !== undefined && f.seq >= r.first_seq && f.seq <= r.last_seq && f.kind !== 'signature');
    if ((before !== undefined && before !== r.prev) || (after !== undefined && after !== r.head)) {
      if (!reported) {
        add({
          kind: 'edited',
          code: 'EG_AUDIT_CHAIN',
          message: `events ${r.first_seq}–${r.last_seq} do not end on the head their batch signed (an event in the run was changed and the hashes recomputed)`,
          file: b.file,
          line: b.line,
          seq: r.first_seq,
          lastSeq: r.last_seq,
        });
      }
    }
    if (r.last_seq >= r.first_seq) covered.push([r.first_seq, r.last_seq]);
  }

  // 7. Events no valid signature covers (merged ranges, binary search).
  covered.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, z] of covered) {
    const last = merged.at(-1);
    if (last !== undefined && a <= last[1] + 1) last[1] = Math.max(last[1], z);
    else merged.push([a, z]);
  }
  const isCovered = (seq: number): boolean => {
    let lo = 0;
    let hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, z] = merged[mid]!;
      if (seq < a) hi = mid - 1;
      else if (seq > z) lo = mid + 1;
      else return true;
    }
    return false;
  };
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  let unsignedCount = 0;
  for (const e of events) {
    if (isCovered(e.record.seq)) continue;
    unsignedCount += 1;
    lo = Math.min(lo, e.record.seq);
    hi = Math.max(hi, e.record.seq);
  }
  if (unsignedCount > 0) {
    add({ kind: 'unsigned', code: 'EG_AUDIT_UNSIGNED', message: `${unsignedCount} event(s) between ${lo} and ${hi} are covered by no valid batch signature`, seq: lo, lastSeq: hi });
  }

  const closed = signed.some((b) => b.record.final === true && b.record.last_seq === maxSeq);
  let firstSeq = Number.POSITIVE_INFINITY;
  let lastSeq = 0;
  for (const e of events) {
    firstSeq = Math.min(firstSeq, e.record.seq);
    lastSeq = Math.max(lastSeq, e.record.seq);
  }
  return report(findings, {
    instance,
    signingKeyHash,
    files: files.length,
    events: events.length,
    batches: batches.length,
    ...(events.length === 0 ? {} : { firstSeq, lastSeq }),
    closed,
    ...(attestation === undefined ? {} : { attestation }),
  });
}

function report(findings: AuditFinding[], facts: Omit<AuditReport, 'ok' | 'exitCode' | 'findings'>): AuditReport {
  const ordered = [...findings].sort((a, b) => PRIORITY.indexOf(a.kind) - PRIORITY.indexOf(b.kind) || (a.seq ?? 0) - (b.seq ?? 0));
  const worst = ordered[0];
  const exitCode = worst === undefined ? 0 : ERRORS[worst.code].exitCode;
  return { ok: worst === undefined, exitCode, ...facts, findings: ordered };
}

function pemToDer(pem: string): Uint8Array {
  if (!pem.includes('-----BEGIN')) return new Uint8Array(Buffer.from(pem, 'base64'));
  return new Uint8Array(new X509Certificate(pem).raw);
}

/** The report as text for a terminal. */
export function formatAuditReport(r: AuditReport): string {
  const lines: string[] = [];
  const range = r.firstSeq === undefined ? 'no events' : `events ${r.firstSeq}–${r.lastSeq} (${r.events})`;
  lines.push(`decision log: ${r.files} file(s), instance ${r.instance ?? '?'}, ${range}, ${r.batches} batch(es)${r.closed ? ', closed cleanly' : ', not closed (still running, or killed)'}`);
  if (r.signingKeyHash !== undefined) lines.push(`signing key: ${r.signingKeyHash}`);
  if (r.attestation !== undefined) {
    const a = r.attestation;
    lines.push(
      a.ok
        ? `attestation: ${a.platform ?? '?'} measurement ${a.measurement ?? '?'}, policy ${a.policyHash ?? '?'}, binds ${a.auditKeyHash ?? 'no audit key'}`
        : `attestation: FAILED ${a.code ?? ''}`,
    );
    if (a.platform === 'simulated') lines.push('  WARNING: simulated evidence proves nothing about where the log was written');
  }
  for (const f of r.findings) {
    const where = f.file === undefined ? '' : ` (${f.file}${f.line === undefined ? '' : `:${f.line}`})`;
    lines.push(`${f.kind.toUpperCase()} ${f.code}${where}: ${f.message}`);
  }
  lines.push(r.ok ? 'OK: chain, signatures and the signing key\'s attestation verify' : `FAILED (exit ${r.exitCode})`);
  return `${lines.join('\n')}\n`;
}
