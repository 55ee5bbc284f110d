/**
 * Starts the real gateway for integration tests: real TLS listener on a
 * random loopback port, simulated attestation, the built default policy
 * bundle (built on demand with the pinned OPA), logs discarded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { configSchema, type ConfigInput } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/proxy/gateway.js';
import { DEFAULT_POLICY_BUNDLE, PACKAGE_ROOT } from '../../src/util/package-root.js';

/** Builds rego/ into the default bundle once per test run when it is missing. */
export function ensurePolicyBundle(): string {
  if (!existsSync(DEFAULT_POLICY_BUNDLE)) {
    execFileSync('bash', [join(PACKAGE_ROOT, 'rego', 'toolchain', 'build.sh')], { stdio: 'inherit' });
  }
  return DEFAULT_POLICY_BUNDLE;
}

/** Starts a gateway on random ports in front of `upstream`. */
export async function startTestGateway(upstream: string, overrides: Record<string, unknown> = {}, extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  ensurePolicyBundle();
  const base = { listen: '127.0.0.1:0', admin: '127.0.0.1:0', upstream, log: { level: 'silent' }, shutdownGraceMs: 2000 };
  const merged: Record<string, unknown> = { ...base, ...overrides };
  const parsed = configSchema.parse(merged as ConfigInput);
  return startGateway({ config: parsed, logger: createLogger('silent'), metrics: createMetrics({ defaults: false }), ...extra });
}

/** An undici Agent that trusts exactly this gateway's certificate (real verification, no -k). */
export function trustingAgent(gateway: Gateway): Dispatcher {
  return new Agent({ connect: { ca: gateway.certificate.certPem, servername: 'localhost' } });
}

/** What an integration test file starts and must close when it is done. */
export interface TestResources {
  readonly gateways: readonly { close(): Promise<void> }[];
  readonly agents: readonly { close(): Promise<void> }[];
  readonly upstream: { close(): Promise<void> } | undefined;
  /** A scratch directory to remove, if one was made. */
  readonly scratch: string | undefined;
}

/** Closes the gateways, then the agents and the upstream, and removes the scratch directory. */
export async function closeTestResources({ gateways, agents, upstream, scratch }: TestResources): Promise<void> {
  for (const gw of gateways) await gw.close();
  for (const agent of agents) await agent.close();
  await upstream?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
