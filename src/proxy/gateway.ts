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
import { createNvmlGpuSource, createProvider, detectNow, type EvidenceProvider } from '../evidence/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { bundleFailureReason, createFileBundleSource, createHttpBundleSource, type BundleSource } from '../policy/bundle-source.js';
import { loadPolicy, loadPolicyBundle, type LoadPolicyOptions, type PolicyEngine } from '../policy/engine.js';
import { createBundleVerifier } from '../policy/signature.js';
import { createFreshnessResponder } from '../ratls/freshness.js';
import { issueCertificate, type IssuedCertificate } from '../ratls/issue.js';
import { CertificateManager } from '../ratls/rotation.js';
import type { HashEntry } from '../wire/hash-entry.js';
import { CAPABILITIES_FILE, DEFAULT_POLICY_BUNDLE, defaultOpaPath } from '../util/package-root.js';
import { createAdminServer } from './admin.js';
import { createUpstreamPool } from './forward.js';
import { createPipeline } from './pipeline.js';
import { closeGracefully, createTlsServer, listen, tlsProtocolOptions } from './server.js';
import { createClientAttestation } from './client-attestation.js';
import { createCallerIdentification, loadClientCAs } from './identity.js';
import { createAuditSigner, createDecisionLog } from '../audit/index.js';
import type { AuditSigner, DecisionLog } from '../audit/decision-log.js';

/** Inputs to `startGateway`; everything but `config` is for tests and embedding. */
export interface GatewayOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Replaces the provider the config names (tests). */
  readonly provider?: EvidenceProvider;
  /** Replaces the policy the config names (tests). */
  readonly policy?: PolicyEngine;
  /** Replaces the bundle source the config names: a cluster worker gets its bundles from the primary (proxy/cluster/). */
  readonly bundleSource?: BundleSource;
  /** false: no admin listener (a cluster worker; the primary serves /healthz, /readyz, /metrics). Default true. */
  readonly adminListener?: boolean;
}

/** What /readyz reports: ready or not, and why. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** A running proxy. */
export interface Gateway {
  /** https://host:port of the RA-TLS listener. */
  readonly url: string;
  /** http://host:port of the admin listener; "" when started without one. */
  readonly adminUrl: string;
  /** The certificate new handshakes get (changes on rotation and policy activation). */
  readonly certificate: IssuedCertificate;
  /** The policy in force (changes when a new bundle is activated). */
  readonly policy: PolicyEngine;
  readonly metrics: Metrics;
  /** Re-issues the certificate now with fresh evidence (same policy); live connections stay up. */
  rotateCertificate(): Promise<IssuedCertificate>;
  /** Checks the bundle source now (file re-read or HTTP poll); resolves when done. No-op without a source. */
  reloadPolicy(): Promise<void>;
  /** The signed decision log, when `decisionLog.path` or `.url` is set (docs/audit.md). */
  readonly decisionLog?: DecisionLog;
  /** Drains in-flight requests (up to the configured grace) and stops both listeners. */
  close(): Promise<void>;
  /** What /readyz answers now (a cluster primary asks each worker for this). */
  readiness(): Readiness;
}

const policyHashOf = (engine: PolicyEngine): HashEntry => ({ alg: 'sha-384', digest: engine.digest.bytes });
const digestLabel = (engine: PolicyEngine): string => `${engine.digest.alg}:${engine.digest.hex}`;

/** How bundles are verified and loaded under `config`; the cluster primary checks bundles the same way its workers will. */
export async function policyLoadOptions(config: Config): Promise<LoadPolicyOptions> {
  // Bundles: signature check before anything in them is used (docs/bundles.md).
  const verifier = await createBundleVerifier({ keys: config.policy.signing.keys, scope: config.policy.signing.scope });
  return {
    opaPath: config.policy.opaPath ?? defaultOpaPath(),
    capabilitiesPath: CAPABILITIES_FILE,
    verifyArchive: async (files) => void (await verifier.verify(files)),
  };
}

/**
 * The bundle source `config` names: the HTTP bundle service, or the bundle
 * file (watched unless policy.watch is false; without watch it still serves
 * manual reloads). undefined for a Rego directory, which is compiled once.
 */
export function configuredBundleSource(config: Config): BundleSource | undefined {
  if (config.policy.url !== undefined) {
    return createHttpBundleSource({
      url: config.policy.url,
      intervalMs: config.policy.pollIntervalSeconds * 1000,
      jitter: config.policy.pollJitter,
      timeoutMs: config.policy.pollTimeoutMs,
    });
  }
  const path = config.policy.path ?? DEFAULT_POLICY_BUNDLE;
  if (!/\.(tar\.gz|tgz)$/.test(path)) return undefined;
  return createFileBundleSource({
    path,
    watch: config.policy.watch,
    debounceMs: config.policy.watchDebounceMs,
    statIntervalMs: config.policy.watchIntervalSeconds * 1000,
  });
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
  let certificates: CertificateManager | undefined;
  let source: BundleSource | undefined;
  let decisionLog: DecisionLog | undefined;

  const readiness = (): Readiness => ({
    ready: policy !== undefined && certificate !== undefined && tlsServer?.listening === true && !draining && certificates?.expired !== true,
    detail: {
      policy: policy ? { revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` } : null,
      certificate: (certificates?.current ?? certificate)?.toJSON() ?? null,
      ...(certificates === undefined ? {} : { renewal: certificates.status() }),
      ...(source === undefined ? {} : { policySource: source.description }),
      draining,
    },
  });
  const admin: HttpServer | undefined = options.adminListener === false ? undefined : createAdminServer({ metrics, readiness });
  const adminAddress = splitHostPort(config.admin);
  const adminPort = admin === undefined ? 0 : await listen(admin, adminAddress.host, adminAddress.port);

  try {
    const provider =
      options.provider ??
      createProvider(config.attestation.provider, {
        configfsRoot: config.attestation.configfsRoot,
        gramineDevice: config.attestation.gramineDevice,
        dstackSocket: config.attestation.dstackSocket,
        nsmDevice: config.attestation.nsmDevice,
        tpmDevice: config.attestation.tpmDevice,
        ...(config.attestation.nvidiaGpus ? { gpuSource: createNvmlGpuSource() } : {}),
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

    const loadOptions = await policyLoadOptions(config);
    const policySource = config.policy.url ?? config.policy.path ?? DEFAULT_POLICY_BUNDLE;
    if (options.policy === undefined) source = options.bundleSource ?? configuredBundleSource(config);
    policy = options.policy ?? (source ? await loadPolicyBundle(await source.initial(), loadOptions) : await loadPolicy(policySource, loadOptions));
    metrics.policyInfo.set({ revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` }, 1);
    logger.info({ source: source?.description ?? policySource, revision: policy.revision, digest: `${policy.digest.alg}:${policy.digest.hex}` }, 'policy loaded');

    // The decision log's signing key is born here, before the first
    // certificate, so every certificate binds it (claim audit-key-hash).
    const auditSigner: AuditSigner | undefined = await createAuditSigner(config);
    const issue = (policyHash: HashEntry): Promise<IssuedCertificate> =>
      issueCertificate({
        ...(auditSigner === undefined ? {} : { auditKeyHash: auditSigner.keyHash }),
        provider,
        policyHash,
        keyAlgorithm: config.tls.keyAlgorithm,
        validitySeconds: config.tls.validityHours * 3600,
        subjectAltNames: config.tls.subjectAltNames,
        commonName: config.tls.commonName,
      });
    certificate = await issue(policyHashOf(policy));
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
    // The policy holder: `policy` changes only in CertificateManager.rotate's
    // afterInstall, in the same tick as the certificate swap. While the
    // certificate is expired (renewals kept failing), no request is admitted.
    const currentPolicy = (): PolicyEngine | undefined => (certificates?.expired === true ? undefined : policy);
    const freshness = config.freshness.enabled
      ? createFreshnessResponder({
          provider,
          policyHash: () => policyHashOf(policy!),
          perSecond: config.freshness.perSecond,
          burst: config.freshness.burst,
        })
      : undefined;
    // Mutual RA-TLS (docs/mutual-ratls.md); undefined when tls.clientAttestation.mode is off.
    const clientAttestation = createClientAttestation(config.tls.clientAttestation, { logger, metrics });
    // Caller identity (docs/identity.md); undefined when no credential kind is configured.
    const clientCAs = loadClientCAs(config.tls.clientCAs);
    const identity = createCallerIdentification({ ...config.identity, clientCAs }, { logger });
    if (auditSigner !== undefined) {
      decisionLog = await createDecisionLog(config.decisionLog, {
        signer: auditSigner,
        certificate: () => (certificates?.current ?? certificate!).certPem,
        metrics,
        logger,
        ...(config.identity.apiKeys === undefined ? {} : { credentialHeader: config.identity.apiKeys.header }),
      });
    }
    tlsServer = createTlsServer({
      ...(clientAttestation === undefined ? {} : { clientAttestation }),
      ...(clientCAs.length === 0 ? {} : { clientCAs }),
      certificate,
      minVersion: config.tls.minVersion,
      headerBytes: config.limits.headerBytes,
      headerCount: config.limits.headerCount,
      ticketKeyRotationMs: config.tls.ticketKeyRotationSeconds * 1000,
      // Refused before the pipeline (request-guard.ts, malformed HTTP): counted like any other answer.
      onRefused: (code) => metrics.requests.inc({ decision: 'error', code }),
      requestTimeoutMs: config.limits.requestTimeoutMs,
      logger,
      handler: createPipeline({
        policy: currentPolicy,
        draining: () => draining,
        unavailable: () => (certificates?.expired === true ? 'the RA-TLS certificate expired and could not be renewed; no request is served until attestation succeeds' : undefined),
        upstream: pool,
        limits: config.limits,
        metrics,
        logger,
        ...(freshness === undefined ? {} : { freshness }),
        ...(identity === undefined ? {} : { identity }),
        ...(decisionLog === undefined ? {} : { decisionLog }),
      }),
    });
    const listenAddress = splitHostPort(config.listen);
    const port = await listen(tlsServer, listenAddress.host, listenAddress.port);
    const server = tlsServer;
    certificates = new CertificateManager({
      initial: certificate,
      policyHash: policyHashOf(policy),
      issue,
      // setSecureContext rebuilds the context from these options plus the
      // server's remembered minVersion; requestCert/ALPN are server settings
      // and stay. Live connections keep the context they negotiated with.
      install: (next) =>
        server.setSecureContext({ ...next.secureContextOptions(), ...tlsProtocolOptions(config.tls.minVersion), ...(clientCAs.length === 0 ? {} : { ca: clientCAs }) }),
      ...(config.tls.renewBeforeSeconds === undefined ? {} : { renewBeforeSeconds: config.tls.renewBeforeSeconds }),
      retryMinMs: config.tls.renewRetryMinMs,
      retryMaxMs: config.tls.renewRetryMaxMs,
      metrics,
      logger,
    });
    certificates.start();
    const manager = certificates;

    // Activation: verify + load → new certificate binding the new digest →
    // setSecureContext → switch the policy holder (docs/bundles.md).
    const activate = async (bytes: Uint8Array, origin: string): Promise<boolean> => {
      let engine: PolicyEngine;
      try {
        engine = await loadPolicyBundle(bytes, loadOptions);
      } catch (err) {
        const reason = bundleFailureReason(err);
        metrics.policyBundleFailures.inc({ reason });
        logger.error({ origin, reason, err: err instanceof Error ? err.message : String(err) }, 'policy bundle refused; keeping the active one');
        return true;
      }
      if (engine.digest.hex === policy?.digest.hex) {
        logger.debug({ origin, digest: digestLabel(engine) }, 'policy bundle unchanged');
        return true;
      }
      try {
        await manager.rotate({
          policyHash: policyHashOf(engine),
          reason: 'policy activation',
          afterInstall: () => {
            policy = engine;
          },
        });
      } catch (err) {
        metrics.policyBundleFailures.inc({ reason: 'certificate' });
        logger.error({ origin, reason: 'certificate', err: err instanceof Error ? err.message : String(err) }, 'policy bundle not activated: certificate re-issue failed; keeping the active one');
        return false;
      }
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ revision: engine.revision, digest: digestLabel(engine) }, 1);
      metrics.policyBundleActivations.inc();
      logger.info({ origin, revision: engine.revision, digest: digestLabel(engine) }, 'policy bundle activated');
      return true;
    };
    source?.start({
      bundle: activate,
      failure: (reason, err) => {
        metrics.policyBundleFailures.inc({ reason });
        logger.warn({ origin: source?.description, reason, err: err instanceof Error ? err.message : String(err) }, 'policy bundle source failed; keeping the active bundle');
      },
    });
    metrics.ready.set(1);
    const url = `https://${urlHost(listenAddress.host)}:${port}`;
    const adminUrl = admin === undefined ? '' : `http://${urlHost(adminAddress.host)}:${adminPort}`;
    logger.info({ url, admin: adminUrl, upstream: config.upstream }, 'enclave-gate is serving');

    const servedServer = tlsServer;
    const servedPool = pool;
    const servedSource = source;
    const servedLog = decisionLog;
    return {
      url,
      adminUrl,
      get certificate() {
        return manager.current;
      },
      get policy() {
        return policy!;
      },
      metrics,
      ...(servedLog === undefined ? {} : { decisionLog: servedLog }),
      rotateCertificate: () => manager.rotate({ reason: 'manual' }),
      reloadPolicy: async () => servedSource?.check(),
      readiness,
      async close() {
        draining = true;
        metrics.ready.set(0);
        await servedSource?.close();
        await manager.close();
        await closeGracefully(servedServer, config.shutdownGraceMs);
        // After the drain, so the last requests' decisions are in the final signed batch.
        await servedLog?.close();
        await servedPool.close();
        if (admin !== undefined) await closeGracefully(admin, 1000);
      },
    };
  } catch (err) {
    await source?.close();
    await decisionLog?.close();
    await certificates?.close();
    await pool?.destroy();
    if (tlsServer?.listening) await closeGracefully(tlsServer, 0);
    if (admin !== undefined) await closeGracefully(admin, 0);
    throw err;
  }
}
