/**
 * Simulated evidence: development only, and forgeable by anyone.
 *
 * It lets the whole RA-TLS path run on a machine without a TEE. It is signed
 * with a "simulation root" key derived from a published seed, so it proves
 * nothing about where the code runs; every verifier rejects it unless the
 * caller passes `allowSimulated`, and the proxy logs and exports a metric
 * while it serves simulated evidence.
 *
 * Bytes: CBOR `[ body: bstr, signature: bstr ]`, signature = ECDSA P-256
 * SHA-256 (IEEE P1363 r‖s) over `body`; body = CBOR map
 * `{ "version": 1, "platform": "simulated", "measurement": bstr(48),
 *    "report-data": bstr(64), "issued-at": uint (seconds) }`.
 */
import { createECDH, createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { decode, encode, cdeEncodeOptions } from 'cbor2';
import { VerifyError } from '../errors.js';

/** The published seed; changing it is a breaking change for every verifier. */
export const SIMULATION_ROOT_SEED = 'enclave-gate simulated attestation root v1 - NOT SECURE';

/** Decoded simulated evidence body. */
export interface SimulatedEvidenceBody {
  readonly measurement: Uint8Array;
  readonly reportData: Uint8Array;
  readonly issuedAt: number;
}

let cachedKeys: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

/** The simulation root key pair, derived from the published seed. */
export function simulationRootKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  if (cachedKeys) return cachedKeys;
  const d = createHash('sha256').update(SIMULATION_ROOT_SEED).digest();
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const b64 = (b: Buffer): string => b.toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', x: b64(point.subarray(1, 33)), y: b64(point.subarray(33, 65)) };
  cachedKeys = {
    privateKey: createPrivateKey({ key: { ...jwk, d: b64(d) }, format: 'jwk' }),
    publicKey: createPublicKey({ key: jwk, format: 'jwk' }),
  };
  return cachedKeys;
}

/** Signs a simulated evidence body. */
export function encodeSimulatedEvidence(body: SimulatedEvidenceBody): Uint8Array {
  if (body.reportData.length !== 64) throw new RangeError('report data must be 64 bytes');
  if (body.measurement.length !== 48) throw new RangeError('measurement must be 48 bytes');
  const bodyBytes = encode(
    new Map<string, unknown>([
      ['version', 1],
      ['platform', 'simulated'],
      ['measurement', body.measurement],
      ['report-data', body.reportData],
      ['issued-at', Math.floor(body.issuedAt)],
    ]),
    cdeEncodeOptions,
  );
  const signature = sign('sha256', bodyBytes, { key: simulationRootKeys().privateKey, dsaEncoding: 'ieee-p1363' });
  return encode([bodyBytes, new Uint8Array(signature)], cdeEncodeOptions);
}

/** Parses and checks the signature of simulated evidence. */
export function decodeSimulatedEvidence(bytes: Uint8Array): SimulatedEvidenceBody {
  let outer: unknown;
  try {
    outer = decode(bytes, { rejectStreaming: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'simulated evidence is not CBOR', { cause });
  }
  if (!Array.isArray(outer) || outer.length !== 2 || !(outer[0] instanceof Uint8Array) || !(outer[1] instanceof Uint8Array)) {
    throw new VerifyError('EG_VERIFY_PARSE', 'simulated evidence is not [body bstr, signature bstr]');
  }
  const [bodyBytes, signature] = outer as [Uint8Array, Uint8Array];
  const ok = signature.length === 64 && verify('sha256', bodyBytes, { key: simulationRootKeys().publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  if (!ok) throw new VerifyError('EG_VERIFY_SIGNATURE', 'simulated evidence signature does not verify with the simulation root');
  let body: unknown;
  try {
    body = decode(bodyBytes, { rejectStreaming: true, rejectDuplicateKeys: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'simulated evidence body is not CBOR', { cause });
  }
  const b = body as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || b['version'] !== 1 || b['platform'] !== 'simulated') {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'simulated evidence body has an unknown version or platform');
  }
  const measurement = b['measurement'];
  const reportData = b['report-data'];
  const issuedAt = b['issued-at'];
  if (!(measurement instanceof Uint8Array) || measurement.length !== 48 || !(reportData instanceof Uint8Array) || reportData.length !== 64 || typeof issuedAt !== 'number') {
    throw new VerifyError('EG_VERIFY_PARSE', 'simulated evidence body fields have the wrong types or sizes');
  }
  return { measurement, reportData, issuedAt };
}
