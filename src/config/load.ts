/**
 * Builds the configuration from its sources, in increasing precedence:
 * defaults < config file < ENCLAVE_GATE_* environment < command-line flags.
 * Sources are arguments (not process globals) so tests pass plain values.
 * Every problem is collected and reported in one EG_CONFIG_INVALID error; the
 * result is deep-frozen.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { EnclaveGateError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { deepFreeze } from '../util/deep-freeze.js';

/** A flag or environment variable that overrides one config key. */
interface Override {
  readonly flag: string;
  readonly env: string;
  readonly path: readonly string[];
}

/** The overrides `serve` accepts; the env names mirror the flags. */
export const OVERRIDES: readonly Override[] = [
  { flag: 'listen', env: 'ENCLAVE_GATE_LISTEN', path: ['listen'] },
  { flag: 'admin', env: 'ENCLAVE_GATE_ADMIN', path: ['admin'] },
  { flag: 'upstream', env: 'ENCLAVE_GATE_UPSTREAM', path: ['upstream'] },
  { flag: 'policy', env: 'ENCLAVE_GATE_POLICY', path: ['policy', 'path'] },
  { flag: 'attestation', env: 'ENCLAVE_GATE_ATTESTATION', path: ['attestation', 'provider'] },
  { flag: 'log-level', env: 'ENCLAVE_GATE_LOG_LEVEL', path: ['log', 'level'] },
  { flag: 'workers', env: 'ENCLAVE_GATE_WORKERS', path: ['workers'] },
  { flag: 'decision-log', env: 'ENCLAVE_GATE_DECISION_LOG', path: ['decisionLog', 'path'] },
];

/** Environment variable naming the config file (the `--config` flag wins). */
export const CONFIG_ENV = 'ENCLAVE_GATE_CONFIG';

/** Inputs to `loadConfig`. */
export interface ConfigSources {
  /** Path of a YAML or JSON config file. */
  readonly file?: string;
  /** Environment (only ENCLAVE_GATE_* keys are read). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by flag name without dashes, e.g. `{ listen: '0.0.0.0:8443' }`. */
  readonly flags?: Readonly<Record<string, string | undefined>>;
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path.at(-1)!] = value;
}

function readFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `config file ${path} cannot be read`, { cause });
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `config file ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, { cause });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', `config file ${path} must hold a mapping at the top level`);
  }
  return value as Tree;
}

/** Loads, validates and freezes the configuration. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const file = sources.file ?? env[CONFIG_ENV];
  const tree: Tree = file ? structuredClone(readFile(file)) : {};
  for (const override of OVERRIDES) {
    const fromEnv = env[override.env];
    if (fromEnv !== undefined && fromEnv !== '') setPath(tree, override.path, fromEnv);
  }
  for (const override of OVERRIDES) {
    const fromFlag = flags[override.flag];
    if (fromFlag !== undefined) setPath(tree, override.path, fromFlag);
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    });
    throw new EnclaveGateError('EG_CONFIG_INVALID', `configuration has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  return deepFreeze(result.data);
}

/** Splits HOST:PORT (IPv6 in brackets) into its parts. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)) };
}
