/**
 * A cluster worker (docs/workers.md): one full gateway (evidence provider,
 * its own in-memory TLS key and RA-TLS certificate, policy engine, upstream
 * pool, RA-TLS listener on the shared port) without an admin listener and
 * without a bundle source of its own. Its configuration and every policy
 * bundle come from the primary, so all workers enforce the same revision.
 */
import cluster from 'node:cluster';
import { configSchema, type Config } from '../../config/index.js';
import { EnclaveGateError, EXIT, describeThrown } from '../../errors.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import type { BundleHandlers, BundleSource } from '../../policy/bundle-source.js';
import { startGateway, type Gateway } from '../gateway.js';
import { isOurs, type BundleDelivery, type FromWorker, type ToWorker } from './messages.js';

function send(message: FromWorker, callback?: () => void): void {
  if (process.send === undefined || !process.connected) return callback?.();
  process.send(message, undefined, {}, () => callback?.());
}

const digestOf = (gateway: Gateway): string => `${gateway.policy.digest.alg}:${gateway.policy.digest.hex}`;

/**
 * A BundleSource fed by the primary. Deliveries are handled one at a time, in
 * order; one that arrives while the gateway is still starting waits for
 * `start()`. Each is answered with `bundle-done` and the digest then in force.
 */
function primaryBundleSource(initial: BundleDelivery, digest: () => string): BundleSource & { deliver(bundle: BundleDelivery): void } {
  let handlers: BundleHandlers | undefined;
  let closed = false;
  const waiting: BundleDelivery[] = [];
  let chain: Promise<void> = Promise.resolve();

  const handle = (bundle: BundleDelivery): void => {
    chain = chain.then(async () => {
      if (closed || handlers === undefined) return;
      let ok = false;
      try {
        ok = await handlers.bundle(bundle.bytes, bundle.origin);
      } catch {
        // The gateway's activation catches its own failures; anything else counts as not activated.
      }
      send({ type: 'enclave-gate:bundle-done', seq: bundle.seq, ok, digest: digest() });
    });
  };
  return {
    description: `cluster primary (${initial.origin})`,
    initial: () => Promise.resolve(initial.bytes),
    start(h) {
      handlers = h;
      for (const bundle of waiting.splice(0)) handle(bundle);
    },
    check: () => chain,
    async close() {
      closed = true;
      await chain;
    },
    deliver(bundle) {
      if (handlers === undefined) waiting.push(bundle);
      else handle(bundle);
    },
  };
}

/** Waits for the primary's `start` message (sent in answer to `hello`). */
function awaitStart(): Promise<{ config: Config; bundle: BundleDelivery }> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (!isOurs<ToWorker>(message) || message.type !== 'enclave-gate:start') return;
      process.off('message', onMessage);
      resolve({ config: configSchema.parse(message.config), bundle: message.bundle });
    };
    process.on('message', onMessage);
    send({ type: 'enclave-gate:hello' });
  });
}

/** Runs this process as a worker until the primary (or SIGTERM) tells it to drain; then exits. */
export async function runWorker(): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  // Ctrl-C reaches the whole process group; the primary coordinates the
  // drain, so a worker waits for its `shutdown` message instead.
  process.on('SIGINT', () => undefined);
  const { config, bundle } = await awaitStart();
  const logger: Logger = createLogger(config.log.level, undefined, { worker: id });
  const metrics = createMetrics();
  let gateway: Gateway | undefined;
  const source = primaryBundleSource(bundle, () => (gateway === undefined ? '' : digestOf(gateway)));

  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'worker draining');
    const done = gateway === undefined ? Promise.resolve() : gateway.close();
    done.then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        logger.error({ err: describeThrown(err) }, 'worker did not close cleanly');
        process.exit(EXIT.startup);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  process.on('message', (message: unknown) => {
    if (!isOurs<ToWorker>(message)) return;
    switch (message.type) {
      case 'enclave-gate:bundle':
        source.deliver(message.bundle);
        return;
      case 'enclave-gate:readiness': {
        const { ready, detail } = gateway?.readiness() ?? { ready: false, detail: { starting: true } };
        send({ type: 'enclave-gate:readiness', id: message.id, ready: ready && !stopping, detail });
        return;
      }
      case 'enclave-gate:metrics':
        metrics.registry.getMetricsAsJSON().then(
          (json) => send({ type: 'enclave-gate:metrics', id: message.id, metrics: json }),
          () => send({ type: 'enclave-gate:metrics', id: message.id, metrics: [] }),
        );
        return;
      case 'enclave-gate:shutdown':
        shutdown('primary asked');
        return;
      default:
        return;
    }
  });

  try {
    gateway = await startGateway({ config, logger, metrics, bundleSource: source, adminListener: false });
  } catch (err) {
    const error = err instanceof EnclaveGateError ? err : new EnclaveGateError('EG_INTERNAL', describeThrown(err), { cause: err });
    logger.error({ code: error.code, err: error.message }, 'worker failed to start');
    // The primary reports the failure (and exits with its code); the worker only has to go.
    send({ type: 'enclave-gate:failed', code: error.code, message: error.message }, () => process.exit(error.exitCode));
    return;
  }
  send({ type: 'enclave-gate:ready', url: gateway.url, digest: digestOf(gateway) });
}
