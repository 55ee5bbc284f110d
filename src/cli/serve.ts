/**
 * `enclave-gate serve`: load the configuration from file, environment and
 * flags, start the gateway, and drain gracefully on SIGINT/SIGTERM. With
 * `workers` above 1 this process becomes the cluster primary and the gateway
 * runs in worker processes (docs/workers.md).
 */
import cluster from 'node:cluster';
import { CONFIG_ENV, OVERRIDES, loadConfig, type Config } from '../config/index.js';
import { startGateway, type Gateway } from '../proxy/gateway.js';
import { createLogger } from '../observability/logger.js';
import { resolveWorkerCount, startClusterPrimary } from '../proxy/cluster/primary.js';
import { runWorker } from '../proxy/cluster/worker.js';
import { parseFlags } from './args.js';

export const SERVE_USAGE = `Usage: enclave-gate serve [options]

Starts the RA-TLS proxy in front of a model server.

Options (each also settable as an environment variable, and in the config file):
  --config FILE             YAML or JSON config file            (${CONFIG_ENV})
  --listen HOST:PORT        RA-TLS listener   [127.0.0.1:8443]  (ENCLAVE_GATE_LISTEN)
  --admin HOST:PORT         admin listener    [127.0.0.1:9464]  (ENCLAVE_GATE_ADMIN)
  --upstream URL            http://host:port or unix:/path [http://127.0.0.1:8000] (ENCLAVE_GATE_UPSTREAM)
  --policy PATH             bundle .tar.gz or a Rego directory  (ENCLAVE_GATE_POLICY)
  --attestation PROVIDER    simulated|configfs-tsm|gramine|dstack|nitro|azure-vtpm|auto [simulated] (ENCLAVE_GATE_ATTESTATION)
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent [info] (ENCLAVE_GATE_LOG_LEVEL)
  --workers N|auto          processes serving the RA-TLS port; auto = one per CPU [1] (ENCLAVE_GATE_WORKERS)
  --decision-log PATH       write the signed decision log (JSON Lines) here (ENCLAVE_GATE_DECISION_LOG)
  -h, --help                show this help
`;

const FLAG_OPTIONS = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries(OVERRIDES.map((o) => [o.flag, { type: 'string' }])),
} as const;

/** Parses serve's flags into a validated configuration. */
export function configFromArgv(argv: string[], env: NodeJS.ProcessEnv): { config: Config; help: boolean } {
  const { values } = parseFlags(argv, FLAG_OPTIONS);
  if (values.help) return { config: loadConfig({ env: {} }), help: true };
  const flags: Record<string, string | undefined> = {};
  for (const o of OVERRIDES) flags[o.flag] = values[o.flag as keyof typeof values] as string | undefined;
  const file = values.config as string | undefined;
  return { config: loadConfig({ ...(file === undefined ? {} : { file }), env, flags }), help: false };
}

/** Stops `gateway` on the first SIGINT or SIGTERM; a second signal exits at once. */
export function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(130);
    closing = true;
    process.stderr.write(`enclave-gate: ${signal}, draining in-flight requests\n`);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Runs `serve`. */
export async function serve(argv: string[]): Promise<Gateway | undefined> {
  // A worker takes its configuration from the primary, not from argv, so a
  // replacement started later cannot pick up an edited config file.
  if (cluster.isWorker) {
    await runWorker();
    return undefined;
  }
  const { config, help } = configFromArgv(argv, process.env);
  if (help) {
    process.stdout.write(SERVE_USAGE);
    return undefined;
  }
  const workers = resolveWorkerCount(config.workers);
  if (workers > 1) {
    const primary = await startClusterPrimary({ config, workers, logger: createLogger(config.log.level, undefined, { role: 'primary' }) });
    closeOnSignals(() => primary.close());
    return undefined;
  }
  const gateway = await startGateway({ config, logger: createLogger(config.log.level) });
  closeOnSignals(() => gateway.close());
  return gateway;
}
