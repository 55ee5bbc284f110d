/**
 * The cluster primary (docs/workers.md): it owns what must be one per
 * service and hands the rest to N worker processes that share the RA-TLS
 * port through node:cluster.
 *
 * Owned here: the policy bundle source (file watch or HTTP poll), so every
 * worker activates the same bytes; the admin listener, whose /readyz is ready
 * only when every worker is ready with the primary's policy and whose
 * /metrics merges every worker's registry; replacing a worker that dies (with
 * exponential backoff, so a crash loop does not spin); and the graceful
 * drain of all workers on shutdown.
 *
 * Not owned here: keys, certificates and evidence. Each worker generates its
 * own TLS key in its own memory and gets its own evidence for it; the primary
 * never sees a key, so none crosses the IPC channel.
 */
import cluster, { type Worker } from 'node:cluster';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { splitHostPort, type Config } from '../../config/index.js';
import { EnclaveGateError, describeThrown, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { createPrimaryMetrics, type PrimaryMetrics } from '../../observability/metrics.js';
import { bundleFailureReason, type BundleSource } from '../../policy/bundle-source.js';
import { compilePolicyDirectory } from '../../policy/compile.js';
import { loadPolicy, loadPolicyBundle, type LoadPolicyOptions } from '../../policy/engine.js';
import { DEFAULT_POLICY_BUNDLE } from '../../util/package-root.js';
import { createAdminServer } from '../admin.js';
import { configuredBundleSource, policyLoadOptions, type Readiness } from '../gateway.js';
import { closeGracefully, listen } from '../server.js';
import { isOurs, type BundleDelivery, type FromWorker, type ToWorker } from './messages.js';

/** First delay before replacing a crashed worker; doubles per crash within {@link CRASH_WINDOW_MS}. */
const RESTART_MIN_MS = 100;
/** Longest delay before replacing a crashed worker. */
const RESTART_MAX_MS = 30_000;
/** Crashes older than this no longer lengthen the delay. */
const CRASH_WINDOW_MS = 60_000;
/** How long the primary waits for a worker to answer a readiness or metrics question. */
const ASK_TIMEOUT_MS = 2000;
/** How long a worker may take to activate a bundle (it re-issues its certificate, i.e. asks the TEE for a quote). */
const ACTIVATE_TIMEOUT_MS = 120_000;
/** Extra time, beyond shutdownGraceMs, that workers get to exit before they are killed. */
const EXIT_MARGIN_MS = 5000;

/**
 * How long to wait before replacing a crashed worker, given the times (ms) of
 * the crashes so far, the newest last: 100 ms after an isolated crash,
 * doubling for every other crash in the last minute, at most 30 s. A worker
 * that dies at start-up over and over (say the TEE device went away) is
 * retried about twice a minute instead of in a tight loop.
 */
export function restartDelayMs(crashTimes: readonly number[], now: number): number {
  const recent = crashTimes.filter((t) => t > now - CRASH_WINDOW_MS).length;
  return Math.min(RESTART_MIN_MS * 2 ** Math.max(recent - 1, 0), RESTART_MAX_MS);
}

/** `workers: auto` → one per CPU this process may use. */
export function resolveWorkerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/** Inputs to {@link startClusterPrimary}. */
export interface ClusterOptions {
  readonly config: Config;
  /** Resolved worker count (≥ 1; 1 still runs one worker process). */
  readonly workers: number;
  readonly logger: Logger;
}

/** A running primary. */
export interface ClusterPrimary {
  /** https://host:port the workers share. */
  readonly url: string;
  /** http://host:port of the admin listener. */
  readonly adminUrl: string;
  /** Drains every worker (in-flight requests finish, up to shutdownGraceMs), then stops the admin listener. */
  close(): Promise<void>;
}

/** The bundle the workers must serve. */
interface Target extends BundleDelivery {
  /** `alg:hex` of the bundle, as the workers report it. */
  readonly digest: string;
  readonly revision: string;
}

interface WorkerState {
  readonly worker: Worker;
  /** Sent `ready`; stays true until it exits. */
  ready: boolean;
  /** Digest of the policy it last reported in force. */
  digest: string | undefined;
  url: string | undefined;
  /** Its start-up failure, when it reported one. */
  failure: { code: ErrorCode; message: string } | undefined;
  /** Answers awaited from it, by key; called with undefined when it exits. */
  readonly waiting: Map<string, (reply: FromWorker | undefined) => void>;
  readonly exited: Promise<unknown>;
}

/** A source that always has the same bytes: a Rego directory compiled once at start. */
function fixedBundleSource(description: string, bytes: Uint8Array): BundleSource {
  return {
    description,
    initial: () => Promise.resolve(bytes),
    start: () => undefined,
    check: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** The primary's bundle source; a Rego directory is compiled here so every worker loads identical bytes. */
async function primaryBundleSource(config: Config, loadOptions: LoadPolicyOptions): Promise<BundleSource> {
  const configured = configuredBundleSource(config);
  if (configured !== undefined) return configured;
  const path = config.policy.path ?? DEFAULT_POLICY_BUNDLE;
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory() === true) return fixedBundleSource(path, await compilePolicyDirectory(path, loadOptions));
  // Neither a bundle nor a directory: loadPolicy throws the same error a single process would.
  await loadPolicy(path, loadOptions);
  throw new EnclaveGateError('EG_POLICY_LOAD_FAILED', `policy source ${path} is neither a directory nor a .tar.gz bundle`, { details: { stage: 'load' } });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Resolves true when `promise` settles within `ms`, false otherwise. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

const policyDigestIn = (detail: Record<string, unknown> | undefined): string | undefined => {
  const policy = detail?.['policy'];
  return typeof policy === 'object' && policy !== null && typeof (policy as { digest?: unknown }).digest === 'string' ? (policy as { digest: string }).digest : undefined;
};

/**
 * Starts the admin listener and `options.workers` workers, and resolves once
 * every worker serves the policy. A worker that fails to start fails the
 * whole start with that worker's catalogue error (and exit code).
 */
export async function startClusterPrimary(options: ClusterOptions): Promise<ClusterPrimary> {
  const { config, logger } = options;
  const count = options.workers;
  const metrics: PrimaryMetrics = createPrimaryMetrics();
  const loadOptions = await policyLoadOptions(config);
  const source = await primaryBundleSource(config, loadOptions);

  // The primary loads every bundle once itself (signature, archive, wasm) so
  // a bundle the workers would refuse never reaches them, and so it knows the
  // digest it waits for them to report.
  const initialBytes = await source.initial();
  const first = await loadPolicyBundle(initialBytes, loadOptions);
  let target: Target = {
    seq: 1,
    bytes: initialBytes,
    origin: source.description,
    digest: `${first.digest.alg}:${first.digest.hex}`,
    revision: first.revision,
  };
  logger.info({ source: source.description, revision: target.revision, digest: target.digest, workers: count }, 'policy loaded; starting workers');

  const workers = new Map<number, WorkerState>();
  const restartTimers = new Set<NodeJS.Timeout>();
  const crashes: number[] = [];
  let started = false;
  let closing = false;
  let askCounter = 0;
  let url = '';
  let settleStartup: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const startup = new Promise<void>((resolve, reject) => {
    settleStartup = { resolve, reject };
  });

  const servesTarget = (state: WorkerState): boolean => state.ready && state.digest === target.digest;
  const send = (state: WorkerState, message: ToWorker): boolean => {
    if (!state.worker.isConnected()) return false;
    state.worker.send(message);
    return true;
  };

  /** Sends `message` and waits for the answer with the same key (undefined on timeout or exit). */
  const ask = (state: WorkerState, key: string, message: ToWorker, timeoutMs: number): Promise<FromWorker | undefined> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (reply: FromWorker | undefined): void => {
        clearTimeout(timer);
        state.waiting.delete(key);
        resolve(reply);
      };
      state.waiting.set(key, finish);
      if (!send(state, message)) finish(undefined);
    });

  /** Hands `bundle` to one worker; true once it reports that bundle's digest in force. */
  const deliver = async (state: WorkerState, bundle: Target): Promise<boolean> => {
    const reply = await ask(state, `bundle:${bundle.seq}`, { type: 'enclave-gate:bundle', bundle: { seq: bundle.seq, bytes: bundle.bytes, origin: bundle.origin } }, ACTIVATE_TIMEOUT_MS);
    return reply?.type === 'enclave-gate:bundle-done' && reply.ok && reply.digest === bundle.digest;
  };

  /**
   * Brings a worker that came up with an older bundle (one activated while it
   * was starting) to the bundle in force, retrying with backoff while it lives.
   */
  const catchUp = async (state: WorkerState): Promise<void> => {
    for (let attempt = 0; !closing && workers.has(state.worker.id) && state.digest !== target.digest; attempt++) {
      if (await deliver(state, target)) return;
      await sleep(Math.min(1000 * 2 ** attempt, 60_000));
    }
  };

  const onMessage = (state: WorkerState, message: unknown): void => {
    if (!isOurs<FromWorker>(message)) return;
    switch (message.type) {
      case 'enclave-gate:hello':
        send(state, { type: 'enclave-gate:start', config, bundle: { seq: target.seq, bytes: target.bytes, origin: target.origin } });
        return;
      case 'enclave-gate:ready':
        state.ready = true;
        state.digest = message.digest;
        state.url = message.url;
        if (url === '') url = message.url;
        logger.info({ worker: state.worker.id, pid: state.worker.process.pid }, 'worker ready');
        // A bundle activated while it was starting: bring it up to date.
        if (message.digest !== target.digest) void catchUp(state);
        if (!started && [...workers.values()].filter((s) => s.ready).length === count) {
          started = true;
          settleStartup?.resolve();
        }
        return;
      case 'enclave-gate:failed':
        state.failure = { code: message.code, message: message.message };
        return;
      case 'enclave-gate:bundle-done':
        state.digest = message.digest;
        state.waiting.get(`bundle:${message.seq}`)?.(message);
        return;
      case 'enclave-gate:readiness':
      case 'enclave-gate:metrics':
        state.waiting.get(`ask:${message.id}`)?.(message);
        return;
      default:
        return;
    }
  };

  const scheduleReplacement = (state: WorkerState, code: number | null, signal: string | null): void => {
    metrics.workerRestarts.inc({ cause: signal === null ? 'exit' : 'signal' });
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! <= now - CRASH_WINDOW_MS) crashes.shift();
    const delay = restartDelayMs(crashes, now);
    logger.error(
      { worker: state.worker.id, pid: state.worker.process.pid, code, signal, ...(state.failure ?? {}), restartInMs: delay },
      'worker exited unexpectedly; replacing it',
    );
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!closing) fork();
    }, delay);
    restartTimers.add(timer);
  };

  const onExit = (state: WorkerState, code: number | null, signal: string | null): void => {
    workers.delete(state.worker.id);
    for (const finish of [...state.waiting.values()]) finish(undefined);
    if (closing) return;
    if (!started) {
      const failure = state.failure;
      settleStartup?.reject(
        failure === undefined
          ? new EnclaveGateError('EG_INTERNAL', `worker ${state.worker.id} exited (${signal ?? `code ${code}`}) before it was ready`)
          : new EnclaveGateError(failure.code, `worker ${state.worker.id}: ${failure.message}`),
      );
      return;
    }
    scheduleReplacement(state, code, signal);
  };

  function fork(): WorkerState {
    const worker = cluster.fork();
    const state: WorkerState = {
      worker,
      ready: false,
      digest: undefined,
      url: undefined,
      failure: undefined,
      waiting: new Map(),
      // Not events.once: that rejects on an 'error' event, and an IPC error is no exit.
      exited: new Promise((resolve) => worker.once('exit', resolve)),
    };
    workers.set(worker.id, state);
    worker.on('message', (message: unknown) => onMessage(state, message));
    // A send racing the worker's exit fails with EPIPE; the exit handler deals with the worker.
    worker.on('error', (err: Error) => logger.warn({ worker: worker.id, err: describeThrown(err) }, 'IPC with worker failed'));
    worker.on('exit', (code: number | null, signal: string | null) => onExit(state, code, signal));
    return state;
  }

  const readiness = async (): Promise<Readiness> => {
    const states = [...workers.values()];
    const replies = await Promise.all(
      states.map((state) => {
        const id = ++askCounter;
        return ask(state, `ask:${id}`, { type: 'enclave-gate:readiness', id }, ASK_TIMEOUT_MS);
      }),
    );
    const listed = states.map((state, i) => {
      const reply = replies[i];
      const answer = reply?.type === 'enclave-gate:readiness' ? reply : undefined;
      return { id: state.worker.id, pid: state.worker.process.pid, ready: answer?.ready ?? false, ...(answer?.detail ?? { unreachable: true }) };
    });
    const allServeTarget = listed.every((w) => w.ready && policyDigestIn(w) === target.digest);
    return {
      ready: started && !closing && listed.length === count && allServeTarget,
      detail: {
        policy: { revision: target.revision, digest: target.digest },
        policySource: source.description,
        configuredWorkers: count,
        workers: listed,
        draining: closing,
      },
    };
  };

  const mergedMetrics = async (): Promise<string> => {
    const states = [...workers.values()];
    metrics.workers.set({ state: 'configured' }, count);
    metrics.workers.set({ state: 'running' }, states.filter((s) => s.worker.isConnected()).length);
    metrics.workers.set({ state: 'ready' }, states.filter(servesTarget).length);
    const replies = await Promise.all(
      states.map((state) => {
        const id = ++askCounter;
        return ask(state, `ask:${id}`, { type: 'enclave-gate:metrics', id }, ASK_TIMEOUT_MS);
      }),
    );
    const sets: object[] = replies.flatMap((reply) => (reply?.type === 'enclave-gate:metrics' ? [reply.metrics] : []));
    sets.push(await metrics.registry.getMetricsAsJSON());
    return AggregatorRegistry.aggregate(sets).metrics();
  };

  const admin = createAdminServer({
    metrics: { registry: { contentType: metrics.registry.contentType, metrics: mergedMetrics } },
    readiness,
  });
  const adminAddress = splitHostPort(config.admin);
  const adminPort = await listen(admin, adminAddress.host, adminAddress.port);
  const adminUrl = `http://${adminAddress.host.includes(':') ? `[${adminAddress.host}]` : adminAddress.host}:${adminPort}`;

  const stopWorkers = async (): Promise<void> => {
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    const states = [...workers.values()];
    const exits = Promise.all(states.map((s) => s.exited));
    for (const state of states) {
      if (!send(state, { type: 'enclave-gate:shutdown' })) state.worker.process.kill('SIGTERM');
    }
    if (!(await within(exits, config.shutdownGraceMs + EXIT_MARGIN_MS))) {
      for (const state of workers.values()) {
        logger.warn({ worker: state.worker.id, pid: state.worker.process.pid }, 'worker did not drain in time; killing it');
        state.worker.process.kill('SIGKILL');
      }
      await within(exits, EXIT_MARGIN_MS);
    }
  };

  // Bundles travel as Uint8Array (structured clone), not as a JSON array of numbers.
  cluster.setupPrimary({ serialization: 'advanced' });
  for (let i = 0; i < count; i++) fork();
  try {
    await startup;
  } catch (err) {
    closing = true;
    await stopWorkers();
    await source.close();
    await closeGracefully(admin, 0);
    throw err;
  }

  source.start({
    bundle: async (bytes, origin) => {
      let digest: string;
      let revision: string;
      try {
        const engine = await loadPolicyBundle(bytes, loadOptions);
        digest = `${engine.digest.alg}:${engine.digest.hex}`;
        revision = engine.revision;
      } catch (err) {
        const reason = bundleFailureReason(err);
        metrics.policyBundleFailures.inc({ reason });
        logger.error({ origin, reason, err: describeThrown(err) }, 'policy bundle refused; the workers keep the active one');
        return true;
      }
      if (digest !== target.digest) {
        target = { seq: target.seq + 1, bytes, origin, digest, revision };
        logger.info({ origin, revision, digest }, 'new policy bundle; handing it to every worker');
      }
      const bundle = target;
      const behind = [...workers.values()].filter((s) => s.ready && s.digest !== bundle.digest);
      const results = await Promise.all(behind.map((s) => deliver(s, bundle)));
      const everywhere = results.every(Boolean);
      if (behind.length > 0 && everywhere) logger.info({ revision, digest, workers: behind.length }, 'policy bundle active on every worker');
      if (!everywhere) logger.warn({ revision, digest }, 'policy bundle not active on every worker yet; /readyz stays 503 until it is');
      // false makes the source offer the same bytes again later.
      return everywhere;
    },
    failure: (reason, err) => {
      metrics.policyBundleFailures.inc({ reason });
      logger.warn({ origin: source.description, reason, err: describeThrown(err) }, 'policy bundle source failed; keeping the active bundle');
    },
  });
  logger.info({ url, admin: adminUrl, workers: count, upstream: config.upstream }, 'enclave-gate is serving');

  let closed: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    close() {
      closed ??= (async () => {
        closing = true;
        await source.close();
        await stopWorkers();
        await closeGracefully(admin, 1000);
      })();
      return closed;
    },
  };
}
