/**
 * Builds the signed decision log from `decisionLog` configuration
 * (docs/audit.md): the signing key, the sinks and the log.
 */
import { readFileSync } from 'node:fs';
import { EnclaveGateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { AuditSigner, DecisionLog, type DecisionLogSink, type OverflowPolicy } from './decision-log.js';
import { FileSink } from './file-sink.js';
import { HttpSink } from './http-sink.js';

export { AuditSigner, DecisionLog } from './decision-log.js';
export type { DecisionLogEntry } from './decision-log.js';

/** `decisionLog` as the configuration schema gives it. */
export interface DecisionLogConfig {
  readonly path?: string | undefined;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  readonly url?: string | undefined;
  readonly urlCa?: string | undefined;
  readonly urlTimeoutMs: number;
  readonly batchEvents: number;
  readonly flushIntervalMs: number;
  readonly maxBufferedEvents: number;
  readonly overflow: OverflowPolicy;
  readonly blockTimeoutMs: number;
  readonly mask: readonly string[];
}

/** A signing key when the decision log is on, else undefined. */
export async function createAuditSigner(config: { readonly decisionLog: DecisionLogConfig }): Promise<AuditSigner | undefined> {
  const { path, url } = config.decisionLog;
  return path === undefined && url === undefined ? undefined : new AuditSigner();
}

function pemOf(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `decisionLog.urlCa: cannot read ${value}`, { cause });
  }
}

/** Opens the sinks and starts the log. */
export async function createDecisionLog(
  config: DecisionLogConfig,
  deps: { readonly signer: AuditSigner; readonly certificate: () => string; readonly metrics?: Metrics; readonly logger?: Logger; readonly credentialHeader?: string },
): Promise<DecisionLog> {
  const sinks: DecisionLogSink[] = [];
  if (config.path !== undefined) sinks.push(await FileSink.open({ path: config.path, maxBytes: config.maxFileBytes, maxFiles: config.maxFiles }));
  if (config.url !== undefined) {
    sinks.push(
      new HttpSink({
        url: config.url,
        ...(config.urlCa === undefined ? {} : { ca: pemOf(config.urlCa) }),
        timeoutMs: config.urlTimeoutMs,
        onFailure: (reason) => deps.logger?.warn({ sink: 'http', reason }, 'decision log upload failed; will retry'),
      }),
    );
  }
  deps.logger?.info(
    { path: config.path, url: config.url, overflow: config.overflow, instance: deps.signer.instance, signingKey: deps.signer.spki.toString('base64') },
    'decision log on: batches are signed with a key bound into the RA-TLS certificate (audit-key-hash)',
  );
  return new DecisionLog({
    sinks,
    signer: deps.signer,
    certificate: deps.certificate,
    batchEvents: config.batchEvents,
    flushIntervalMs: config.flushIntervalMs,
    maxBufferedEvents: config.maxBufferedEvents,
    overflow: config.overflow,
    blockTimeoutMs: config.blockTimeoutMs,
    mask: { extra: config.mask, ...(deps.credentialHeader === undefined ? {} : { headers: [deps.credentialHeader.toLowerCase()] }) },
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
  });
}
