/**
 * Real OPA bundles for the bundle/signature/lifecycle tests, built with the
 * pinned OPA CLI (`opa build -b -t wasm`, optionally `--signing-key`) from the
 * with-data fixture policy: the request decision allows exactly the paths in
 * `data.settings.paths`, so two bundles differ in which route they allow.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPABILITIES_FILE, PACKAGE_ROOT, defaultOpaPath } from '../../src/util/package-root.js';
import { readTarGz } from '../../src/policy/tar.js';
import { tarGz } from '../unit/policy/tar-writer.js';

const FIXTURE = join(PACKAGE_ROOT, 'test', 'unit', 'policy', 'fixtures', 'with-data');

/** A key pair in PEM, for --signing-key and policy.signing.keys. */
export interface TestKey {
  readonly privatePem: string;
  readonly publicPem: string;
  readonly privatePath: string;
  readonly publicPath: string;
}

export function scratchDir(prefix = 'eg-bundle-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Generates a signing key of the kind `algorithm` needs and writes it to `dir`. */
export function makeKey(dir: string, algorithm: 'ES256' | 'RS256' | 'EdDSA', name = 'key'): TestKey {
  const pair =
    algorithm === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : algorithm === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePath = join(dir, `${name}.key.pem`);
  const publicPath = join(dir, `${name}.pub.pem`);
  writeFileSync(privatePath, privatePem);
  writeFileSync(publicPath, publicPem);
  return { privatePem, publicPem, privatePath, publicPath };
}

export interface BuildOptions {
  /** Paths the request policy allows. */
  readonly paths: readonly string[];
  readonly revision?: string;
  readonly signingKey?: string;
  readonly signingAlg?: 'ES256' | 'RS256' | 'EdDSA';
  /** Written to a --claims-file (keyid, scope, …). */
  readonly claims?: Record<string, unknown>;
}

/** Builds a wasm bundle with the pinned OPA and returns its bytes. */
export function buildBundle(options: BuildOptions): Uint8Array {
  const dir = scratchDir('eg-src-');
  const src = join(dir, 'src');
  cpSync(FIXTURE, src, { recursive: true });
  writeFileSync(join(src, 'settings', 'data.json'), JSON.stringify({ paths: options.paths, reason: 'fixture' }));
  const out = join(dir, 'bundle.tar.gz');
  const args = [
    'build',
    '-b',
    '.',
    '-t',
    'wasm',
    '--capabilities',
    CAPABILITIES_FILE,
    '-e',
    'enclave_gate/request/decision',
    '-e',
    'enclave_gate/response/decision',
    '-o',
    out,
  ];
  if (options.revision !== undefined) args.push('--revision', options.revision);
  if (options.signingKey !== undefined) {
    args.push('--signing-key', options.signingKey, '--signing-alg', options.signingAlg ?? 'ES256');
    if (options.claims !== undefined) {
      const claims = join(dir, 'claims.json');
      writeFileSync(claims, JSON.stringify(options.claims));
      args.push('--claims-file', claims);
    }
  }
  execFileSync(defaultOpaPath(), args, { cwd: src, stdio: 'pipe' });
  return new Uint8Array(readFileSync(out));
}

/** Rewrites a bundle: `edit` gets the files (path → bytes) and returns the new set. */
export function rewriteBundle(bundle: Uint8Array, edit: (files: Map<string, Uint8Array>) => Map<string, Uint8Array>): Uint8Array {
  const files = edit(new Map(readTarGz(bundle)));
  return tarGz([...files].map(([name, data]) => ({ name, data })));
}
