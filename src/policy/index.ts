/**
 * Public surface of the policy module: load a wasm policy bundle, evaluate
 * request and response decisions, and the input/decision contract. Other
 * modules import from here rather than from the files behind it.
 */
export { CUSTOM_BUILTINS, type CustomBuiltin } from './builtins/index.js';
export { DEFAULT_MAX_FINDINGS, PII_DETECTORS, scanPii, type PiiFinding, type PiiType } from './builtins/pii.js';
export { bundleDigest, type PolicyDigest } from './bundle.js';
export { FAILURE_REASONS, normalizeDecision, type Decision, type DecisionFailure } from './decision.js';
export {
  DEFAULT_INITIAL_MEMORY_PAGES,
  DEFAULT_MAX_MEMORY_PAGES,
  loadPolicy,
  loadPolicyBundle,
  type LoadPolicyOptions,
  type LogMaskResult,
  type MemoryLimits,
  type PolicyEngine,
} from './engine.js';
export { LOG_MASK_ENTRYPOINT, POLICY_ENTRYPOINTS, REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT } from './entrypoints.js';
export type { Peer, PeerTls, RequestInput, ResponseInput, ResponseRequestInfo } from './input.js';
