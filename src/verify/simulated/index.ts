/**
 * Simulated evidence verifier, public API. Development only: simulated
 * evidence is signed by a published key and is refused unless the caller
 * passes `allowSimulated`.
 */
export { verifySimulatedEvidence, type SimulatedVerifyOptions } from './verify.js';
