/**
 * RA-TLS certificates made by other projects that the verifier reads:
 * Open Enclave / echeck SGX certificates here, Evervault Nitro
 * subjectAltName certificates through the Nitro module's helpers.
 */
export { OID_OPEN_ENCLAVE_SGX_EVIDENCE, checkOpenEnclaveBinding, decodeOpenEnclaveEvidence } from './open-enclave.js';
