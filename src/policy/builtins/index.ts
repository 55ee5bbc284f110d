/**
 * Every custom Rego builtin enclave-gate implements in TypeScript. Each name
 * here must also be declared in rego/toolchain/custom-builtins.json (and so in
 * rego/capabilities.json), or `opa build` rejects policies that call it; a
 * unit test keeps the two in sync.
 */
import { piiBuiltins } from './pii.js';

/**
 * A builtin implementation: synchronous (opa-wasm cannot await), called with
 * JSON-decoded arguments (at most four), returning a JSON-encodable value.
 * Throwing aborts the evaluation, which the engine turns into a deny.
 */
export type CustomBuiltin = (...args: never[]) => unknown;

/** The builtins every policy engine gets, keyed by Rego name. */
export const CUSTOM_BUILTINS: Readonly<Record<string, CustomBuiltin>> = Object.freeze({ ...piiBuiltins });
