/**
 * OPA bundle contents: what a wasm bundle's files mean (`/.manifest`, the
 * wasm module, `data.json` files) and the bundle digest the RA-TLS evidence
 * binds. Reading the archive itself is tar.ts's job.
 */
import { createHash } from 'node:crypto';

import { EnclaveGateError } from '../errors.js';
import { normalizeArchivePath, type ArchiveFiles } from './tar.js';

/** The policy-hash bound into the RA-TLS evidence (see {@link bundleDigest}). */
export interface PolicyDigest {
  readonly alg: 'sha-384';
  /** Lower-case hex of `bytes`. */
  readonly hex: string;
  /** The 48-byte SHA-384 value. */
  readonly bytes: Uint8Array;
}

/** What the engine needs from a bundle. */
export interface BundleContents {
  /** `.manifest` revision; "" when the bundle has none. */
  readonly revision: string;
  /** The wasm module that implements the requested entrypoints. */
  readonly wasm: Uint8Array;
  /** Every `data.json` merged into one document, as `data` in Rego. */
  readonly data: Record<string, unknown>;
  /**
   * `.manifest` metadata.enclave_gate, written by our own build
   * (compile.ts): e.g. the input members the Rego reads. Undefined for a
   * bundle built by other tooling.
   */
  readonly buildMetadata?: unknown;
}

/** The bundle signature file, which signs the other files and so is outside the digest. */
const SIGNATURES_PATH = '/.signatures.json';
const MANIFEST_PATH = '/.manifest';
/** Where `opa build` puts the module when the manifest does not say. */
const DEFAULT_WASM_PATH = '/policy.wasm';

function fail(message: string, cause?: unknown): never {
  throw new EnclaveGateError('EG_POLICY_LOAD_FAILED', `policy bundle: ${message}`, {
    cause,
    details: { stage: 'bundle' },
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(path: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    fail(`${path} is not valid JSON`, err);
  }
}

/**
 * SHA-384 over a canonical listing of the bundle's files, so the digest
 * depends on file contents and names only, never on gzip or tar metadata
 * (timestamps, ordering, compression level).
 *
 * The listing has one line per file, except `/.signatures.json` (it signs the
 * others, and a re-signed bundle is the same policy):
 *
 *     <lower-case hex SHA-256 of the file content>␠␠<path>\n
 *
 * with `<path>` in the normalised form the tar reader produces ("/policy.wasm",
 * "/enclave_gate/lib/lib.rego": leading "/", no "." or ".." segments), lines
 * sorted by the UTF-8 bytes of the path. The digest is the SHA-384 of the
 * UTF-8 listing. A verifier holding the bundle recomputes it with
 * `tar -xzf` and `sha256sum`, which prints the same line format.
 */
export function bundleDigest(files: Iterable<readonly [string, Uint8Array]>): PolicyDigest {
  const lines: Array<{ key: Buffer; line: string }> = [];
  for (const [rawPath, content] of files) {
    const path = normalizeArchivePath(rawPath);
    if (path === SIGNATURES_PATH) continue;
    const hash = createHash('sha256').update(content).digest('hex');
    lines.push({ key: Buffer.from(path, 'utf8'), line: `${hash}  ${path}\n` });
  }
  lines.sort((a, b) => Buffer.compare(a.key, b.key));
  const bytes = createHash('sha384')
    .update(lines.map((l) => l.line).join(''), 'utf8')
    .digest();
  return Object.freeze({ alg: 'sha-384', hex: bytes.toString('hex'), bytes: new Uint8Array(bytes) });
}

/** Reads `.manifest`: the revision and the module named for each entrypoint. */
function readManifest(files: ArchiveFiles): { revision: string; modules: Map<string, string>; buildMetadata?: unknown } {
  const bytes = files.get(MANIFEST_PATH);
  const modules = new Map<string, string>();
  if (bytes === undefined) return { revision: '', modules };
  const manifest = parseJson(MANIFEST_PATH, bytes);
  if (!isRecord(manifest)) fail('.manifest is not a JSON object');
  const { revision = '', wasm = [] } = manifest;
  if (typeof revision !== 'string') fail('.manifest revision is not a string');
  if (!Array.isArray(wasm)) fail('.manifest wasm is not an array');
  for (const entry of wasm) {
    if (!isRecord(entry) || typeof entry.entrypoint !== 'string' || typeof entry.module !== 'string') {
      fail('.manifest wasm entries must be {entrypoint, module} strings');
    }
    modules.set(entry.entrypoint, normalizeArchivePath(entry.module));
  }
  const metadata = manifest['metadata'];
  const buildMetadata = isRecord(metadata) ? metadata['enclave_gate'] : undefined;
  return buildMetadata === undefined ? { revision, modules } : { revision, modules, buildMetadata };
}

/** Places `value` at `segments` inside `target`, merging objects; conflicts fail. */
function mergeAt(target: Record<string, unknown>, segments: readonly string[], value: unknown, path: string): void {
  let node = target;
  for (const segment of segments) {
    const child = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (child === undefined) {
      // defineProperty, not assignment: a "__proto__" key must stay plain data.
      Object.defineProperty(node, segment, { value: {}, enumerable: true, writable: true, configurable: true });
    } else if (!isRecord(child)) {
      fail(`${path} conflicts with other data at the same place`);
    }
    node = node[segment] as Record<string, unknown>;
  }
  if (!isRecord(value)) fail(`${path} does not hold a JSON object`);
  for (const [key, child] of Object.entries(value)) {
    if (!Object.hasOwn(node, key)) {
      Object.defineProperty(node, key, { value: child, enumerable: true, writable: true, configurable: true });
    } else if (isRecord(node[key]) && isRecord(child)) {
      mergeAt(node, [key], child, path);
    } else {
      fail(`${path} conflicts with other data at the same place`);
    }
  }
}

/**
 * Interprets a bundle's files: picks the wasm module that implements every
 * entrypoint in `entrypoints`, merges the data files and reads the revision.
 * YAML data is refused rather than ignored, since ignoring data would change
 * what the policy decides.
 */
export function readBundle(files: ArchiveFiles, entrypoints: readonly string[]): BundleContents {
  const { revision, modules, buildMetadata } = readManifest(files);
  let modulePath = DEFAULT_WASM_PATH;
  if (modules.size > 0) {
    const named = new Set<string>();
    for (const entrypoint of entrypoints) {
      const module = modules.get(entrypoint);
      if (module === undefined) fail(`.manifest names no wasm module for entrypoint ${entrypoint}`);
      named.add(module);
    }
    if (named.size > 1) fail('the entrypoints are spread over several wasm modules; one module must hold them all');
    [modulePath = DEFAULT_WASM_PATH] = named;
  }
  const wasm = files.get(modulePath);
  if (wasm === undefined) fail(`${modulePath} is missing (is this a wasm bundle? build with opa build -t wasm)`);

  const data: Record<string, unknown> = {};
  for (const [path, bytes] of files) {
    const segments = path.split('/').slice(1);
    const name = segments.pop();
    if (name === 'data.yaml' || name === 'data.yml') fail(`${path}: YAML data files are not supported`);
    if (name !== 'data.json') continue;
    mergeAt(data, segments, parseJson(path, bytes), path);
  }
  return buildMetadata === undefined ? { revision, wasm, data } : { revision, wasm, data, buildMetadata };
}
