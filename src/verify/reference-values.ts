/**
 * The reference-values document: one JSON object that says which evidence a
 * client accepts, across every platform. Common keys apply to all platforms;
 * each platform section is handed to that platform's own strict parser, so
 * a key means exactly what the platform's documentation says.
 *
 * Parsing is strict on purpose: a misspelt key that silently disables a
 * check ("measurement" for "measurements") is the failure this guards
 * against, so unknown keys, wrong types and empty allowlists are
 * EG_VERIFY_USAGE.
 */
import { VerifyError } from '../errors.js';
import { formatHashEntry, parseHashEntry } from '../wire/hash-entry.js';
import { parseAzureReferenceValues, type AzureReferenceValues } from './azure/index.js';
import { parseGpuReferenceValues, type GpuReferenceValues } from './nvidia/index.js';
import { parseIntelReferenceValues, type IntelReferenceValues } from './intel/index.js';
import { parseNitroReferenceValues, type NitroReferenceValues } from './nitro/index.js';
import { parseSnpReferenceValues, type SnpReferenceValues } from './sev-snp/index.js';

/** What a client accepts. Every key is optional; see docs/verify.md for the defaults. */
export interface ReferenceValues {
  /** Accept simulated evidence (development only). Default false → EG_VERIFY_SIMULATED. */
  readonly allowSimulated?: boolean;
  /** Accept debug TEEs on every platform (a platform section may override). Default false → EG_VERIFY_DEBUG. */
  readonly allowDebug?: boolean;
  /** Accepted policy bundle hashes, `sha-384:<hex>` (certificates only). */
  readonly policyHashes?: readonly string[];
  /** Accepted measurements (SNP MEASUREMENT, TDX MRTD, SGX MRENCLAVE, Nitro PCR0, simulated; on Azure the paravisor's SNP MEASUREMENT / MRTD), hex. */
  readonly measurements?: readonly string[];
  /** The nonce the evidence must carry, hex (certificates: the `nonce` claim; raw evidence: report data; Nitro: the document nonce). */
  readonly expectedNonce?: string;
  /** SEV-SNP section (see parseSnpReferenceValues). */
  readonly 'sev-snp'?: SnpReferenceValues;
  /** TDX section (see parseIntelReferenceValues). */
  readonly tdx?: IntelReferenceValues;
  /** SGX section (see parseIntelReferenceValues). */
  readonly sgx?: IntelReferenceValues;
  /** Nitro section (see parseNitroReferenceValues). */
  readonly nitro?: NitroReferenceValues;
  /** Azure vTPM section: PCR allowlists (see parseAzureReferenceValues); the hardware part uses "sev-snp" / "tdx". */
  readonly azure?: AzureReferenceValues;
  /** NVIDIA GPU section: measurement allowlists (RIM-derived) and driver versions (see parseGpuReferenceValues). */
  readonly nvidia?: GpuReferenceValues;
  /**
   * Certificates: require GPU evidence beside the CPU evidence (a CMW
   * collection with at least this many GPUs). A server without it fails.
   */
  readonly requireGpus?: number;
}

/** Platform sections, by platform; `simulated` has none. */
export type PlatformSection = 'sev-snp' | 'tdx' | 'sgx' | 'nitro' | 'azure' | 'nvidia';

const COMMON_KEYS = ['allowSimulated', 'allowDebug', 'policyHashes', 'measurements', 'expectedNonce', 'requireGpus'] as const;
const SECTION_KEYS: readonly PlatformSection[] = ['sev-snp', 'tdx', 'sgx', 'nitro', 'azure', 'nvidia'];
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([...COMMON_KEYS, ...SECTION_KEYS]);

/** Measurements are 32 (SGX), 48 (SNP, TDX, Nitro, simulated) or 64 bytes. */
const MEASUREMENT_HEX = /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/;
const NONCE_HEX = /^(?:[0-9a-fA-F]{2}){1,512}$/;

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', `reference values: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function nonEmptyStrings(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) usage(`${key} must be an array of strings`);
  // An empty allowlist accepts nothing; it is a mistake, and "omit it" is the way to skip the check.
  if (value.length === 0) usage(`${key} is empty, which would reject all evidence; omit it to skip the check`);
  return value as string[];
}

/**
 * Validates a reference-values document and returns a frozen, normalised copy
 * (hex lower-cased, hash entries re-rendered). Accepts the JSON text or the
 * already-parsed value; parsing a parsed document again gives the same result.
 *
 * @throws VerifyError EG_VERIFY_USAGE for invalid JSON, unknown keys, wrong
 *   types, malformed hex or hashes, empty allowlists, or an invalid section.
 */
export function parseReferenceValues(input: unknown): ReferenceValues {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (cause) {
      throw new VerifyError('EG_VERIFY_USAGE', `reference values are not valid JSON: ${(cause as Error).message}`, { cause });
    }
  }
  if (!isPlainObject(json)) usage('must be a JSON object');
  for (const key of Object.keys(json)) {
    if (!KNOWN_KEYS.has(key)) usage(`unknown key "${key.slice(0, 40)}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const out: { -readonly [K in keyof ReferenceValues]: ReferenceValues[K] } = {};
  for (const key of ['allowSimulated', 'allowDebug'] as const) {
    const v = json[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') usage(`${key} must be a boolean`);
    out[key] = v;
  }
  if (json['policyHashes'] !== undefined) {
    out.policyHashes = Object.freeze(
      nonEmptyStrings(json['policyHashes'], 'policyHashes').map((text, i) => {
        try {
          return formatHashEntry(parseHashEntry(text));
        } catch (cause) {
          throw new VerifyError('EG_VERIFY_USAGE', `reference values: policyHashes[${i}] ${(cause as Error).message}`, { cause });
        }
      }),
    );
  }
  if (json['measurements'] !== undefined) {
    out.measurements = Object.freeze(
      nonEmptyStrings(json['measurements'], 'measurements').map((m, i) => {
        if (!MEASUREMENT_HEX.test(m)) usage(`measurements[${i}] must be 32, 48 or 64 bytes of hex`);
        return m.toLowerCase();
      }),
    );
  }
  if (json['expectedNonce'] !== undefined) {
    const nonce = json['expectedNonce'];
    if (typeof nonce !== 'string' || !NONCE_HEX.test(nonce)) usage('expectedNonce must be 1 to 512 bytes of hex');
    out.expectedNonce = nonce.toLowerCase();
  }
  // Each platform parser raises its own EG_VERIFY_USAGE naming the section's key.
  if (json['sev-snp'] !== undefined) out['sev-snp'] = section('sev-snp', () => parseSnpReferenceValues(json['sev-snp']));
  if (json['tdx'] !== undefined) out.tdx = section('tdx', () => parseIntelReferenceValues(json['tdx']));
  if (json['sgx'] !== undefined) out.sgx = section('sgx', () => parseIntelReferenceValues(json['sgx']));
  if (json['nitro'] !== undefined) out.nitro = section('nitro', () => parseNitroReferenceValues(json['nitro']));
  if (json['nvidia'] !== undefined) out.nvidia = section('nvidia', () => parseGpuReferenceValues(json['nvidia']));
  if (json['requireGpus'] !== undefined) {
    const n = json['requireGpus'];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 8) usage('requireGpus must be an integer 1..8');
    out.requireGpus = n;
  }
  if (json['azure'] !== undefined) out.azure = section('azure', () => parseAzureReferenceValues(json['azure']));
  return Object.freeze(out);
}

/** Runs a section parser and names the section in its error message. */
function section<T>(name: PlatformSection, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof VerifyError) {
      throw new VerifyError('EG_VERIFY_USAGE', `reference values "${name}": ${error.message}`, { cause: error });
    }
    throw error;
  }
}
