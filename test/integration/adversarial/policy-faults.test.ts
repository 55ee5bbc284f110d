/**
 * Faults of the policy supply while serving: the bundle service hangs, errors,
 * or serves bytes that are not a bundle, a bundle with no wasm, a truncated
 * archive, or an unsigned bundle when signatures are required. Each keeps the
 * active bundle, is counted under enclave_gate_policy_bundle_failures_total
 * with its reason, and requests keep being decided by the previous policy.
 * (Faults inside evaluation — traps, memory, throwing builtins, wrong-shaped
 * decisions — are covered in test/unit/policy/engine.test.ts; the table in
 * docs/security.md maps each to its test.)
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { ensurePolicyBundle, startTestGateway } from '../../helpers/gateway.js';
import { makeKey, scratchDir } from '../../helpers/bundles.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { tarGz } from '../../unit/policy/tar-writer.js';
import { MODELS } from './fixture.js';

type Mode = 'good' | 'hang' | 'error' | 'garbage' | 'truncated' | 'no-wasm';

let mode: Mode = 'good';
let good: Uint8Array;
let service: Server;
let upstream: TestUpstream;
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  good = new Uint8Array(readFileSync(ensurePolicyBundle()));
  service = createServer((_req, res) => {
    const send = (bytes: Uint8Array | string): void => void res.writeHead(200, { 'content-type': 'application/gzip' }).end(bytes);
    switch (mode) {
      case 'good':
        return send(good);
      case 'hang':
        return; // accepts, reads, never answers
      case 'error':
        return void res.writeHead(503).end();
      case 'garbage':
        return send('this is not a gzip archive');
      case 'truncated':
        return send(good.subarray(0, Math.floor(good.length / 2)));
      case 'no-wasm':
        return send(tarGz([{ name: '/data.json', data: '{}' }]));
    }
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/bundle.tar.gz`;
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(MODELS)));
  // Polls only when asked (reloadPolicy), so each case is one download.
  gateway = await startTestGateway(upstream.url, { policy: { url, pollIntervalSeconds: 86_400, pollTimeoutMs: 400 } });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  service?.closeAllConnections();
  service?.close();
});

async function failures(reason: string): Promise<number> {
  const all = await gateway.metrics.registry.getMetricsAsJSON();
  const values = all.find((m) => m.name === 'enclave_gate_policy_bundle_failures_total')?.values ?? [];
  return Number(values.find((v) => v.labels['reason'] === reason)?.value ?? 0);
}

async function decisions(): Promise<[number | undefined, number | undefined]> {
  const allowed = await exchange(gateway, head('GET /v1/models HTTP/1.1', ['Connection: close']));
  const denied = await exchange(gateway, head('GET /raw_customer_data HTTP/1.1', ['Connection: close']));
  return [allowed.responses[0]?.status, denied.responses[0]?.status];
}

const CASES: { mode: Mode; reason: string }[] = [
  { mode: 'hang', reason: 'download' },
  { mode: 'error', reason: 'download' },
  { mode: 'garbage', reason: 'archive' },
  { mode: 'truncated', reason: 'archive' },
  { mode: 'no-wasm', reason: 'bundle' },
];

describe('bundle service faults keep the active bundle and are counted', () => {
  it.each(CASES)('$mode → failure reason "$reason", previous policy still decides', async ({ mode: next, reason }) => {
    const digest = gateway.policy.digest.hex;
    const before = await failures(reason);
    mode = next;
    const started = Date.now();
    await gateway.reloadPolicy();
    // A hanging service is given up on at pollTimeoutMs, not waited on forever.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await failures(reason)).toBe(before + 1);
    expect(gateway.policy.digest.hex).toBe(digest);
    expect(await decisions()).toEqual([200, 403]);
    mode = 'good';
  });

  it('refuses an unsigned bundle when signing keys are configured, at start', async () => {
    const key = makeKey(scratchDir(), 'ES256');
    await expect(
      startTestGateway(upstream.url, { policy: { url, pollTimeoutMs: 400, signing: { keys: [{ keyid: 'ops', algorithm: 'ES256', publicKey: key.publicPem }] } } }),
    ).rejects.toMatchObject({ code: 'EG_POLICY_LOAD_FAILED', details: { stage: 'signature' } });
  });
});
