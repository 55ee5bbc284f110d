/**
 * deploy/ is checked offline, with real validators, and for agreement between
 * its parts:
 *
 * - every Kubernetes manifest passes `kubernetes-validate --strict` (PyPI; it
 *   bundles the Kubernetes API schemas, so no network). It has no schema for
 *   the Prometheus Operator's ServiceMonitor CRD; that one document is checked
 *   here for agreement with the Services it selects instead, and the test
 *   fails if any other kind goes unvalidated;
 * - each example's enclave-gate config (from its ConfigMap) loads with the
 *   proxy's own loadConfig, and the ports, probes, NetworkPolicy, Service,
 *   SANs, ServiceMonitor and Prometheus scrape config agree with it;
 * - `promtool check config` accepts the VM scrape config (Debian's promtool
 *   is built without Kubernetes service discovery, so the Kubernetes scrape
 *   config is checked for agreement only);
 * - `systemd-analyze verify` accepts the unit exactly as install.sh renders
 *   it, with no warning, and the shipped config file loads; install.sh, run
 *   into a staging root (DESTDIR) after a real build, lays out a package that
 *   starts with production dependencies only, and that stops with exit 12
 *   naming configfs-tsm where there is none;
 * - the container build's ignore files are identical and keep host artefacts
 *   out of the build context.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { ensurePolicyBundle } from '../helpers/gateway.js';
import { PYTHON } from '../helpers/python.js';

const run = promisify(execFile);
const DEPLOY = join(PACKAGE_ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, probed field by field

let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'eg-deploy-'));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs a command and returns its exit code and output instead of throwing. */
async function attempt(file: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: PACKAGE_ROOT, timeout: 120_000, maxBuffer: 8 << 20 });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw new Error(`${file} could not run (${e.message}); test/run.sh installs it`);
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const manifestFiles = (): string[] => readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f)).sort();

function documents(): Array<{ file: string; doc: Doc }> {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => ({ file, doc: d.toJS() as Doc })),
  );
}

function configOf(configMap: Doc, name: string): Config {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(path, configMap['data']['config.yaml'] as string);
  return loadConfig({ file: path, env: {} });
}

const portOf = (hostPort: string): number => Number(/:(\d+)$/.exec(hostPort)![1]);

describe('Kubernetes manifests', () => {
  it('pass kubernetes-validate --strict; only ServiceMonitor lacks a bundled schema', async () => {
    const files = manifestFiles().map((f) => join('deploy', 'kubernetes', f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const { code, out } = await attempt(PYTHON, ['-m', 'kubernetes_validate', '--strict', ...files]);
    expect(code, out).toBe(0);
    expect(out).not.toMatch(/^ERROR/m);
    const unvalidated = [...out.matchAll(/Couldn't find schema for kind (\S+)/g)].map((m) => m[1]);
    expect(new Set(unvalidated)).toEqual(new Set(['ServiceMonitor']));
    const passed = [...out.matchAll(/passed for resource (\S+)/g)].length;
    const all = documents().length;
    expect(passed + unvalidated.length).toBe(all);
  }, 120_000);

  it('kubernetes-validate rejects what it should (a misspelt field), so the pass above means something', async () => {
    const bad = readFileSync(join(K8S, 'ollama.yaml'), 'utf8').replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true');
    const path = join(scratch, 'bad.yaml');
    writeFileSync(path, bad);
    const { code, out } = await attempt(PYTHON, ['-m', 'kubernetes_validate', '--strict', path]);
    expect(code).not.toBe(0);
    expect(out).toMatch(/readOnlyRootFileSystem/);
  }, 120_000);

  const deployments = (): Array<{ file: string; deployment: Doc; all: Doc[] }> => {
    const byFile = new Map<string, Doc[]>();
    for (const { file, doc } of documents()) byFile.set(file, [...(byFile.get(file) ?? []), doc]);
    return [...byFile.entries()].flatMap(([file, all]) => all.filter((d) => d['kind'] === 'Deployment').map((deployment) => ({ file, deployment, all })));
  };

  it('each example: config loads; probes, ports, Service, SANs and NetworkPolicy agree with it', () => {
    const examples = deployments();
    expect(examples.map((e) => e.file).sort()).toEqual(['ollama.yaml', 'vllm-gpu.yaml']);
    for (const { file, deployment, all } of examples) {
      const ns = deployment['metadata']['namespace'] as string;
      const pod = deployment['spec']['template'];
      const labels = pod['metadata']['labels'] as Record<string, string>;
      expect(pod['spec']['runtimeClassName'], file).toMatch(/^kata-qemu-(nvidia-gpu-)?(snp|tdx)$/);

      const gate = (pod['spec']['containers'] as Doc[]).find((c) => c['name'] === 'enclave-gate')!;
      const configMapName = (pod['spec']['volumes'] as Doc[]).find((v) => v['configMap'])!['configMap']['name'] as string;
      const configMap = all.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === configMapName)!;
      const config = configOf(configMap, configMapName);
      expect(gate['args']).toEqual(['--config', '/etc/enclave-gate/config.yaml']);
      expect(config.attestation.provider).toBe('configfs-tsm');

      // Probes reach the admin listener on the pod IP: bound to all addresses, no `host`.
      const ports = Object.fromEntries((gate['ports'] as Doc[]).map((p) => [p['name'], p['containerPort']]));
      expect(config.admin, file).toMatch(/^0\.0\.0\.0:/);
      expect(ports['admin']).toBe(portOf(config.admin));
      expect(ports['ratls']).toBe(portOf(config.listen));
      for (const probe of [gate['readinessProbe'], gate['livenessProbe']]) {
        expect(probe['httpGet']['host'], file).toBeUndefined();
        expect(probe['httpGet']['port']).toBe('admin');
      }
      expect(gate['readinessProbe']['httpGet']['path']).toBe('/readyz');
      expect(gate['livenessProbe']['httpGet']['path']).toBe('/healthz');

      // configfs-tsm: root-owned attributes, so uid 0 with every capability dropped.
      expect(gate['securityContext']).toMatchObject({ runAsUser: 0, capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      expect(gate['securityContext']['capabilities']['add']).toBeUndefined();

      // The model listens on the pod's loopback, on the port the config forwards to.
      const upstream = new URL(config.upstream);
      expect(upstream.hostname).toBe('127.0.0.1');
      const model = (pod['spec']['containers'] as Doc[]).find((c) => c['name'] === 'model')!;
      const modelListen = JSON.stringify([model['args'] ?? [], model['env'] ?? []]);
      expect(modelListen, file).toMatch(new RegExp(`127\\.0\\.0\\.1[":=, ]+(--port=)?${upstream.port}|127\\.0\\.0\\.1:${upstream.port}`));

      // The Service carries the RA-TLS port, and the certificate names it.
      const service = all.find((d) => d['kind'] === 'Service')!;
      const svc = service['metadata']['name'] as string;
      expect(service['spec']['selector']).toEqual(labels);
      expect((service['spec']['ports'] as Doc[]).map((p) => p['targetPort']).sort()).toEqual(['admin', 'ratls']);
      expect(config.tls.subjectAltNames).toEqual(expect.arrayContaining([svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`]));

      // Only the RA-TLS port from anywhere and the admin port from monitoring; never the model port.
      const policy = all.find((d) => d['kind'] === 'NetworkPolicy')!;
      expect(policy['spec']['podSelector']['matchLabels']).toEqual(labels);
      expect(policy['spec']['policyTypes']).toEqual(['Ingress']);
      const rules = policy['spec']['ingress'] as Doc[];
      const admitted = rules.flatMap((r) => (r['ports'] as Doc[]).map((p) => p['port'] as number)).sort();
      expect(admitted).toEqual([portOf(config.listen), portOf(config.admin)].sort());
      expect(admitted).not.toContain(Number(upstream.port));
      const adminRule = rules.find((r) => (r['ports'] as Doc[]).some((p) => p['port'] === portOf(config.admin)))!;
      expect(adminRule['from']).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    }
  });

  it('the vLLM example asks for a GPU and names its model', () => {
    const vllm = deployments().find((e) => e.file === 'vllm-gpu.yaml')!;
    const model = (vllm.deployment['spec']['template']['spec']['containers'] as Doc[]).find((c) => c['name'] === 'model')!;
    expect(model['resources']['limits']['nvidia.com/gpu']).toBe('1');
    expect((model['args'] as string[]).some((a) => a.startsWith('--model='))).toBe(true);
  });

  it('the ServiceMonitor (no bundled schema) selects both Services by their admin port', () => {
    const monitor = documents().find((d) => d.doc['kind'] === 'ServiceMonitor')!.doc;
    const services = documents().filter((d) => d.doc['kind'] === 'Service').map((d) => d.doc);
    expect(monitor['apiVersion']).toBe('monitoring.coreos.com/v1');
    expect(monitor['metadata']['namespace']).toBe('monitoring');
    const expression = monitor['spec']['selector']['matchExpressions'][0] as Doc;
    for (const service of services) {
      expect(monitor['spec']['namespaceSelector']['matchNames']).toContain(service['metadata']['namespace']);
      expect(expression['values']).toContain(service['metadata']['labels'][expression['key'] as string]);
      expect((service['spec']['ports'] as Doc[]).map((p) => p['name'])).toContain(monitor['spec']['endpoints'][0]['port']);
    }
    expect(monitor['spec']['endpoints'][0]['path']).toBe('/metrics');
  });
});

describe('Prometheus scrape configs', () => {
  it('promtool accepts the VM scrape config, whose target is the systemd config admin address', async () => {
    const { code, out } = await attempt('promtool', ['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')]);
    expect(code, out).toBe(0);
    const scrape = parse(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as Doc;
    const vmConfig = loadConfig({ file: join(DEPLOY, 'systemd', 'enclave-gate.yaml'), env: {} });
    expect(scrape['scrape_configs'][0]['static_configs'][0]['targets']).toEqual([vmConfig.admin]);
  });

  it('the Kubernetes scrape config keeps the examples’ Services and their admin port', () => {
    const scrape = parse(readFileSync(join(DEPLOY, 'prometheus', 'prometheus-kubernetes.yml'), 'utf8')) as Doc;
    const job = scrape['scrape_configs'][0] as Doc;
    const services = documents().filter((d) => d.doc['kind'] === 'Service').map((d) => d.doc);
    expect(job['metrics_path']).toBe('/metrics');
    const keep = (label: string): RegExp => new RegExp(`^(?:${(job['relabel_configs'] as Doc[]).find((r) => r['source_labels'][0] === label)!['regex'] as string})$`);
    for (const service of services) {
      expect(job['kubernetes_sd_configs'][0]['namespaces']['names']).toContain(service['metadata']['namespace']);
      expect(service['metadata']['labels']['app.kubernetes.io/name']).toMatch(keep('__meta_kubernetes_service_label_app_kubernetes_io_name'));
    }
    expect('admin').toMatch(keep('__meta_kubernetes_endpoint_port_name'));
  });
});

describe('systemd', () => {
  it('systemd-analyze verify accepts the unit install.sh renders, without a warning', async () => {
    const rendered = await run('bash', [join(DEPLOY, 'systemd', 'install.sh'), '--print-unit'], { cwd: PACKAGE_ROOT });
    expect(rendered.stdout).toMatch(/^ExecStart=\/\S+\/node \/opt\/enclave-gate\/dist\/cli\/main\.js serve --config \/etc\/enclave-gate\/enclave-gate\.yaml$/m);
    const unit = join(scratch, 'enclave-gate.service');
    writeFileSync(unit, rendered.stdout);
    const { code, out } = await attempt('systemd-analyze', ['verify', unit]);
    expect(code, out).toBe(0);
    expect(out.trim()).toBe('');
  });

  it('systemd-analyze verify is not a rubber stamp: a misspelt directive is reported', async () => {
    mkdirSync(join(scratch, 'typo'));
    const unit = join(scratch, 'typo', 'enclave-gate.service');
    const text = readFileSync(join(DEPLOY, 'systemd', 'enclave-gate.service'), 'utf8').replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`).replace('ProtectHome=yes', 'ProtectHomes=yes');
    writeFileSync(unit, text);
    const { out } = await attempt('systemd-analyze', ['verify', unit]);
    expect(out).toMatch(/Unknown key.*ProtectHomes/);
  });

  it('the shipped config file loads, and install.sh installs it where the unit reads it', () => {
    const config = loadConfig({ file: join(DEPLOY, 'systemd', 'enclave-gate.yaml'), env: {} });
    expect(config.attestation.provider).toBe('configfs-tsm');
    expect(config.admin).toMatch(/^127\.0\.0\.1:/);
    const script = readFileSync(join(DEPLOY, 'systemd', 'install.sh'), 'utf8');
    expect(script).toContain('CONFIG=/etc/enclave-gate/enclave-gate.yaml');
    expect(script).toContain('PREFIX=/opt/enclave-gate');
    expect(readFileSync(join(DEPLOY, 'systemd', 'enclave-gate.service'), 'utf8')).toMatch(/^User=enclave-gate$/m);
  });
});

describe('install.sh into a staging root', () => {
  let stage: string;

  beforeAll(async () => {
    // What install.sh expects: a built checkout (npm run build, policy:build).
    await run(join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: PACKAGE_ROOT, timeout: 240_000 });
    ensurePolicyBundle();
    stage = join(scratch, 'stage');
    const install = await run('bash', [join(DEPLOY, 'systemd', 'install.sh')], { cwd: PACKAGE_ROOT, env: { ...process.env, DESTDIR: stage }, timeout: 240_000 });
    expect(install.stdout).toMatch(/installed the package in/);
  }, 300_000);

  const installed = (...parts: string[]): string => join(stage, 'opt', 'enclave-gate', ...parts);

  it('lays out the package, the config and the unit where the unit expects them', () => {
    expect(readFileSync(join(stage, 'etc', 'enclave-gate', 'enclave-gate.yaml'), 'utf8')).toBe(readFileSync(join(DEPLOY, 'systemd', 'enclave-gate.yaml'), 'utf8'));
    const unit = readFileSync(join(stage, 'etc', 'systemd', 'system', 'enclave-gate.service'), 'utf8');
    expect(unit).toContain(' /opt/enclave-gate/dist/cli/main.js serve --config /etc/enclave-gate/enclave-gate.yaml');
    const modules = readdirSync(installed('node_modules'));
    expect(modules).toContain('undici');
    for (const dev of ['vitest', 'typescript', 'eslint', 'openai']) expect(modules).not.toContain(dev);
  });

  it('the installed CLI stops with exit 12 naming configfs-tsm on a host without it', async () => {
    const start = await attempt(process.execPath, [installed('dist', 'cli', 'main.js'), 'serve', '--config', join(stage, 'etc', 'enclave-gate', 'enclave-gate.yaml'), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    expect(start.code).toBe(12);
    expect(start.out).toMatch(/EG_ATTESTATION_UNAVAILABLE.*\/sys\/kernel\/config\/tsm\/report/);
  });

  it('the installed package serves (simulated attestation) with its bundled policy, and drains on SIGTERM', async () => {
    const child = spawn(process.execPath, [installed('dist', 'cli', 'main.js'), 'serve', '--config', join(stage, 'etc', 'enclave-gate', 'enclave-gate.yaml'), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--attestation', 'simulated'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!out.includes('enclave-gate is serving') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('enclave-gate is serving');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  }, 90_000);
});

describe('container build context', () => {
  it('.containerignore and .dockerignore are the same and exclude host artefacts', () => {
    const podman = readFileSync(join(PACKAGE_ROOT, '.containerignore'), 'utf8');
    expect(readFileSync(join(PACKAGE_ROOT, '.dockerignore'), 'utf8')).toBe(podman);
    const lines = podman.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    for (const excluded of ['node_modules', '.tools', 'dist', '.venv', '.git']) expect(lines).toContain(`**/${excluded}/`);
    // Everything the Containerfile copies from the context is let back in.
    const containerfile = readFileSync(join(DEPLOY, 'container', 'Containerfile'), 'utf8');
    const copied = [...containerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    for (const source of copied) {
      const top = source.replace(/\/$/, '').split('/')[0]!;
      expect(lines, `COPY ${source} is excluded from the build context`).toContain(`!${top}`);
    }
  });
});
