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

export const configSchema = z
  .object({
    /** Address of the RA-TLS listener. */
    listen: hostPort.default('127.0.0.1:8443'),
    /** Address of the admin listener (health, readiness, metrics); keep it on loopback. */
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
      })
      .strict()
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
        /** Streamed model output held back so PII split across events is still caught (docs/streaming.md). */
        streamWindowChars: positiveInt.min(64).max(4096).default(64),
        /** Most streamed text held while waiting for a safe release point; beyond it the stream ends with an error. */
        streamMaxHoldChars: positiveInt.min(256).max(1024 * 1024).default(4096),
        /** Upper bound on keep-alive connections to the model server. */
        upstreamConnections: positiveInt.max(4096).default(64),
      })
      .strict()
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
    /** Graceful shutdown: how long in-flight requests may take to finish. */
    shutdownGraceMs: z.number().int().nonnegative().default(10_000),
  })
  .strict();

/** The validated, defaulted configuration. */
export type Config = z.infer<typeof configSchema>;
/** What a config file may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
