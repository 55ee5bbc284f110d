/**
 * Every Prometheus metric enclave-gate exports, in one place, on a registry of
 * its own (not prom-client's global) so tests and several proxies in one
 * process never collide. Labels never carry request data: decisions, stable
 * error codes and phase names only.
 *
 * With several workers (docs/workers.md) each worker keeps these metrics and
 * the primary merges them with prom-client's AggregatorRegistry: counters and
 * histograms are summed (the default); each gauge names its `aggregator` here,
 * chosen so the merged value answers the question an alert asks of it.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/** Latency buckets in seconds: from 100 µs (policy) to 60 s (slow model calls). */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The proxy's metrics. */
export interface Metrics {
  readonly registry: Registry;
  // The four metrics every request updates are hot-metrics.ts's, the rest prom-client's.
  /** Requests by final decision (`allow`, `deny`, `error`) and catalogue code (`ok` when allowed). */
  readonly requests: HotCounter<'decision' | 'code'>;
  /** Time spent per phase: `policy` (request + response evaluation), `upstream` (to response headers), `total`. */
  readonly duration: HotHistogram<'phase'>;
  /** Policy evaluations by entrypoint and outcome. */
  readonly policyEvaluations: HotCounter<'entrypoint' | 'outcome'>;
  /** PII found by the proxy's scanner, by type and where (request, response, stream); never values. */
  readonly piiFindings: HotCounter<'type' | 'direction'>;
  /** Connections opened to the model server; stays at most the pool size under steady load. */
  readonly upstreamConnections: Counter;
  /** 1 once the policy is loaded and the certificate issued. */
  readonly ready: Gauge;
  /** Unix time at which the serving certificate expires. */
  readonly certExpiry: Gauge;
  /** Unix time at which the serving evidence was obtained. */
  readonly evidenceTimestamp: Gauge;
  /** 1 while evidence is simulated (insecure modes must be visible in metrics). */
  readonly attestationInsecure: Gauge<'provider'>;
  /** Info metric with the active policy revision and digest. */
  readonly policyInfo: Gauge<'revision' | 'digest'>;
  /** Policy bundles activated after start (a new digest went into service). */
  readonly policyBundleActivations: Counter;
  /** Bundles not activated, by reason (download, read, archive, signature, bundle, load, certificate). */
  readonly policyBundleFailures: Counter<'reason'>;
  /** Certificate issuances after start, by outcome (ok, failed). */
  readonly certificateRotations: Counter<'outcome'>;
  /** 1 while the served certificate is within its validity, 0 once it has expired without renewal. */
  readonly certificateValid: Gauge;
  /** Requests that carried a policy rate limit, by party (bounded label set) and outcome (allowed, rate_limited). */
  readonly partyRequests: Counter<'party' | 'outcome'>;
  /** Model tokens charged to a party's token bucket (usage.total_tokens). */
  readonly partyTokens: Counter<'party'>;
  /** Decision log events by outcome: written, dropped (overflow drop-oldest), refused (overflow fail-closed), mask_failed (the mask rule failed; input erased). */
  readonly decisionLogEvents: Counter<'outcome'>;
  /** Decision log batches by sink and outcome (ok, failed). */
  readonly decisionLogBatches: Counter<'sink' | 'outcome'>;
  /** Decision log events waiting in the buffer. */
  readonly decisionLogBuffered: Gauge;
}

/** Creates the registry and all metrics; `defaults` adds Node's process metrics. */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: 'enclave_gate_' });
  const registers = [registry];
  return {
    registry,
    requests: new HotCounter({
      name: 'enclave_gate_requests_total',
      help: 'Requests handled, by final decision and error code',
      labelNames: ['decision', 'code'],
      registers,
    }),
    duration: new HotHistogram({
      name: 'enclave_gate_request_duration_seconds',
      help: 'Request latency by phase: policy evaluation, upstream (until response headers), total',
      labelNames: ['phase'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    policyEvaluations: new HotCounter({
      name: 'enclave_gate_policy_evaluations_total',
      help: 'Policy evaluations by entrypoint and outcome (allow, deny, failure)',
      labelNames: ['entrypoint', 'outcome'],
      registers,
    }),
    piiFindings: new HotCounter({
      name: 'enclave_gate_pii_findings_total',
      help: 'PII found by the scanner, by type and direction (request, response, stream); counts only, never values',
      labelNames: ['type', 'direction'],
      registers,
    }),
    upstreamConnections: new Counter({
      name: 'enclave_gate_upstream_connections_opened_total',
      help: 'Connections opened to the model server',
      registers,
    }),
    // min: the service is ready only when every worker is.
    ready: new Gauge({ name: 'enclave_gate_ready', help: '1 when the policy is loaded and the certificate issued', aggregator: 'min', registers }),
    certExpiry: new Gauge({
      name: 'enclave_gate_certificate_expiry_timestamp_seconds',
      help: 'Unix time at which the serving RA-TLS certificate expires',
      // min: the first worker certificate to expire is the one an expiry alert must see.
      aggregator: 'min',
      registers,
    }),
    evidenceTimestamp: new Gauge({
      name: 'enclave_gate_evidence_timestamp_seconds',
      help: 'Unix time at which the serving attestation evidence was obtained',
      // min: the oldest evidence any worker still serves.
      aggregator: 'min',
      registers,
    }),
    attestationInsecure: new Gauge({
      name: 'enclave_gate_attestation_insecure',
      help: '1 while the proxy serves evidence from an insecure provider (simulated)',
      labelNames: ['provider'],
      // max: one insecure worker makes the service insecure.
      aggregator: 'max',
      registers,
    }),
    policyInfo: new Gauge({
      name: 'enclave_gate_policy_info',
      help: 'Active policy bundle (value is always 1)',
      labelNames: ['revision', 'digest'],
      // max keeps the value 1 per revision; two series mean workers disagree (then /readyz is 503).
      aggregator: 'max',
      registers,
    }),
    policyBundleActivations: new Counter({
      name: 'enclave_gate_policy_bundle_activations_total',
      help: 'Policy bundles activated after start (new digest in service, certificate re-issued)',
      // max: every worker activates the same bundles, so a sum would count each one once per worker.
      aggregator: 'max',
      registers,
    }),
    policyBundleFailures: new Counter({
      name: 'enclave_gate_policy_bundle_failures_total',
      help: 'Policy bundles not activated (the previous one stays), by reason',
      labelNames: ['reason'],
      registers,
    }),
    certificateRotations: new Counter({
      name: 'enclave_gate_certificate_rotations_total',
      help: 'RA-TLS certificate issuances after start, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    certificateValid: new Gauge({
      name: 'enclave_gate_certificate_valid',
      help: '1 while the served RA-TLS certificate is within its validity; 0 once it expired without renewal',
      // min: 0 as soon as any worker serves an expired certificate.
      aggregator: 'min',
      registers,
    }),
    partyRequests: new Counter({
      name: 'enclave_gate_party_requests_total',
      help: 'Requests under a policy rate limit, by party (first 64 parties, then "other") and outcome (allowed, rate_limited)',
      labelNames: ['party', 'outcome'],
      registers,
    }),
    partyTokens: new Counter({
      name: 'enclave_gate_party_tokens_total',
      help: 'Model tokens (usage.total_tokens) charged to a party, by party (bounded as above)',
      labelNames: ['party'],
      registers,
    }),
    decisionLogEvents: new Counter({
      name: 'enclave_gate_decision_log_events_total',
      help: 'Decision log events by outcome: written, dropped (buffer full, drop-oldest), refused (buffer full, fail-closed), mask_failed (mask rule failed, whole input erased)',
      labelNames: ['outcome'],
      registers,
    }),
    decisionLogBatches: new Counter({
      name: 'enclave_gate_decision_log_batches_total',
      help: 'Signed decision log batches handed to a sink, by sink (file, http) and outcome (ok, failed)',
      labelNames: ['sink', 'outcome'],
      registers,
    }),
    decisionLogBuffered: new Gauge({ name: 'enclave_gate_decision_log_buffered', help: 'Decision log events waiting for a sink', registers }),
  };
}

/** Metrics only the cluster primary keeps (docs/workers.md); merged with the workers' at scrape time. */
export interface PrimaryMetrics {
  readonly registry: Registry;
  /** Worker processes by state: `configured` (wanted), `running` (alive), `ready` (serving the primary's policy). */
  readonly workers: Gauge<'state'>;
  /** Workers that exited unexpectedly and were replaced, by how they ended (`signal` or `exit`). */
  readonly workerRestarts: Counter<'cause'>;
  /**
   * Bundles the primary refused before any worker saw them. Same name as the
   * workers' counter so the merged series counts every refusal once.
   */
  readonly policyBundleFailures: Counter<'reason'>;
}

/** Creates the primary's registry; it never collects process metrics (the workers' are the ones that matter). */
export function createPrimaryMetrics(): PrimaryMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    workers: new Gauge({
      name: 'enclave_gate_workers',
      help: 'Worker processes by state: configured, running, ready (serving the primary policy)',
      labelNames: ['state'],
      registers,
    }),
    workerRestarts: new Counter({
      name: 'enclave_gate_worker_restarts_total',
      help: 'Workers that exited unexpectedly and were replaced, by cause (signal, exit)',
      labelNames: ['cause'],
      registers,
    }),
    policyBundleFailures: new Counter({
      name: 'enclave_gate_policy_bundle_failures_total',
      help: 'Policy bundles not activated (the previous one stays), by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}
