/**
 * Verification of OPA bundle signatures (`/.signatures.json`), following OPA's
 * format and rules (docs/content/management-bundles.md, "Signing"), so that
 * `opa build --signing-key` and `opa sign` produce bundles this proxy accepts:
 *
 *     /.signatures.json = {"signatures": ["<JWS compact serialisation>"]}
 *     JWS payload        = {"files": [{"name", "hash", "algorithm"}], "keyid"?, "scope"?}
 *
 * Before a bundle is activated:
 *  1. exactly one signature; the key is the configured one named by the JWS
 *     header `kid`, else the payload `keyid`, else the only configured key;
 *  2. the JWS verifies with that key and the key's configured algorithm
 *     (the header `alg` must be that algorithm: no algorithm confusion);
 *  3. `scope` equals the configured scope when one is configured;
 *  4. the file list matches the bundle exactly (every file but
 *     `/.signatures.json` listed once, no listed file missing);
 *  5. every hash matches. As in OPA, `data.json` files and `/.manifest` are
 *     hashed over a canonical JSON form (object keys sorted, no whitespace,
 *     number literals as written), every other file over its raw bytes.
 *
 * A bundle that carries a signature while no key is configured is refused, as
 * OPA does: a signature that nobody checks would only look like protection.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { compactVerify, decodeProtectedHeader, importSPKI, type CryptoKey, type KeyObject } from 'jose';

import { EnclaveGateError } from '../errors.js';
import { normalizeArchivePath, type ArchiveFiles } from './tar.js';

/** JWS algorithms accepted for bundle signatures. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A verification key as configured (`policy.signing.keys[]`). */
export interface SigningKeyConfig {
  readonly keyid: string;
  readonly algorithm: SigningAlgorithm;
  /** PEM (SPKI "PUBLIC KEY") text, or the path of a file holding it. */
  readonly publicKey: string;
}

/** Why a signature check failed; also the `stage`-level detail of the error. */
export type SignatureFailure =
  | 'unsigned'
  | 'unexpected-signature'
  | 'malformed'
  | 'unknown-key'
  | 'bad-signature'
  | 'scope'
  | 'file-list'
  | 'hash';

/** Keys imported once, ready to verify bundles. */
export interface BundleVerifier {
  readonly keyids: readonly string[];
  /** Throws EG_POLICY_LOAD_FAILED (details.stage 'signature', details.reason) unless the bundle is signed correctly. */
  verify(files: ArchiveFiles): Promise<{ keyid: string; scope?: string } | undefined>;
}

export const SIGNATURES_PATH = '/.signatures.json';
const HASHES: Readonly<Record<string, string>> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

function fail(reason: SignatureFailure, message: string, cause?: unknown): never {
  throw new EnclaveGateError('EG_POLICY_LOAD_FAILED', `policy bundle signature: ${message}`, {
    cause,
    details: { stage: 'signature', reason },
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A name as it may appear in a message: quoted and capped. */
function show(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}

/** Reads `publicKey` when it names a file rather than holding PEM text. */
export async function resolvePublicKey(publicKey: string): Promise<string> {
  if (publicKey.includes('-----BEGIN')) return publicKey;
  try {
    return await readFile(publicKey, 'utf8');
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `policy.signing: public key file ${publicKey} cannot be read`, { cause });
  }
}

/**
 * Imports the configured keys. Throws EG_CONFIG_INVALID on a bad or duplicate
 * key. With no keys, the verifier accepts unsigned bundles and refuses signed ones.
 */
export async function createBundleVerifier(options: { keys: readonly SigningKeyConfig[]; scope?: string }): Promise<BundleVerifier> {
  const keys = new Map<string, { algorithm: SigningAlgorithm; key: CryptoKey | KeyObject }>();
  for (const config of options.keys) {
    if (keys.has(config.keyid)) throw new EnclaveGateError('EG_CONFIG_INVALID', `policy.signing: keyid ${show(config.keyid)} is configured twice`);
    const pem = await resolvePublicKey(config.publicKey);
    let key: CryptoKey | KeyObject;
    try {
      key = await importSPKI(pem, config.algorithm);
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `policy.signing: key ${show(config.keyid)} is not a ${config.algorithm} SPKI public key`, { cause });
    }
    keys.set(config.keyid, { algorithm: config.algorithm, key });
  }
  const scope = options.scope;
  return {
    keyids: [...keys.keys()],
    verify: async (files) => verifyWith(files, keys, scope),
  };
}

function decodeSegment(segment: string | undefined): unknown {
  if (segment === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

async function verifyWith(
  files: ArchiveFiles,
  keys: ReadonlyMap<string, { algorithm: SigningAlgorithm; key: CryptoKey | KeyObject }>,
  scope: string | undefined,
): Promise<{ keyid: string; scope?: string } | undefined> {
  const signatureFile = files.get(SIGNATURES_PATH);
  if (keys.size === 0) {
    // No keys: unsigned bundles are accepted, signed ones refused (as OPA does).
    if (signatureFile !== undefined) fail('unexpected-signature', 'the bundle is signed but no policy.signing.keys are configured to verify it');
    return undefined;
  }
  if (signatureFile === undefined) fail('unsigned', `${SIGNATURES_PATH} is missing and signatures are required`);

  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signatureFile));
  } catch (cause) {
    fail('malformed', `${SIGNATURES_PATH} is not valid JSON`, cause);
  }
  if (!isRecord(document) || !Array.isArray(document.signatures)) fail('malformed', `${SIGNATURES_PATH} must be {"signatures": [JWS]}`);
  if (document.signatures.length !== 1) fail('malformed', `${SIGNATURES_PATH} must hold exactly one signature (found ${document.signatures.length})`);
  const jws: unknown = document.signatures[0];
  if (typeof jws !== 'string' || jws.split('.').length !== 3) fail('malformed', 'the signature is not a JWS in compact serialisation');

  // Choose the key before verifying: header kid, else payload keyid, else the only key.
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws) as Record<string, unknown>;
  } catch (cause) {
    fail('malformed', 'the JWS header cannot be decoded', cause);
  }
  const unverified = decodeSegment(jws.split('.')[1]);
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const payloadKeyid = isRecord(unverified) && typeof unverified.keyid === 'string' ? unverified.keyid : undefined;
  if (kid !== undefined && payloadKeyid !== undefined && kid !== payloadKeyid) {
    fail('malformed', `the JWS header kid ${show(kid)} and the payload keyid ${show(payloadKeyid)} differ`);
  }
  let keyid = kid ?? payloadKeyid;
  if (keyid === undefined) {
    if (keys.size !== 1) fail('unknown-key', 'the signature names no key (kid/keyid) and several keys are configured');
    [keyid] = keys.keys() as Iterable<string> as [string];
  }
  const entry = keys.get(keyid);
  if (entry === undefined) fail('unknown-key', `the signature names key ${show(keyid)}, which is not configured`);

  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws, entry.key, { algorithms: [entry.algorithm] }));
  } catch (cause) {
    const alg = typeof header.alg === 'string' ? header.alg : '?';
    fail('bad-signature', `the JWS does not verify with key ${show(keyid)} (${entry.algorithm}; header alg ${show(alg)})`, cause);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch (cause) {
    fail('malformed', 'the signed payload is not JSON', cause);
  }
  if (!isRecord(payload) || !Array.isArray(payload.files)) fail('malformed', 'the signed payload has no files list');
  const signedScope = typeof payload.scope === 'string' ? payload.scope : undefined;
  if (scope !== undefined && signedScope !== scope) {
    fail('scope', `the signature's scope ${signedScope === undefined ? '(none)' : show(signedScope)} is not the configured scope ${show(scope)}`);
  }

  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const file of payload.files) {
    if (!isRecord(file) || typeof file.name !== 'string' || typeof file.hash !== 'string' || typeof file.algorithm !== 'string') {
      fail('malformed', 'every signed file entry must be {name, hash, algorithm} strings');
    }
    let name: string;
    try {
      name = normalizeArchivePath(file.name);
    } catch (cause) {
      fail('malformed', `signed file name ${show(file.name)} is not a valid bundle path`, cause);
    }
    if (listed.has(name)) fail('file-list', `${show(name)} is listed twice`);
    if (HASHES[file.algorithm] === undefined) fail('malformed', `hash algorithm ${show(file.algorithm)} is not supported (SHA-256, SHA-384, SHA-512)`);
    listed.set(name, { hash: file.hash.toLowerCase(), algorithm: file.algorithm });
  }
  for (const name of files.keys()) {
    if (name !== SIGNATURES_PATH && !listed.has(name)) fail('file-list', `${show(name)} is in the bundle but not signed`);
  }
  for (const [name, { hash, algorithm }] of listed) {
    if (name === SIGNATURES_PATH) fail('file-list', `${SIGNATURES_PATH} must not be listed`);
    const content = files.get(name);
    if (content === undefined) fail('file-list', `${show(name)} is signed but missing from the bundle`);
    if (fileHash(name, content, algorithm) !== hash) fail('hash', `${show(name)} does not match its signed hash`);
  }
  return { keyid, ...(signedScope === undefined ? {} : { scope: signedScope }) };
}

/** Whether OPA hashes `path` over canonical JSON rather than raw bytes. */
export function isStructuredFile(path: string): boolean {
  return path === '/.manifest' || path.endsWith('/data.json');
}

/** The hex hash OPA records for a bundle file. */
export function fileHash(path: string, content: Uint8Array, algorithm = 'SHA-256'): string {
  const name = HASHES[algorithm];
  if (name === undefined) throw new EnclaveGateError('EG_INTERNAL', `unsupported hash ${algorithm}`);
  const input = isStructuredFile(path) ? Buffer.from(canonicalJson(content), 'utf8') : content;
  return createHash(name).update(input).digest('hex');
}

// ---------------------------------------------------------------------------
// Canonical JSON as OPA writes it for hashing (Go encoding/json with
// SetEscapeHTML(false), maps with sorted keys, json.Number literals kept).
// A small parser of its own rather than JSON.parse, because JSON.parse turns
// `1.0` into 1 and OPA hashes the literal "1.0".
// ---------------------------------------------------------------------------

class CanonicalParser {
  #i = 0;
  constructor(private readonly text: string) {}

  document(): string {
    this.#ws();
    const value = this.#value(0);
    this.#ws();
    if (this.#i !== this.text.length) this.#fail('trailing characters');
    return value;
  }

  #fail(what: string): never {
    fail('hash', `a structured file is not valid JSON (${what} at offset ${this.#i})`);
  }

  #ws(): void {
    while (this.#i < this.text.length && ' \t\n\r'.includes(this.text[this.#i]!)) this.#i++;
  }

  #value(depth: number): string {
    if (depth > 512) this.#fail('nesting too deep');
    const c = this.text[this.#i];
    if (c === '{') return this.#object(depth);
    if (c === '[') return this.#array(depth);
    if (c === '"') return encodeString(this.#string());
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.#i)) {
        this.#i += word.length;
        return word;
      }
    }
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.#i, this.#i + 400));
    if (match === null || match[0] === '') this.#fail('unexpected character');
    this.#i += match[0].length;
    return match[0];
  }

  #object(depth: number): string {
    this.#i++;
    const members = new Map<string, string>();
    this.#ws();
    if (this.text[this.#i] === '}') {
      this.#i++;
      return '{}';
    }
    for (;;) {
      this.#ws();
      if (this.text[this.#i] !== '"') this.#fail('expected a key');
      const key = this.#string();
      this.#ws();
      if (this.text[this.#i] !== ':') this.#fail("expected ':'");
      this.#i++;
      this.#ws();
      members.set(key, this.#value(depth + 1)); // a repeated key keeps the last value, as in Go
      this.#ws();
      const c = this.text[this.#i++];
      if (c === '}') break;
      if (c !== ',') this.#fail("expected ',' or '}'");
    }
    const keys = [...members.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    return `{${keys.map((k) => `${encodeString(k)}:${members.get(k)!}`).join(',')}}`;
  }

  #array(depth: number): string {
    this.#i++;
    const items: string[] = [];
    this.#ws();
    if (this.text[this.#i] === ']') {
      this.#i++;
      return '[]';
    }
    for (;;) {
      this.#ws();
      items.push(this.#value(depth + 1));
      this.#ws();
      const c = this.text[this.#i++];
      if (c === ']') break;
      if (c !== ',') this.#fail("expected ',' or ']'");
    }
    return `[${items.join(',')}]`;
  }

  #string(): string {
    const start = this.#i;
    this.#i++;
    for (;;) {
      const c = this.text[this.#i];
      if (c === undefined) this.#fail('unterminated string');
      if (c === '"') break;
      if (c === '\\') this.#i++;
      else if (c.charCodeAt(0) < 0x20) this.#fail('control character in string');
      this.#i++;
    }
    this.#i++;
    try {
      return JSON.parse(this.text.slice(start, this.#i)) as string;
    } catch {
      this.#fail('bad escape in string');
    }
  }
}

/** A string as Go's encoder writes it with HTML escaping off. */
function encodeString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16)}`;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += ch + value[i + 1]!;
        i++;
      } else out += '\ufffd';
    } else if (code >= 0xdc00 && code <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

/** Canonical JSON text of a structured bundle file (throws on invalid JSON). */
export function canonicalJson(content: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch (cause) {
    fail('hash', 'a structured file is not valid UTF-8', cause);
  }
  return new CanonicalParser(text).document();
}
