/**
 * Assembles a running enclave-gate from a validated configuration, in the
 * order the invariants need: admin listener first (so readiness is observable
 * while starting), then evidence provider, policy, certificate (whose evidence
 * binds the policy digest), upstream pool, and last the RA-TLS listener.
 * Nothing is served before the policy is loaded and the certificate issued.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Pool } from 'undici';
import { type Config, splitHostPort } from '../config/index.js';
import { createProvider, detectNow, type EvidenceProvider } from '../evidence/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { loadPolicy, type PolicyEngine } from '../policy/engine.js';
import { createFreshnessResponder } from '../ratls/freshness.js';
import { issueCertificate, type IssuedCertificate } from '../ratls/issue.js';
import { CAPABILITIES_FILE, DEFAULT_POLICY_BUNDLE, defaultOpaPath } from '../util/package-root.js';
import { createAdminServer } from './admin.js';
import { createUpstreamPool } from './forward.js';
import { createPipeline } from './pipeline.js';
import { closeGracefully, createTlsServer, listen } from './server.js';

/** Inputs to `startGateway`; everything but `config` is for tests and embedding. */
export interface GatewayOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Replaces the provider the config names (tests). */
  readonly provider?: EvidenceProvider;
  /** Replaces the policy the config names (tests). */
  readonly policy?: PolicyEngine;
}

/** A running proxy. */
export interface Gateway {
  /** https://host:port of the RA-TLS listener. */
  readonly url: string;
  /** http://host:port of the admin listener. */
  readonly adminUrl: string;
  readonly certificate: IssuedCertificate;
  readonly policy: PolicyEngine;
  readonly metrics: Metrics;
  /** Drains in-flight requests (up to the configured grace) and stops both listeners. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the proxy described by `options.config`. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = options.metrics ?? createMetrics();
  let policy: PolicyEngine | undefined;
  let certificate: IssuedCertificate | undefined;
  let draining = false;
  let tlsServer: HttpsServer | undefined;
  let pool: Pool | undefined;

  const admin: HttpServer = createAdminServer({
    metrics,
    readiness: () => ({
      ready: policy !== undefined && certificate !== undefined && tlsServer?.listening === true && !draining,
      detail: {
        policy: policy ? { revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` } : null,
        certificate: certificate ? certificate.toJSON() : null,
        draining,
      },
    }),
  });
  const adminAddress = splitHostPort(config.admin);
  const adminPort = await listen(admin, adminAddress.host, adminAddress.port);

  try {
    const provider =
      options.provider ??
      createProvider(config.attestation.provider, {
        configfsRoot: config.attestation.configfsRoot,
        gramineDevice: config.attestation.gramineDevice,
        dstackSocket: config.attestation.dstackSocket,
        cache: {
          minIntervalMs: config.attestation.minQuoteIntervalMs,
          maxWaitMs: config.attestation.maxQuoteWaitMs,
          cacheSeconds: config.attestation.evidenceCacheSeconds,
        },
        ...(config.attestation.simulatedMeasurement
          ? { simulated: { measurement: new Uint8Array(Buffer.from(config.attestation.simulatedMeasurement, 'hex')) } }
          : {}),
      });
    // `auto` learns which device it drives only when it probes; probe now so
    // the log and the metric name the real provider, and a host with none fails at start.
    const detection = await detectNow(provider);
    if (detection !== undefined) logger.info({ detection }, `attestation provider detected: ${provider.name} (${provider.platform})`);
    if (provider.insecure) {
      logger.warn(
        { provider: provider.name },
        'INSECURE: attestation evidence is SIMULATED. It proves nothing about where this code runs; verifiers reject it unless told --allow-simulated. Never use this mode in production.',
      );
    }
    metrics.attestationInsecure.set({ provider: provider.name }, provider.insecure ? 1 : 0);

    const policySource = config.policy.path ?? DEFAULT_POLICY_BUNDLE;
    policy = options.policy ?? (await loadPolicy(policySource, { opaPath: config.policy.opaPath ?? defaultOpaPath(), capabilitiesPath: CAPABILITIES_FILE }));
    metrics.policyInfo.set({ revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` }, 1);
    logger.info({ source: policySource, revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` }, 'policy loaded');

    certificate = await issueCertificate({
      provider,
      policyHash: { alg: 'sha-384', digest: policy.digest.bytes },
      keyAlgorithm: config.tls.keyAlgorithm,
      validitySeconds: config.tls.validityHours * 3600,
      subjectAltNames: config.tls.subjectAltNames,
      commonName: config.tls.commonName,
    });
    metrics.certExpiry.set(certificate.notAfter.getTime() / 1000);
    metrics.evidenceTimestamp.set(certificate.evidenceIssuedAt.getTime() / 1000);
    logger.info({ certificate: certificate.toJSON() }, 'RA-TLS certificate issued');
    for (const warning of certificate.warnings) logger.warn({ warning }, 'evidence warning');

    pool = createUpstreamPool({
      upstream: config.upstream,
      connections: config.limits.upstreamConnections,
      headersTimeoutMs: config.limits.upstreamHeadersTimeoutMs,
      bodyTimeoutMs: config.limits.upstreamBodyTimeoutMs,
      onConnect: () => metrics.upstreamConnections.inc(),
    });
    const activePolicy = policy;
    const freshness = config.freshness.enabled
      ? createFreshnessResponder({
          provider,
          policyHash: () => ({ alg: 'sha-384', digest: activePolicy.digest.bytes }),
          perSecond: config.freshness.perSecond,
          burst: config.freshness.burst,
        })
      : undefined;
    tlsServer = createTlsServer({
      certificate,
      minVersion: config.tls.minVersion,
      headerBytes: config.limits.headerBytes,
      requestTimeoutMs: config.limits.requestTimeoutMs,
      logger,
      handler: createPipeline({
        policy: () => activePolicy,
        draining: () => draining,
        upstream: pool,
        limits: config.limits,
        metrics,
        logger,
        ...(freshness === undefined ? {} : { freshness }),
      }),
    });
    const listenAddress = splitHostPort(config.listen);
    const port = await listen(tlsServer, listenAddress.host, listenAddress.port);
    metrics.ready.set(1);
    const url = `https://${urlHost(listenAddress.host)}:${port}`;
    const adminUrl = `http://${urlHost(adminAddress.host)}:${adminPort}`;
    logger.info({ url, admin: adminUrl, upstream: config.upstream }, 'enclave-gate is serving');

    const servedPolicy = policy;
    const servedCertificate = certificate;
    const servedServer = tlsServer;
    const servedPool = pool;
    return {
      url,
      adminUrl,
      certificate: servedCertificate,
      policy: servedPolicy,
      metrics,
      async close() {
        draining = true;
        metrics.ready.set(0);
        await closeGracefully(servedServer, config.shutdownGraceMs);
        await servedPool.close();
        await closeGracefully(admin, 1000);
      },
    };
  } catch (err) {
    await pool?.destroy();
    if (tlsServer?.listening) await closeGracefully(tlsServer, 0);
    await closeGracefully(admin, 0);
    throw err;
  }
}
