/**
 * Who is calling (docs/identity.md): client certificates from CAs the
 * operator pinned, bearer JWTs verified against a JWKS, and API keys stored
 * as SHA-256 hashes. The pipeline asks `identify` once per request, after
 * admission and before the body is read, and `buildRequestInput` (input.ts)
 * merges the result into `input.peer`.
 *
 * A credential that is presented but does not verify is refused here with
 * 401 EG_UNAUTHENTICATED: it never becomes a policy input, so a policy cannot
 * mistake a forged token's claims for an identity. Which credentials are
 * required is configuration (`identity.require`); the rest are optional and
 * the policy decides what their absence means.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, jwtVerify, type JWTVerifyGetKey, type JSONWebKeySet, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { EnclaveGateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { PeerApiKey, PeerCertificate } from '../policy/input.js';
import { deepFreeze } from '../util/deep-freeze.js';

/** The credential kinds `identity.require` can list. */
export type CredentialKind = 'certificate' | 'jwt' | 'api_key';

/** `identity.jwt` as the configuration schema gives it. */
export interface JwtConfig {
  readonly jwks: string;
  readonly issuer: string | readonly string[];
  readonly audience: string | readonly string[];
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly jwksCacheSeconds: number;
  readonly jwksCooldownSeconds: number;
  readonly jwksTimeoutMs: number;
  readonly jwksCa?: string | undefined;
}

/** `identity` plus `tls.clientCAs`, as the configuration schema gives them. */
export interface IdentityConfig {
  readonly require: readonly CredentialKind[];
  readonly clientCAs: readonly string[];
  readonly jwt?: JwtConfig | undefined;
  readonly apiKeys?: { readonly header: string; readonly keys: readonly { readonly id: string; readonly sha256: string }[] } | undefined;
}

/** What the proxy learnt about the caller; merged into `input.peer`. */
export interface CallerIdentity {
  readonly certificate?: PeerCertificate;
  readonly jwt?: Readonly<Record<string, unknown>>;
  readonly api_key?: PeerApiKey;
}

/** The outcome of `identify`: an identity, or the refusal the client gets. */
export type IdentifyOutcome =
  | { readonly caller: CallerIdentity }
  | { readonly error: EnclaveGateError; readonly reasons: readonly string[]; readonly headers?: Readonly<Record<string, string>> };

/** Reads a PEM given inline or as a file path. */
function pemOf(value: string, what: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `${what}: cannot read ${value} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
}

/** Reads `tls.clientCAs` into PEM strings for the TLS server's `ca` option; throws EG_CONFIG_INVALID on anything unreadable. */
export function loadClientCAs(values: readonly string[]): string[] {
  return values.map((value, i) => {
    const pem = pemOf(value, `tls.clientCAs[${i}]`);
    try {
      new X509Certificate(pem);
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `tls.clientCAs[${i}] is not a PEM certificate`, { cause });
    }
    return pem;
  });
}

/** "C=CH\nO=Bank A\nCN=x" (node's rendering) → "C=CH,O=Bank A,CN=x", and the attribute values by name. */
function distinguishedName(text: string): { dn: string; attrs: Map<string, string> } {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const attrs = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0 && !attrs.has(line.slice(0, eq))) attrs.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { dn: lines.join(','), attrs };
}

/** Splits node's `subjectAltName` text ("DNS:a, IP Address:1.2.3.4, URI:spiffe://x") by kind. */
function subjectAltNames(text: string | undefined): PeerCertificate['sans'] {
  const sans = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
  if (text === undefined) return sans;
  // Node quotes entries that contain ", " as JSON strings, so split on the separator only outside quotes.
  for (const raw of text.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    const kind = entry.slice(0, colon);
    if (kind === 'DNS') sans.dns.push(value);
    else if (kind === 'IP Address') sans.ip.push(value.toLowerCase());
    else if (kind === 'URI') sans.uri.push(value);
    else if (kind === 'email') sans.email.push(value);
  }
  return sans;
}

/** What the policy sees of a certificate (DER). */
export function certificateIdentity(der: Buffer): PeerCertificate {
  const cert = new X509Certificate(der);
  const subject = distinguishedName(cert.subject);
  // Frozen all the way down: shared by every request on the connection (certificateOf), never copied.
  return deepFreeze({
    subject: subject.dn,
    common_name: subject.attrs.get('CN') ?? null,
    organization: subject.attrs.get('O') ?? null,
    issuer: distinguishedName(cert.issuer).dn,
    sans: subjectAltNames(cert.subjectAltName),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    serial: cert.serialNumber,
    not_before: new Date(cert.validFrom).toISOString(),
    not_after: new Date(cert.validTo).toISOString(),
  });
}

/** Per-socket certificate outcome: computed once per TLS connection. */
type CertificateState = { readonly identity: PeerCertificate } | 'untrusted' | 'none';
const certificateBySocket = new WeakMap<object, CertificateState>();

function certificateOf(socket: TLSSocket): CertificateState {
  const known = certificateBySocket.get(socket);
  if (known !== undefined) return known;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  const raw = (peer as { raw?: Buffer } | undefined)?.raw;
  let state: CertificateState;
  if (raw === undefined || raw.length === 0) state = 'none';
  // `authorized` is node's chain check against the server's `ca` (the pinned
  // client CAs only), made during the handshake even though unauthorised
  // certificates are let through for mutual RA-TLS.
  else if (socket.authorized !== true) state = 'untrusted';
  else state = { identity: certificateIdentity(raw) };
  certificateBySocket.set(socket, state);
  return state;
}

/** A refusal of the identify stage; `reasons` names what failed, never the credential. */
class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly code: 'EG_UNAUTHENTICATED' | 'EG_NOT_READY' = 'EG_UNAUTHENTICATED',
  ) {
    super(reason);
  }
}

/** jose error code → the stable reason a 401 carries. */
function jwtReason(err: unknown): Refusal {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new Refusal('jwt_expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: string }).claim;
      return new Refusal(`jwt_claim_invalid:${typeof claim === 'string' && /^[a-z_]{1,16}$/.test(claim) ? claim : 'unknown'}`);
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new Refusal('jwt_algorithm_not_allowed');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new Refusal('jwt_key_unknown');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new Refusal('jwt_signature_invalid');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new Refusal('jwks_unavailable', 'EG_NOT_READY');
    default:
      // A failed JWKS fetch surfaces as a plain (non-jose) error.
      if (code === undefined || !code.startsWith('ERR_J')) return new Refusal('jwks_unavailable', 'EG_NOT_READY');
      return new Refusal('jwt_malformed');
  }
}

/** Verified tokens are remembered this long at most (and never past their `exp`). */
const TOKEN_CACHE_MS = 60_000;
const TOKEN_CACHE_SIZE = 1024;

/** Verifies bearer JWTs against a JWKS file or HTTPS URL. */
export class JwtVerifier {
  readonly #config: JwtConfig;
  readonly #getKey: JWTVerifyGetKey;
  readonly #cache = new Map<string, { claims: Readonly<Record<string, unknown>>; until: number }>();
  readonly #now: () => number;
  #fileKeys: ReturnType<typeof createLocalJWKSet> | undefined;
  #fileMtime = 0;
  #fileReadAt = 0;
  /** JWKS file reads (start-up included); tests watch rotation with it. */
  fileReads = 0;

  constructor(config: JwtConfig, options: { readonly now?: () => number } = {}) {
    this.#config = config;
    this.#now = options.now ?? Date.now;
    if (/^https:\/\//i.test(config.jwks)) {
      const ca = config.jwksCa === undefined ? undefined : pemOf(config.jwksCa, 'identity.jwt.jwksCa');
      const dispatcher = ca === undefined ? undefined : new Agent({ connect: { ca } });
      this.#getKey = createRemoteJWKSet(new URL(config.jwks), {
        cacheMaxAge: config.jwksCacheSeconds * 1000,
        cooldownDuration: config.jwksCooldownSeconds * 1000,
        timeoutDuration: config.jwksTimeoutMs,
        ...(dispatcher === undefined
          ? {}
          : { [customFetch]: (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response> }),
      });
    } else {
      this.#fileKeys = createLocalJWKSet(this.#readFileSync());
      this.#getKey = (header, token) => this.#fromFile(header, token);
    }
  }

  #readFileSync(): JSONWebKeySet {
    this.fileReads += 1;
    this.#fileReadAt = this.#now();
    try {
      return JSON.parse(readFileSync(this.#config.jwks, 'utf8')) as JSONWebKeySet;
    } catch (cause) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', `identity.jwt.jwks: cannot read a JWKS from ${this.#config.jwks}`, { cause });
    }
  }

  /**
   * Keys from the file; the file is read again when it changed and either the
   * cache age passed or a token names a key it does not hold (rotation),
   * at most once per cooldown.
   */
  async #fromFile(header: Parameters<JWTVerifyGetKey>[0], token: Parameters<JWTVerifyGetKey>[1]): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    const stale = this.#now() - this.#fileReadAt > this.#config.jwksCacheSeconds * 1000;
    if (stale) await this.#reloadFile();
    try {
      return await this.#fileKeys!(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      if (this.#now() - this.#fileReadAt < this.#config.jwksCooldownSeconds * 1000 || !(await this.#reloadFile())) throw err;
      return this.#fileKeys!(header, token);
    }
  }

  /** Re-reads the file if its mtime moved; true when new keys were loaded. A broken file keeps the old keys. */
  async #reloadFile(): Promise<boolean> {
    this.#fileReadAt = this.#now();
    try {
      const info = await stat(this.#config.jwks);
      if (info.mtimeMs === this.#fileMtime) return false;
      const keys = JSON.parse(await readFile(this.#config.jwks, 'utf8')) as JSONWebKeySet;
      this.#fileKeys = createLocalJWKSet(keys);
      this.#fileMtime = info.mtimeMs;
      this.fileReads += 1;
      return true;
    } catch {
      return false;
    }
  }

  /** Verifies a compact JWT; resolves with its claims or rejects with a Refusal. */
  async verify(token: string): Promise<Readonly<Record<string, unknown>>> {
    const now = this.#now();
    const cached = this.#cache.get(token);
    if (cached !== undefined && cached.until > now) return cached.claims;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#getKey, {
        issuer: this.#config.issuer as string | string[],
        audience: this.#config.audience as string | string[],
        algorithms: [...this.#config.algorithms],
        clockTolerance: this.#config.clockToleranceSeconds,
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw jwtReason(err);
    }
    // JSON-only and frozen all the way down: it crosses into wasm and into the decision log as is,
    // shared by every request with this token while it is cached.
    const claims = deepFreeze(JSON.parse(JSON.stringify(payload)) as Record<string, unknown>);
    const until = Math.min(now + TOKEN_CACHE_MS, typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY);
    this.#cache.set(token, { claims, until });
    if (this.#cache.size > TOKEN_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
    return claims;
  }
}

/** Recognises API keys by the SHA-256 of the presented value, in constant time. */
export class ApiKeyVerifier {
  readonly header: string;
  readonly #keys: readonly { readonly id: string; readonly hash: Buffer }[];

  constructor(config: NonNullable<IdentityConfig['apiKeys']>) {
    this.header = config.header.toLowerCase();
    this.#keys = config.keys.map((k) => ({ id: k.id, hash: Buffer.from(k.sha256, 'hex') }));
  }

  /** The id of the key, or undefined. Every stored hash is compared, so the time taken does not say which one matched. */
  match(presented: string): string | undefined {
    const hash = createHash('sha256').update(presented, 'utf8').digest();
    let found: string | undefined;
    for (const key of this.#keys) {
      if (timingSafeEqual(hash, key.hash) && found === undefined) found = key.id;
    }
    return found;
  }
}

/** The header value, when exactly one was sent. */
function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Identifies callers; one per proxy. */
export class CallerIdentification {
  readonly #require: ReadonlySet<CredentialKind>;
  readonly #certificates: boolean;
  readonly jwt: JwtVerifier | undefined;
  readonly apiKeys: ApiKeyVerifier | undefined;

  constructor(config: IdentityConfig, options: { readonly now?: () => number } = {}) {
    this.#require = new Set(config.require);
    this.#certificates = config.clientCAs.length > 0;
    if (this.#require.has('certificate') && !this.#certificates) {
      throw new EnclaveGateError('EG_CONFIG_INVALID', 'identity.require lists "certificate" but tls.clientCAs is empty');
    }
    this.jwt = config.jwt === undefined ? undefined : new JwtVerifier(config.jwt, options);
    this.apiKeys = config.apiKeys === undefined ? undefined : new ApiKeyVerifier(config.apiKeys);
  }

  #refuse(refusal: Refusal): IdentifyOutcome {
    const bearer = this.jwt !== undefined && (refusal.reason.startsWith('jwt_') || refusal.reason === 'credential_missing:jwt');
    const invalid = refusal.reason.startsWith('jwt_');
    const detail =
      refusal.code === 'EG_NOT_READY'
        ? 'the key set that verifies bearer tokens cannot be fetched'
        : refusal.reason.startsWith('credential_missing:')
          ? `this proxy requires a ${refusal.reason.slice('credential_missing:'.length).replace('_', ' ')} credential and none was presented`
          : 'the presented credential was refused';
    return {
      error: new EnclaveGateError(refusal.code, detail),
      reasons: [refusal.reason],
      ...(bearer ? { headers: { 'www-authenticate': invalid ? 'Bearer realm="enclave-gate", error="invalid_token"' : 'Bearer realm="enclave-gate"' } } : {}),
    };
  }

  /** Who the caller is, or why it is refused. Asynchronous only when a JWT must be verified. */
  async identify(req: IncomingMessage): Promise<IdentifyOutcome> {
    const caller: { certificate?: PeerCertificate; jwt?: Readonly<Record<string, unknown>>; api_key?: PeerApiKey } = {};
    if (this.#certificates) {
      const state = certificateOf(req.socket as TLSSocket);
      if (typeof state === 'object') caller.certificate = state.identity;
      else if (this.#require.has('certificate')) return this.#refuse(new Refusal(state === 'none' ? 'credential_missing:certificate' : 'client_certificate_untrusted'));
    }
    if (this.apiKeys !== undefined) {
      const presented = single(req.headers[this.apiKeys.header]);
      if (presented !== undefined) {
        const id = this.apiKeys.match(presented);
        if (id === undefined) return this.#refuse(new Refusal('api_key_unknown'));
        caller.api_key = Object.freeze({ id });
      } else if (this.#require.has('api_key')) {
        return this.#refuse(new Refusal('credential_missing:api_key'));
      }
    }
    if (this.jwt !== undefined) {
      const authorization = single(req.headers.authorization);
      const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization);
      if (match !== null) {
        try {
          caller.jwt = await this.jwt.verify(match[1]!);
        } catch (err) {
          if (err instanceof Refusal) return this.#refuse(err);
          throw err;
        }
      } else if (authorization !== undefined && /^Bearer\b/i.test(authorization)) {
        return this.#refuse(new Refusal('jwt_malformed'));
      } else if (this.#require.has('jwt')) {
        return this.#refuse(new Refusal('credential_missing:jwt'));
      }
    }
    return { caller };
  }
}

/** Builds the identification from configuration; undefined when nothing identifies callers. */
export function createCallerIdentification(config: IdentityConfig, deps: { readonly logger?: Logger } = {}): CallerIdentification | undefined {
  if (config.clientCAs.length === 0 && config.jwt === undefined && config.apiKeys === undefined) {
    if (config.require.includes('certificate')) throw new EnclaveGateError('EG_CONFIG_INVALID', 'identity.require lists "certificate" but tls.clientCAs is empty');
    return undefined;
  }
  const identification = new CallerIdentification(config);
  deps.logger?.info(
    {
      certificates: config.clientCAs.length,
      jwt: config.jwt === undefined ? false : /^https:/i.test(config.jwt.jwks) ? 'url' : 'file',
      apiKeys: config.apiKeys?.keys.length ?? 0,
      require: config.require,
    },
    'caller identity enabled',
  );
  return identification;
}
