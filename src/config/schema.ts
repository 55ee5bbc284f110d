/**
 * The one configuration schema. Every key has a default here, unknown keys are
 * errors (a typo must not silently fall back to a default), and docs/config.md
 * documents the same keys.
 */
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:8443')
  .refine((v) => {
    // Only judge the port when the shape is right; the regex already reported the rest.
    const port = /:(\d+)$/.exec(v)?.[1];
    return port === undefined || Number(port) <= 65535;
  }, 'port must be at most 65535');

const upstream = z
  .string()
  .refine((v) => /^unix:\/.+/.test(v) || /^http:\/\/[^/?#]+\/?$/.test(v), 'must be http://host:port or unix:/absolute/path');

const positiveInt = z.number().int().positive();

/** Most worker processes `workers` accepts; far above any core count this runs on. */
export const MAX_WORKERS = 256;

/**
 * Worker process count: a whole number or `auto` (one per available CPU).
 * Accepts the string form too, because the flag and ENCLAVE_GATE_WORKERS arrive as text.
 */
const workerCount = z.union([z.number(), z.string()]).transform((value, ctx): number | 'auto' => {
  if (value === 'auto') return 'auto';
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    ctx.addIssue({ code: 'custom', message: `must be a whole number from 1 to ${MAX_WORKERS}, or "auto"` });
    return z.NEVER;
  }
  return n;
});

export const configSchema = z
  .object({
    /** Address of the RA-TLS listener. */
    listen: hostPort.default('127.0.0.1:8443'),
    /** Address of the admin listener (health, readiness, metrics): loopback, or the pod IP behind a NetworkPolicy (deploy/). */
    admin: hostPort.default('127.0.0.1:9464'),
    /** The model server: http://host:port or unix:/path/to/socket. */
    upstream: upstream.default('http://127.0.0.1:8000'),
    policy: z
      .object({
        /** A bundle .tar.gz, or a directory of Rego compiled at start with the OPA CLI. Default: the built rego/ bundle. */
        path: z.string().min(1).optional(),
        /** OPA CLI used to compile a Rego directory. Default: the project's pinned .tools/bin/opa, then `opa` on PATH. */
        opaPath: z.string().min(1).optional(),
        /** Reload a bundle file when it changes (fs.watch on its directory plus a periodic stat). Directories are compiled once at start. */
        watch: z.boolean().default(true),
        /** Quiet time after the last change event before the file is read. */
        watchDebounceMs: z.number().int().nonnegative().max(60_000).default(500),
        /** Period of the stat fallback that catches changes fs.watch misses; 0 disables. */
        watchIntervalSeconds: z.number().nonnegative().max(86_400).default(10),
        /** OPA bundle service resource (http/https URL of the .tar.gz), polled with ETag / If-None-Match; instead of `path`. */
        url: z
          .string()
          .refine((v) => /^https?:\/\/[^/?#]+/.test(v), 'must be an http:// or https:// URL')
          .optional(),
        /** Mean time between polls of `url`. */
        pollIntervalSeconds: z.number().positive().max(86_400).default(60),
        /** Random spread of each poll delay: interval × [1 − jitter, 1 + jitter]. */
        pollJitter: z.number().min(0).max(1).default(0.1),
        /** Time allowed for one bundle download. */
        pollTimeoutMs: positiveInt.max(600_000).default(30_000),
        /** Bundle signature verification (`.signatures.json`, OPA's format; docs/bundles.md). */
        signing: z
          .object({
            /** Verification keys; once any is configured, every bundle must be signed by one of them. */
            keys: z
              .array(
                z
                  .object({
                    keyid: z.string().min(1),
                    algorithm: z.enum(['ES256', 'RS256', 'EdDSA']),
                    /** SPKI PEM ("-----BEGIN PUBLIC KEY-----"), or the path of a file holding it. */
                    publicKey: z.string().min(1),
                  })
                  .strict(),
              )
              .default([]),
            /** When set, the signed `scope` claim must equal it. */
            scope: z.string().min(1).optional(),
            /** Must equal "keys are configured": true without keys, or false with keys, is an error. Default: whether keys are configured. */
            required: z.boolean().optional(),
          })
          .strict()
          .refine((s) => s.required === undefined || s.required === s.keys.length > 0, {
            message: 'required: true needs at least one key, and configured keys make signatures required',
          })
          .refine((s) => new Set(s.keys.map((k) => k.keyid)).size === s.keys.length, { message: 'keyids must be unique' })
          .prefault({}),
      })
      .strict()
      .refine((p) => p.path === undefined || p.url === undefined, { message: 'set either path or url, not both' })
      .prefault({}),
    attestation: z
      .object({
        /** `auto` probes configfs-tsm, then gramine, then dstack; it never picks `simulated`. */
        provider: z.enum(['simulated', 'configfs-tsm', 'gramine', 'dstack', 'nitro', 'azure-vtpm', 'auto']).default('simulated'),
        configfsRoot: z.string().default('/sys/kernel/config/tsm/report'),
        gramineDevice: z.string().default('/dev/attestation'),
        dstackSocket: z.string().default('/var/run/dstack.sock'),
        /** Nitro Secure Module device (the `nitro` provider). */
        nsmDevice: z.string().default('/dev/nsm'),
        /** TPM of the `azure-vtpm` provider: a device, a unix socket or tcp://host:port (swtpm). */
        tpmDevice: z.string().default('/dev/tpmrm0'),
        /** Carry each NVIDIA GPU's attestation report (NVML) beside the CPU evidence. */
        nvidiaGpus: z.boolean().default(false),
        /** Least time between the starts of two hardware quotes (TDX quotes take ~1 s on stock kernels). */
        minQuoteIntervalMs: z.number().int().nonnegative().max(60_000).default(250),
        /** Longest an evidence request waits for its turn before it is refused as rate-limited. */
        maxQuoteWaitMs: z.number().int().nonnegative().max(120_000).default(5000),
        /** How long evidence for identical report data is reused; 0 disables. */
        evidenceCacheSeconds: z.number().int().nonnegative().max(86_400).default(60),
        /** Hex SHA-384 measurement the simulated provider reports. */
        simulatedMeasurement: z.string().regex(/^[0-9a-fA-F]{96}$/, 'must be 96 hex characters').optional(),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        keyAlgorithm: z.enum(['P-384', 'P-256']).default('P-384'),
        minVersion: z.enum(['TLSv1.3', 'TLSv1.2']).default('TLSv1.3'),
        validityHours: z.number().positive().max(24 * 30).default(24),
        commonName: z.string().min(1).default('enclave-gate'),
        subjectAltNames: z.array(z.string().min(1)).min(1).default(['localhost', '127.0.0.1']),
        /** Re-issue the certificate (fresh evidence) this long before it expires. Default: a third of the validity. */
        renewBeforeSeconds: z.number().positive().optional(),
        /** First retry delay after a failed renewal; doubles up to renewRetryMaxMs. */
        renewRetryMinMs: positiveInt.max(3_600_000).default(1000),
        /** Largest retry delay after failed renewals. */
        renewRetryMaxMs: positiveInt.max(3_600_000).default(60_000),
        /** TLS session ticket keys are replaced this often (outstanding tickets then need a full handshake). */
        ticketKeyRotationSeconds: z.number().positive().max(86_400).default(3600),
        /** Mutual RA-TLS: ask clients for an RA-TLS certificate and verify its evidence (docs/mutual-ratls.md). */
        clientAttestation: z
          .object({
            /** `off`: no client certificates; `optional`: verified when presented, the policy decides; `required`: refused (403) without a verified one. */
            mode: z.enum(['off', 'optional', 'required']).default('off'),
            /** The verifier's reference-values document (docs/verify.md): inline, or the path of a JSON file. */
            referenceValues: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
            /** Accept simulated client evidence (development only; logged as INSECURE). */
            allowSimulated: z.boolean().default(false),
            /** Accept debug TEEs as clients (logged as INSECURE). */
            allowDebug: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        /** CAs whose client certificates identify callers (`input.peer.certificate`; docs/identity.md): PEM text or file paths. Empty: no CA-issued client certificates. */
        clientCAs: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    /** Caller identity in the policy input: client certificates, bearer JWTs, API keys (docs/identity.md). */
    identity: z
      .object({
        /** Credentials every request must carry; a request without one of them is refused with 401. */
        require: z.array(z.enum(['certificate', 'jwt', 'api_key'])).default([]),
        jwt: z
          .object({
            /** JWKS: the path of a JSON file, or an https:// URL (cached, refetched on an unknown `kid`). */
            jwks: z.string().min(1),
            /** Accepted `iss` value(s). */
            issuer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            /** Accepted `aud` value(s). */
            audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            /** Signature algorithms accepted; `none` and HMAC are never accepted. */
            algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1).default(['RS256', 'ES256', 'EdDSA']),
            /** Leeway for `exp`/`nbf`/`iat`. */
            clockToleranceSeconds: z.number().int().nonnegative().max(300).default(30),
            /** A fetched JWKS is reused this long before it is fetched again. */
            jwksCacheSeconds: z.number().int().positive().max(86_400).default(600),
            /** Least time between two fetches (or file reads) triggered by an unknown `kid`. */
            jwksCooldownSeconds: z.number().int().nonnegative().max(3600).default(30),
            /** Time allowed for one JWKS fetch. */
            jwksTimeoutMs: positiveInt.max(60_000).default(5000),
            /** Extra CA (PEM text or file path) trusted for the JWKS URL, for a private issuer. */
            jwksCa: z.string().min(1).optional(),
          })
          .strict()
          .refine((j) => !/^http:/i.test(j.jwks), { message: 'jwks must be a file path or an https:// URL' })
          .optional(),
        apiKeys: z
          .object({
            /** Request header carrying the key. */
            header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/).default('x-api-key'),
            /** Keys by id; only the SHA-256 (hex) of each key is stored. */
            keys: z
              .array(z.object({ id: z.string().min(1).max(128), sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters') }).strict())
              .min(1),
          })
          .strict()
          .refine((a) => new Set(a.keys.map((k) => k.id)).size === a.keys.length, { message: 'key ids must be unique' })
          .optional(),
      })
      .strict()
      .refine((i) => !i.require.includes('jwt') || i.jwt !== undefined, { message: 'require lists "jwt" but identity.jwt is not configured' })
      .refine((i) => !i.require.includes('api_key') || i.apiKeys !== undefined, { message: 'require lists "api_key" but identity.apiKeys is not configured' })
      .prefault({}),
    limits: z
      .object({
        /** JSON request bodies are buffered for the policy up to this size; larger → 413. */
        requestBodyBytes: positiveInt.default(1024 * 1024),
        /** JSON responses are buffered for the response policy up to this size; larger → 502. */
        responseBodyBytes: positiveInt.default(8 * 1024 * 1024),
        /** Total request header size; larger → 431. */
        headerBytes: positiveInt.max(1024 * 1024).default(16 * 1024),
        /** Time allowed to receive the whole request (headers and body). */
        requestTimeoutMs: positiveInt.default(30_000),
        /** Time the model server has to send response headers; then 504. */
        upstreamHeadersTimeoutMs: positiveInt.default(60_000),
        /** Longest silence between response body chunks from the model server. */
        upstreamBodyTimeoutMs: positiveInt.default(300_000),
        /**
         * Streamed text always held on top of what the PII detectors still need (docs/streaming.md);
         * 0 = none. For custom stream rules that want a fixed amount of text after each finding.
         */
        streamWindowChars: z.number().int().min(0).max(4096).default(0),
        /** Most streamed text held while waiting for a safe release point; beyond it the stream ends with an error. */
        streamMaxHoldChars: positiveInt.min(256).max(1024 * 1024).default(4096),
        /** Upper bound on keep-alive connections to the model server. */
        upstreamConnections: positiveInt.max(4096).default(64),
        /** Most header fields in one request; more → 431 EG_TOO_MANY_HEADERS (node would silently drop them). */
        headerCount: positiveInt.max(10_000).default(100),
      })
      .strict()
      .refine((l) => l.streamWindowChars <= l.streamMaxHoldChars, { message: 'streamWindowChars must not exceed streamMaxHoldChars', path: ['streamWindowChars'] })
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    /** GET /.well-known/attestation: fresh evidence bound to a nonce and the TLS session. */
    freshness: z
      .object({
        enabled: z.boolean().default(true),
        /** Sustained answers per second (each asks the TEE for a new quote). */
        perSecond: z.number().positive().max(1000).default(5),
        /** Answers allowed in a burst. */
        burst: z.number().int().positive().max(10_000).default(10),
      })
      .strict()
      .prefault({}),
    /** The decision log the enclave signs (docs/audit.md). Off unless `path` or `url` is set. */
    decisionLog: z
      .object({
        /** JSON Lines file, rotated by size (`--decision-log`). */
        path: z.string().min(1).optional(),
        /** A file is rotated once it would grow beyond this. */
        maxFileBytes: positiveInt.min(4096).default(64 * 1024 * 1024),
        /** Rotated files kept (PATH.1 … PATH.N); older ones are deleted. */
        maxFiles: z.number().int().nonnegative().max(1000).default(10),
        /** OPA decision-log service endpoint: gzip'd JSON arrays are POSTed here. */
        url: z
          .string()
          .refine((v) => /^https?:\/\/[^/?#]+/.test(v), 'must be an http:// or https:// URL')
          .optional(),
        /** Extra CA (PEM text or file path) trusted for an https `url`. */
        urlCa: z.string().min(1).optional(),
        /** Time allowed for one upload. */
        urlTimeoutMs: positiveInt.max(300_000).default(10_000),
        /** Events per signed batch, at most; a full batch is flushed at once. */
        batchEvents: positiveInt.max(100_000).default(256),
        /** Longest an event waits before its batch is signed and written. */
        flushIntervalMs: positiveInt.min(10).max(60_000).default(1000),
        /** Events held in memory (not yet written, or not yet uploaded) before `overflow` applies. */
        maxBufferedEvents: positiveInt.max(10_000_000).default(10_000),
        /** What a full buffer does: drop the oldest events (counted, and recorded in the chain), make requests wait, or refuse them (503). */
        overflow: z.enum(['drop-oldest', 'block', 'fail-closed']).default('drop-oldest'),
        /** `block`: longest a request waits for room before it is refused (503). */
        blockTimeoutMs: positiveInt.max(600_000).default(5000),
        /** JSON pointers (from `/input/`) erased from logged inputs besides the body and credential headers. */
        mask: z.array(z.string().regex(/^\/input\/.+/, 'must be a JSON pointer starting with /input/')).default([]),
      })
      .strict()
      .prefault({}),
    /** Graceful shutdown: how long in-flight requests may take to finish. */
    shutdownGraceMs: z.number().int().nonnegative().default(10_000),
    /** Processes serving the RA-TLS listener (node:cluster); 1 serves in this process. See docs/workers.md. */
    workers: workerCount.default(1),
  })
  .strict()
  // Each worker has its own key and so would sign its own chain: one file
  // cannot hold several chains yet (docs/audit.md, docs/workers.md).
  .refine((c) => c.decisionLog.path === undefined || c.workers === 1, {
    message: 'the decision log (decisionLog.path / --decision-log) needs workers: 1 for now; each worker would sign its own chain into the same file',
    path: ['workers'],
  });

/** The validated, defaulted configuration. */
export type Config = z.infer<typeof configSchema>;
/** What a config file may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
