/**
 * A real Prometheus scrapes the admin listener and sees the proxy's request
 * counters. The test command installs prometheus (Debian package); a missing
 * binary fails this test loudly rather than skipping it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { request } from 'undici';
import type { Gateway } from '../../src/proxy/gateway.js';
import { startTestGateway, trustingAgent } from '../helpers/gateway.js';
import { closedPort, startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let gateway: Gateway;
let prometheus: ChildProcess | undefined;
let promUrl: string;
let promLog = '';

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  gateway = await startTestGateway(upstream.url);
  const agent = trustingAgent(gateway);
  for (let i = 0; i < 3; i++) await (await request(`${gateway.url}/v1/models`, { dispatcher: agent })).body.dump();
  for (let i = 0; i < 2; i++) await (await request(`${gateway.url}/raw_customer_data`, { dispatcher: agent })).body.dump();

  const dir = mkdtempSync(join(tmpdir(), 'eg-prom-'));
  const admin = new URL(gateway.adminUrl);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: enclave-gate\n    static_configs:\n      - targets: ['${admin.host}']\n`,
  );
  const port = await closedPort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stderr?.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    prometheus!.once('error', (err) => reject(new Error(`prometheus could not start (is it installed? npm test installs it): ${err.message}`)));
    prometheus!.once('spawn', () => resolve());
  });
}, 60_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await gateway?.close();
  await upstream?.close();
});

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await request(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.body.json()) as { data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.data?.result ?? [];
}

it('Prometheus scrapes request counts by decision and code', async () => {
  const deadline = Date.now() + 45_000;
  let allowed: string | undefined;
  let denied: string | undefined;
  while (Date.now() < deadline) {
    try {
      const rows = await query('enclave_gate_requests_total');
      allowed = rows.find((r) => r.metric['decision'] === 'allow')?.value[1];
      denied = rows.find((r) => r.metric['code'] === 'EG_POLICY_DENIED')?.value[1];
      if (allowed !== undefined && denied !== undefined) break;
    } catch {
      // Prometheus is still starting.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(allowed, `prometheus log tail:\n${promLog}`).toBe('3');
  expect(denied).toBe('2');
  const up = await query('up{job="enclave-gate"}');
  expect(up[0]?.value[1]).toBe('1');
}, 60_000);
