/**
 * Appraisal of verified Nitro evidence against reference values: which PCR
 * values are acceptable, whether a debug-mode enclave is, which nonce,
 * user_data and public_key the document must carry, and how old it may be.
 *
 * Reference values usually come from a JSON file, so they get a validating
 * parser that refuses unknown keys: a misspelt "pcr" silently allowing every
 * image is the failure this guards against.
 */
import { VerifyError } from '../../errors.js';
import type { VerifiedEvidence, VerifyContext } from '../types.js';
import type { NitroClaims } from './verify.js';

/** What a Nitro document must match; every field is optional, hex is case-insensitive. */
export interface NitroReferenceValues {
  /** PCR index ("0".."31") → allowed values (hex). Each listed PCR must equal one of its values. */
  readonly pcrs?: Readonly<Record<string, readonly string[]>>;
  /** Accept debug-mode enclaves (PCR0–2 all zero). Default false → EG_VERIFY_DEBUG. */
  readonly allowDebug?: boolean;
  /** The nonce (hex) the verifier sent; the document must echo it. */
  readonly expectedNonce?: string;
  /** The user_data (hex) the document must carry. */
  readonly expectedUserData?: string;
  /** The public_key (hex) the document must carry. */
  readonly expectedPublicKey?: string;
  /** Maximum age of the document timestamp at ctx.at, in seconds. */
  readonly maxAgeSeconds?: number;
}

/**
 * How far a document timestamp may lie after ctx.at when maxAgeSeconds is set.
 * The NSM clock and the verifier's clock are different clocks; five minutes
 * absorbs ordinary drift without accepting documents dated far ahead.
 */
export const NITRO_FUTURE_SKEW_SECONDS = 300;

const KEYS: ReadonlySet<string> = new Set([
  'pcrs',
  'allowDebug',
  'expectedNonce',
  'expectedUserData',
  'expectedPublicKey',
  'maxAgeSeconds',
]);

/** Hex lengths (characters) of 32-, 48- and 64-byte PCRs. */
const PCR_HEX_LENGTHS: ReadonlySet<number> = new Set([64, 96, 128]);

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const PCR_INDEX = /^(?:[0-9]|[12][0-9]|3[01])$/;

function usage(message: string): VerifyError {
  return new VerifyError('EG_VERIFY_USAGE', `Nitro reference values: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hexValue(value: unknown, name: string, maxBytes: number): string {
  if (typeof value !== 'string') throw usage(`${name} must be a hex string`);
  if (!HEX.test(value)) throw usage(`${name} is not an even-length hex string`);
  if (value.length / 2 > maxBytes) throw usage(`${name} is ${value.length / 2} bytes, limit ${maxBytes}`);
  return value.toLowerCase();
}

function parsePcrs(value: unknown): Record<string, readonly string[]> {
  if (!isPlainObject(value)) throw usage('pcrs must be an object of PCR index → array of hex values');
  const pcrs: Record<string, readonly string[]> = {};
  for (const [index, allowed] of Object.entries(value)) {
    if (!PCR_INDEX.test(index)) throw usage(`pcrs key "${index.slice(0, 40)}" is not a PCR index 0..31`);
    // An empty list can never match; it is almost certainly a mistake, so say so now.
    if (!Array.isArray(allowed) || allowed.length === 0) throw usage(`pcrs["${index}"] must be a non-empty array of hex values`);
    pcrs[index] = Object.freeze(
      allowed.map((v: unknown, i) => {
        const hex = hexValue(v, `pcrs["${index}"][${i}]`, 64);
        if (!PCR_HEX_LENGTHS.has(hex.length)) throw usage(`pcrs["${index}"][${i}] is ${hex.length / 2} bytes, expected 32, 48 or 64`);
        return hex;
      }),
    );
  }
  return pcrs;
}

/**
 * Validates reference values read from JSON and returns them frozen, with hex
 * lower-cased. Unknown keys, wrong types, malformed hex, PCR indexes outside
 * 0..31, empty allowlists and non-positive ages are refused with
 * `VerifyError` EG_VERIFY_USAGE.
 */
export function parseNitroReferenceValues(json: unknown): NitroReferenceValues {
  if (!isPlainObject(json)) throw usage('must be a JSON object');
  for (const key of Object.keys(json)) {
    if (!KEYS.has(key)) throw usage(`unknown key "${key.slice(0, 40)}"`);
  }
  const rv: {
    -readonly [K in keyof NitroReferenceValues]: NitroReferenceValues[K];
  } = {};
  if (json['pcrs'] !== undefined) rv.pcrs = Object.freeze(parsePcrs(json['pcrs']));
  if (json['allowDebug'] !== undefined) {
    if (typeof json['allowDebug'] !== 'boolean') throw usage('allowDebug must be a boolean');
    rv.allowDebug = json['allowDebug'];
  }
  if (json['expectedNonce'] !== undefined) rv.expectedNonce = hexValue(json['expectedNonce'], 'expectedNonce', 512);
  if (json['expectedUserData'] !== undefined) rv.expectedUserData = hexValue(json['expectedUserData'], 'expectedUserData', 512);
  if (json['expectedPublicKey'] !== undefined) rv.expectedPublicKey = hexValue(json['expectedPublicKey'], 'expectedPublicKey', 1024);
  if (json['maxAgeSeconds'] !== undefined) {
    const age = json['maxAgeSeconds'];
    if (typeof age !== 'number' || !Number.isFinite(age) || age <= 0) throw usage('maxAgeSeconds must be a positive number');
    rv.maxAgeSeconds = age;
  }
  return Object.freeze(rv);
}

/** Reads the Nitro claims back out of evidence that may have travelled as JSON. */
function nitroClaims(evidence: VerifiedEvidence): NitroClaims {
  if (evidence.platform !== 'nitro') throw new VerifyError('EG_VERIFY_USAGE', `appraiseNitro got ${evidence.platform} evidence`);
  const c = evidence.claims;
  const pcrs = c['pcrs'];
  const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
  if (
    typeof c['timestamp'] !== 'string' ||
    typeof pcrs !== 'object' ||
    pcrs === null ||
    !Object.values(pcrs).every((v) => typeof v === 'string') ||
    !optionalString(c['nonce']) ||
    !optionalString(c['userData']) ||
    !optionalString(c['publicKey'])
  ) {
    throw new VerifyError('EG_VERIFY_USAGE', 'appraiseNitro got evidence without Nitro claims (use verifyNitroDocument output)');
  }
  return c as unknown as NitroClaims;
}

function fail(ctx: VerifyContext, step: string, code: 'EG_VERIFY_DEBUG' | 'EG_VERIFY_REFERENCE_VALUES' | 'EG_VERIFY_BINDING', detail: string): never {
  ctx.transcript.fail(step, code, detail);
  throw new VerifyError(code, detail);
}

function checkBinding(
  ctx: VerifyContext,
  field: 'nonce' | 'user_data' | 'public_key',
  actual: string | undefined,
  expected: string | undefined,
): void {
  if (expected === undefined) return;
  const step = `nitro.appraise.${field}`;
  if (actual === undefined) fail(ctx, step, 'EG_VERIFY_BINDING', `document carries no ${field}, expected ${expected}`);
  if (actual.toLowerCase() !== expected.toLowerCase()) {
    fail(ctx, step, 'EG_VERIFY_BINDING', `${field} ${actual} does not equal the expected ${expected}`);
  }
  ctx.transcript.pass(step, `${field} equals the expected value`);
}

/**
 * Compares verified Nitro evidence with reference values at `ctx.at`; returns
 * normally when everything matches. Checks, in order: debug mode
 * (EG_VERIFY_DEBUG unless `allowDebug`), PCR allowlists
 * (EG_VERIFY_REFERENCE_VALUES), nonce / user_data / public_key
 * (EG_VERIFY_BINDING) and document age (EG_VERIFY_REFERENCE_VALUES when the
 * timestamp is more than `maxAgeSeconds` before ctx.at, or more than
 * {@link NITRO_FUTURE_SKEW_SECONDS} after it). Each check is a transcript step.
 */
export function appraiseNitro(evidence: VerifiedEvidence, rv: NitroReferenceValues, ctx: VerifyContext): void {
  const claims = nitroClaims(evidence);

  if (evidence.debug && rv.allowDebug !== true) {
    fail(ctx, 'nitro.appraise.debug', 'EG_VERIFY_DEBUG', 'PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode');
  }
  ctx.transcript.pass('nitro.appraise.debug', evidence.debug ? 'debug-mode enclave, allowed by the reference values' : 'not a debug-mode enclave');

  for (const [index, allowed] of Object.entries(rv.pcrs ?? {})) {
    const step = `nitro.appraise.pcr${index}`;
    const actual = claims.pcrs[index];
    if (actual === undefined) fail(ctx, step, 'EG_VERIFY_REFERENCE_VALUES', `document has no PCR${index}`);
    if (!allowed.some((v) => v.toLowerCase() === actual)) {
      fail(ctx, step, 'EG_VERIFY_REFERENCE_VALUES', `PCR${index} ${actual} is not one of the ${allowed.length} allowed values`);
    }
    ctx.transcript.pass(step, `PCR${index} matches an allowed value`);
  }

  checkBinding(ctx, 'nonce', claims.nonce, rv.expectedNonce);
  checkBinding(ctx, 'user_data', claims.userData, rv.expectedUserData);
  checkBinding(ctx, 'public_key', claims.publicKey, rv.expectedPublicKey);

  if (rv.maxAgeSeconds !== undefined) {
    const ageMs = ctx.at.getTime() - Date.parse(claims.timestamp);
    const ageText = `document timestamp ${claims.timestamp} at ${ctx.at.toISOString()}`;
    if (!Number.isFinite(ageMs) || ageMs > rv.maxAgeSeconds * 1000) {
      fail(ctx, 'nitro.appraise.age', 'EG_VERIFY_REFERENCE_VALUES', `${ageText} is older than ${rv.maxAgeSeconds} s`);
    }
    if (ageMs < -NITRO_FUTURE_SKEW_SECONDS * 1000) {
      fail(ctx, 'nitro.appraise.age', 'EG_VERIFY_REFERENCE_VALUES', `${ageText} lies more than ${NITRO_FUTURE_SKEW_SECONDS} s in the future`);
    }
    ctx.transcript.pass('nitro.appraise.age', `${ageText}: ${Math.round(ageMs / 1000)} s old, limit ${rv.maxAgeSeconds} s`);
  }
}
