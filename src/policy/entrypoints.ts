/**
 * The policy entrypoints: the Rego documents the proxy asks for. They are
 * compiled into the wasm module by name (`opa build -e …`) and looked up by
 * name when a bundle loads, so both sides take them from here.
 */

/** Entrypoint of the request decision (input: RequestInput). */
export const REQUEST_ENTRYPOINT = 'enclave_gate/request/decision';
/** Entrypoint of the response decision (input: ResponseInput). */
export const RESPONSE_ENTRYPOINT = 'enclave_gate/response/decision';
/** Every entrypoint a policy bundle must provide. */
export const POLICY_ENTRYPOINTS: readonly string[] = Object.freeze([REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT]);
/**
 * Optional entrypoint of the decision-log mask, in the manner of OPA's
 * `data.system.log.mask` (input: the decision-log event, docs/audit.md).
 * Compiled only when the Rego defines `package enclave_gate.log`.
 */
export const LOG_MASK_ENTRYPOINT = 'enclave_gate/log/mask';
