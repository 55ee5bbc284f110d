/**
 * The session-bound freshness exchange, shared by the proxy and the verifier.
 *
 * A client that wants evidence fresher than the certificate asks, over the
 * very TLS connection it will use, `GET /.well-known/attestation?nonce=HEX`.
 * The proxy answers with new evidence whose claims carry the client's nonce
 * and the connection's TLS exporter value
 * (`exportKeyingMaterial(32, EXPORTER_LABEL)`, RFC 5705/8446 §7.5). Both ends
 * compute the exporter from their own view of the session, so an answer
 * relayed from another connection, or replayed, fails the comparison.
 */
import { VerifyError } from '../errors.js';

/** Path of the freshness endpoint. */
export const FRESHNESS_PATH = '/.well-known/attestation';
/** TLS exporter label; RFC 5705 reserves labels starting with "EXPORTER". */
export const EXPORTER_LABEL = 'EXPORTER-enclave-gate-attestation';
/** Exporter output length in bytes. */
export const EXPORTER_LENGTH = 32;
/** Nonce length bounds in bytes (hex in the query is twice as long). */
export const NONCE_MIN_BYTES = 8;
export const NONCE_MAX_BYTES = 64;

/** The JSON body of a freshness answer (docs/ratls.md). */
export interface FreshnessAnswer {
  readonly version: 1;
  /** Platform of the evidence, e.g. "sev-snp", "tdx", "simulated". */
  readonly platform: string;
  /** Base64 of the tagged CBOR evidence: the same encoding as the 2.23.133.5.4.9 extension. */
  readonly tagged_evidence: string;
  /** Base64 of stapled endorsements (2.23.133.5.4.2 encoding), when the platform has them. */
  readonly endorsements?: string;
  /** Base64 of each GPU's evidence JSON (the CMW collection's gpu0, gpu1, …), when GPU evidence is configured. */
  readonly gpus?: readonly string[];
  /** When the evidence was produced (ISO 8601). */
  readonly issued_at: string;
}

/** Parses `nonce=HEX` from a query string; undefined when absent or malformed. */
export function parseNonceQuery(query: string): Uint8Array | undefined {
  const value = new URLSearchParams(query).get('nonce');
  if (value === null || !/^(?:[0-9a-fA-F]{2})+$/.test(value)) return undefined;
  const bytes = value.length / 2;
  if (bytes < NONCE_MIN_BYTES || bytes > NONCE_MAX_BYTES) return undefined;
  return new Uint8Array(Buffer.from(value, 'hex'));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Checks the shape of an answer and decodes its byte fields; shape errors are EG_VERIFY_PARSE. */
export function decodeFreshnessAnswer(value: unknown): { taggedEvidence: Uint8Array; endorsements?: Uint8Array; gpus: Uint8Array[]; platform: string; issuedAt: string } {
  const fail = (detail: string): never => {
    throw new VerifyError('EG_VERIFY_PARSE', `freshness answer: ${detail}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['version', 'platform', 'tagged_evidence', 'endorsements', 'gpus', 'issued_at'].includes(key)) fail(`unknown key "${key}"`);
  }
  if (record['version'] !== 1) fail(`version ${String(record['version'])} is not 1`);
  const b64 = (key: string, required: boolean): Uint8Array | undefined => {
    const v = record[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0) return fail(`"${key}" is not base64`);
    return new Uint8Array(Buffer.from(v, 'base64'));
  };
  if (typeof record['platform'] !== 'string') fail('"platform" is not a string');
  if (typeof record['issued_at'] !== 'string') fail('"issued_at" is not a string');
  const endorsements = b64('endorsements', false);
  const gpuList = record['gpus'];
  if (gpuList !== undefined && (!Array.isArray(gpuList) || gpuList.length === 0 || gpuList.length > 8)) fail('"gpus" is not an array of 1..8 base64 strings');
  const gpus = ((gpuList ?? []) as unknown[]).map((v, i) => {
    if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0) return fail(`"gpus"[${i}] is not base64`);
    return new Uint8Array(Buffer.from(v, 'base64'));
  });
  return {
    gpus,
    taggedEvidence: b64('tagged_evidence', true)!,
    ...(endorsements === undefined ? {} : { endorsements }),
    platform: record['platform'] as string,
    issuedAt: record['issued_at'] as string,
  };
}
