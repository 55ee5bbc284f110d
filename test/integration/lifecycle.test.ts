/**
 * Lifecycle under load: certificate rotation while requests flow, policy
 * bundle reloads (file watch, signed bundles, HTTP bundle service with ETag),
 * each activation re-issuing the certificate that binds the new digest.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, Client, request } from 'undici';
import type { Gateway } from '../../src/proxy/gateway.js';
import { bundleDigest } from '../../src/policy/bundle.js';
import { readTarGz } from '../../src/policy/tar.js';
import { decodeClaims } from '../../src/wire/claims.js';
import { OID_TCG_DICE_TAGGED_EVIDENCE, decodeTaggedEvidence } from '../../src/wire/extension.js';
import { buildBundle, makeKey, rewriteBundle, scratchDir, type TestKey } from '../helpers/bundles.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { findExtension } from '../helpers/x509-extensions.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const digestOf = (bundle: Uint8Array): string => bundleDigest(readTarGz(bundle)).hex;

let upstream: TestUpstream;
let bundleA: Uint8Array; // allows /ok
let bundleB: Uint8Array; // allows /ok and /new
let dir: string;
let key: TestKey;
let otherKey: TestKey;
let signedA: Uint8Array;
let signedB: Uint8Array;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

beforeAll(async () => {
  upstream = await startUpstream();
  for (const path of ['/ok', '/new']) {
    upstream.route(path, (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  }
  dir = scratchDir('eg-lifecycle-');
  key = makeKey(dir, 'ES256', 'signer');
  otherKey = makeKey(dir, 'ES256', 'other');
  bundleA = buildBundle({ paths: ['/ok'], revision: 'A' });
  bundleB = buildBundle({ paths: ['/ok', '/new'], revision: 'B' });
  signedA = buildBundle({ paths: ['/ok'], revision: 'A', signingKey: key.privatePath, claims: { keyid: 'ops', scope: 'prod' } });
  signedB = buildBundle({ paths: ['/ok', '/new'], revision: 'B', signingKey: key.privatePath, claims: { keyid: 'ops', scope: 'prod' } });
}, 120_000);

afterAll(async () => {
  await insecure.close();
  await upstream.close();
});

/** Writes `bytes` to `path` atomically (temp file + rename), as a deployment would. */
function replaceFile(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** A fresh TLS connection: the served certificate's fingerprint and its policy-hash. */
async function handshake(gateway: Gateway): Promise<{ fingerprint: string; policyHash: string }> {
  const url = new URL(gateway.url);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: url.hostname, port: Number(url.port), servername: 'localhost', rejectUnauthorized: false }, () => resolve(s));
    s.on('error', reject);
  });
  const cert = socket.getPeerCertificate(true);
  socket.end();
  const tagged = decodeTaggedEvidence(findExtension(cert.raw, OID_TCG_DICE_TAGGED_EVIDENCE).value);
  const claims = decodeClaims(tagged.claims);
  return { fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase(), policyHash: Buffer.from(claims.policyHash!.digest).toString('hex') };
}

async function status(gateway: Gateway, path: string): Promise<number> {
  const res = await request(`${gateway.url}${path}`, { dispatcher: insecure, headers: { connection: 'close' } });
  await res.body.dump();
  return res.statusCode;
}

async function metric(gateway: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await gateway.metrics.registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

describe('certificate rotation under load', () => {
  it('rotates several times with zero failed requests; new connections see new certificates, old keep-alive connections keep working', async () => {
    // 1.2 s validity → automatic renewal 0.8 s after each issuance, plus a
    // manual rotation every second: both kinds happen, interleaved.
    const path = join(dir, 'load.tar.gz');
    writeFileSync(path, bundleA);
    const gateway = await startTestGateway(upstream.url, { tls: { validityHours: 1.2 / 3600, renewRetryMinMs: 50, renewRetryMaxMs: 200 }, policy: { path, watch: false } });
    try {
      const initial = gateway.certificate.fingerprint256;
      const stopAt = Date.now() + 4000;
      let ok = 0;
      const failures: string[] = [];
      const disconnects: string[] = [];

      // 8 keep-alive workers, one connection each, for the whole run.
      const worker = async (i: number): Promise<void> => {
        const client = new Client(gateway.url, { connect: { rejectUnauthorized: false, servername: 'localhost' }, pipelining: 1, keepAliveTimeout: 30_000 });
        client.on('disconnect', (_o, _c, err) => {
          if (Date.now() < stopAt) disconnects.push(`${i}: ${err?.message}`);
        });
        try {
          while (Date.now() < stopAt) {
            try {
              const res = await client.request({ method: 'GET', path: '/ok' });
              await res.body.dump();
              if (res.statusCode === 200) ok++;
              else failures.push(`worker ${i}: status ${res.statusCode}`);
            } catch (err) {
              failures.push(`worker ${i}: ${(err as Error).message}`);
            }
          }
        } finally {
          await client.close();
        }
      };
      // A raw keep-alive TLS connection opened before any rotation: it must keep
      // its original certificate and keep getting answers.
      const longLived = async (): Promise<{ answers: number; fingerprint: string }> => {
        const url = new URL(gateway.url);
        const socket = await new Promise<TLSSocket>((resolve, reject) => {
          const s = tlsConnect({ host: url.hostname, port: Number(url.port), servername: 'localhost', rejectUnauthorized: false }, () => resolve(s));
          s.on('error', reject);
        });
        let received = '';
        socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
        let answers = 0;
        while (Date.now() < stopAt) {
          socket.write('GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n');
          const want = answers + 1;
          const deadline = Date.now() + 2000;
          while ((received.match(/HTTP\/1\.1 200 /g)?.length ?? 0) < want) {
            if (Date.now() > deadline || socket.destroyed) throw new Error(`long-lived connection stopped answering: ${JSON.stringify(received.slice(-600))}`);
            await sleep(5);
          }
          answers = want;
          await sleep(50);
        }
        const fingerprint = socket.getPeerCertificate().fingerprint256.replaceAll(':', '').toLowerCase();
        socket.end();
        return { answers, fingerprint };
      };
      // New connections: fresh handshake (and a request on a fresh connection).
      const seen = new Set<string>();
      const newcomers = async (): Promise<void> => {
        while (Date.now() < stopAt) {
          seen.add((await handshake(gateway)).fingerprint);
          const s = await status(gateway, '/ok').catch((err: Error) => err.message);
          if (s !== 200) failures.push(`new connection: ${s}`);
          await sleep(100);
        }
      };
      const rotator = async (): Promise<number> => {
        let n = 0;
        while (Date.now() < stopAt - 300) {
          await sleep(1000);
          await gateway.rotateCertificate();
          n++;
        }
        return n;
      };

      const [, long, , manual] = await Promise.all([Promise.all(Array.from({ length: 8 }, (_, i) => worker(i))), longLived(), newcomers(), rotator()]);
      expect(failures).toEqual([]);
      expect(disconnects).toEqual([]);
      expect(ok).toBeGreaterThan(200);
      expect(manual).toBeGreaterThanOrEqual(3);
      expect(long.answers).toBeGreaterThan(10);
      expect(long.fingerprint).toBe(initial);
      expect(seen.size).toBeGreaterThanOrEqual(4);
      expect(gateway.certificate.fingerprint256).not.toBe(initial);
      expect((await handshake(gateway)).fingerprint).toBe(gateway.certificate.fingerprint256);
      expect(await metric(gateway, 'enclave_gate_certificate_rotations_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(manual + 2);
      // TLS settings survive setSecureContext: TLS 1.2 is still refused.
      const url = new URL(gateway.url);
      await expect(
        new Promise((resolve, reject) => {
          const s = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => resolve(s));
          s.on('error', reject);
        }),
      ).rejects.toBeDefined();
    } finally {
      await gateway.close();
    }
  }, 30_000);
});

describe('policy bundle file reload', () => {
  it('activates a replaced bundle file: route toggles, certificate re-issued with the new policy-hash; bad files keep the old one', async () => {
    const path = join(dir, 'policy-file.tar.gz');
    writeFileSync(path, bundleA);
    const gateway = await startTestGateway(upstream.url, { policy: { path, watchDebounceMs: 50, watchIntervalSeconds: 1 } });
    try {
      expect(gateway.policy.digest.hex).toBe(digestOf(bundleA));
      expect((await handshake(gateway)).policyHash).toBe(digestOf(bundleA));
      expect(await status(gateway, '/new')).toBe(403);
      const certA = gateway.certificate.fingerprint256;

      replaceFile(path, bundleB);
      await expect.poll(() => status(gateway, '/new'), { timeout: 5000, interval: 50 }).toBe(200);
      expect(gateway.policy.digest.hex).toBe(digestOf(bundleB));
      const served = await handshake(gateway);
      expect(served.policyHash).toBe(digestOf(bundleB));
      expect(served.fingerprint).not.toBe(certA);
      expect(await metric(gateway, 'enclave_gate_policy_bundle_activations_total')).toBe(1);
      const info = await gateway.metrics.registry.getSingleMetric('enclave_gate_policy_info')!.get();
      expect(info.values.map((v) => v.labels.digest)).toEqual([`sha-384:${digestOf(bundleB)}`]);

      // Garbage and a bundle without the entrypoints: refused, B stays.
      replaceFile(path, new TextEncoder().encode('not a bundle'));
      await expect.poll(() => metric(gateway, 'enclave_gate_policy_bundle_failures_total', { reason: 'archive' }), { timeout: 5000 }).toBe(1);
      const noWasm = rewriteBundle(bundleA, (f) => (f.delete('/policy.wasm'), f.delete('/.manifest'), f));
      replaceFile(path, noWasm);
      await expect.poll(() => metric(gateway, 'enclave_gate_policy_bundle_failures_total', { reason: 'bundle' }), { timeout: 5000 }).toBe(1);
      expect(await status(gateway, '/new')).toBe(200);
      expect((await handshake(gateway)).policyHash).toBe(digestOf(bundleB));

      // The same bundle again (new file, same digest): not re-activated, no new certificate.
      const before = gateway.certificate.fingerprint256;
      replaceFile(path, bundleB);
      await gateway.reloadPolicy();
      await sleep(200);
      expect(await metric(gateway, 'enclave_gate_policy_bundle_activations_total')).toBe(1);
      expect(gateway.certificate.fingerprint256).toBe(before);
      const ready = (await (await request(`${gateway.adminUrl}/readyz`)).body.json()) as { policy: { digest: string } };
      expect(ready.policy.digest).toBe(`sha-384:${digestOf(bundleB)}`);
    } finally {
      await gateway.close();
    }
  }, 30_000);
});

describe('signed bundles', () => {
  it('activates only correctly signed bundles; each bad one is refused and counted', async () => {
    const path = join(dir, 'signed.tar.gz');
    writeFileSync(path, signedA);
    const gateway = await startTestGateway(upstream.url, {
      policy: { path, watch: false, signing: { keys: [{ keyid: 'ops', algorithm: 'ES256', publicKey: key.publicPath }], scope: 'prod' } },
    });
    try {
      const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
      const bad: Array<[string, Uint8Array]> = [
        ['tampered data', rewriteBundle(signedB, (f) => f.set('/data.json', enc('{"settings":{"paths":["/ok","/new","/admin"],"reason":"x"}}')))],
        ['wrong key', buildBundle({ paths: ['/ok', '/new'], signingKey: otherKey.privatePath, claims: { keyid: 'ops', scope: 'prod' } })],
        ['missing file', rewriteBundle(signedB, (f) => (f.delete('/response.rego'), f))],
        ['extra file', rewriteBundle(signedB, (f) => f.set('/extra.rego', enc('package x\n')))],
        ['bad scope', buildBundle({ paths: ['/ok', '/new'], signingKey: key.privatePath, claims: { keyid: 'ops', scope: 'staging' } })],
        ['unsigned', bundleB],
      ];
      let count = 0;
      for (const [, bytes] of bad) {
        replaceFile(path, bytes);
        await gateway.reloadPolicy();
        count++;
        expect(await metric(gateway, 'enclave_gate_policy_bundle_failures_total', { reason: 'signature' })).toBe(count);
        expect(gateway.policy.digest.hex).toBe(digestOf(signedA));
      }
      expect(await status(gateway, '/new')).toBe(403);
      expect((await handshake(gateway)).policyHash).toBe(digestOf(signedA));

      replaceFile(path, signedB);
      await gateway.reloadPolicy();
      expect(await status(gateway, '/new')).toBe(200);
      expect((await handshake(gateway)).policyHash).toBe(digestOf(signedB));
      expect(await metric(gateway, 'enclave_gate_policy_bundle_activations_total')).toBe(1);
    } finally {
      await gateway.close();
    }
  }, 60_000);

  it('refuses to start on an unsigned bundle when keys are configured', async () => {
    const path = join(dir, 'unsigned-start.tar.gz');
    writeFileSync(path, bundleA);
    await expect(
      startTestGateway(upstream.url, { policy: { path, signing: { keys: [{ keyid: 'ops', algorithm: 'ES256', publicKey: key.publicPem }] } } }),
    ).rejects.toMatchObject({ code: 'EG_POLICY_LOAD_FAILED', details: { stage: 'signature', reason: 'unsigned' } });
  });
});

describe('HTTP bundle service', () => {
  it('downloads once, keeps it on 304, and picks up a change', async () => {
    let current = { bytes: bundleA, etag: '"a"' };
    const hits: number[] = [];
    const server: Server = createServer((req, res) => {
      if (req.url !== '/bundles/enclave-gate.tar.gz') return void res.writeHead(404).end();
      if (req.headers['if-none-match'] === current.etag) {
        hits.push(304);
        return void res.writeHead(304, { etag: current.etag }).end();
      }
      hits.push(200);
      res.writeHead(200, { etag: current.etag, 'content-type': 'application/gzip' }).end(current.bytes);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/enclave-gate.tar.gz`;
    const gateway = await startTestGateway(upstream.url, { policy: { url, pollIntervalSeconds: 0.1, pollJitter: 0.2 } });
    try {
      expect(gateway.policy.digest.hex).toBe(digestOf(bundleA));
      await expect.poll(() => hits.length, { timeout: 3000 }).toBeGreaterThanOrEqual(4);
      expect(hits.filter((h) => h === 200)).toEqual([200]);
      expect(await status(gateway, '/new')).toBe(403);

      current = { bytes: bundleB, etag: '"b"' };
      await expect.poll(() => status(gateway, '/new'), { timeout: 5000, interval: 50 }).toBe(200);
      expect((await handshake(gateway)).policyHash).toBe(digestOf(bundleB));
      await sleep(400);
      expect(hits.filter((h) => h === 200)).toEqual([200, 200]);
      expect(await metric(gateway, 'enclave_gate_policy_bundle_activations_total')).toBe(1);
    } finally {
      await gateway.close();
      server.closeAllConnections();
      server.close();
    }
  }, 30_000);
});
