/**
 * Open Enclave RA-TLS certificates (as the OE SDK's attester and echeck
 * produce them): a self-signed certificate whose extension
 * 1.3.6.1.4.1.311.105.1 holds an OE evidence header and an SGX DCAP quote,
 * and whose binding is report_data[0:32] = SHA-256(DER SubjectPublicKeyInfo).
 *
 * Header (little-endian): u32 version (1), u32 type (2 = SGX remote
 * attestation), u64 size of the quote that follows. Only that combination
 * is read; anything else is refused rather than guessed at.
 */
import { createHash } from 'node:crypto';
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';

/** Extension OID of Open Enclave's legacy SGX remote-attestation evidence. */
export const OID_OPEN_ENCLAVE_SGX_EVIDENCE = '1.3.6.1.4.1.311.105.1';

const HEADER_BYTES = 16;
const OE_VERSION = 1;
const OE_TYPE_SGX_REMOTE = 2;

/**
 * Reads the OE evidence header and returns the SGX quote it wraps.
 *
 * @throws VerifyError EG_VERIFY_PARSE (short, wrong size) or
 *   EG_VERIFY_UNSUPPORTED (other version or evidence type).
 */
export function decodeOpenEnclaveEvidence(value: Uint8Array): Uint8Array {
  if (value.length < HEADER_BYTES) {
    throw new VerifyError('EG_VERIFY_PARSE', `Open Enclave evidence has ${value.length} bytes, fewer than its ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = view.getUint32(0, true);
  const type = view.getUint32(4, true);
  const size = view.getBigUint64(8, true);
  if (version !== OE_VERSION || type !== OE_TYPE_SGX_REMOTE) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `Open Enclave evidence version ${version} type ${type} is not version 1 type 2 (SGX remote attestation)`);
  }
  if (size !== BigInt(value.length - HEADER_BYTES)) {
    throw new VerifyError('EG_VERIFY_PARSE', `Open Enclave header says ${size} quote bytes, the extension holds ${value.length - HEADER_BYTES}`);
  }
  return value.subarray(HEADER_BYTES);
}

/**
 * Checks the OE binding: the quote's report_data starts with SHA-256 of the
 * certificate's DER SubjectPublicKeyInfo. The other 32 bytes are not part of
 * OE's binding and are left unchecked, as OE's own verifier does.
 *
 * @throws VerifyError EG_VERIFY_BINDING when the hash differs.
 */
export function checkOpenEnclaveBinding(evidence: VerifiedEvidence, spkiDer: Uint8Array, ctx: VerifyContext): void {
  const expected = createHash('sha256').update(spkiDer).digest('hex');
  const actual = evidence.reportData.slice(0, 64).toLowerCase();
  if (actual !== expected) {
    const detail = `report_data[0:32] ${actual} is not SHA-256 of the certificate's SubjectPublicKeyInfo (${expected})`;
    ctx.transcript.fail('oe.binding', 'EG_VERIFY_BINDING', detail);
    throw new VerifyError('EG_VERIFY_BINDING', detail);
  }
  ctx.transcript.pass('oe.binding', "report_data[0:32] is SHA-256 of the certificate's SubjectPublicKeyInfo");
}
