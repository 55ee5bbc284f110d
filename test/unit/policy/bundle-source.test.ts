import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import {
  bundleFailureReason,
  createFileBundleSource,
  createHttpBundleSource,
  type BundleFailureReason,
  type BundleSource,
} from '../../../src/policy/bundle-source.js';
import { scratchDir } from '../../helpers/bundles.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sources: BundleSource[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

function recorder(accept = true) {
  const bundles: string[] = [];
  const failures: BundleFailureReason[] = [];
  return {
    bundles,
    failures,
    handlers: {
      bundle: async (bytes: Uint8Array) => {
        bundles.push(Buffer.from(bytes).toString());
        return accept;
      },
      failure: (reason: BundleFailureReason) => void failures.push(reason),
    },
  };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

describe('file bundle source', () => {
  it('reads at start and delivers a replaced file (rename over it) once, debounced', async () => {
    const dir = scratchDir();
    const path = join(dir, 'bundle.tar.gz');
    writeFileSync(path, 'v1');
    const source = createFileBundleSource({ path, debounceMs: 50, statIntervalMs: 0 });
    sources.push(source);
    expect(Buffer.from(await source.initial()).toString()).toBe('v1');
    const r = recorder();
    source.start(r.handlers);
    writeFileSync(join(dir, 'tmp'), 'v2');
    renameSync(join(dir, 'tmp'), path);
    await until(() => r.bundles.length === 1);
    await sleep(150);
    expect(r.bundles).toEqual(['v2']);
    writeFileSync(join(dir, 'unrelated'), 'x');
    await sleep(150);
    expect(r.bundles).toEqual(['v2']);
  });

  it('falls back to a periodic stat when there is no watcher event', async () => {
    const dir = scratchDir();
    const path = join(dir, 'bundle.tar.gz');
    writeFileSync(path, 'v1');
    const source = createFileBundleSource({ path, debounceMs: 10_000, statIntervalMs: 100 });
    sources.push(source);
    await source.initial();
    const r = recorder();
    source.start(r.handlers);
    writeFileSync(path, 'v2-longer');
    await until(() => r.bundles.length === 1);
    expect(r.bundles).toEqual(['v2-longer']);
  });

  it('reports a missing file once and picks it up when it returns; a refused-for-retry bundle is re-delivered', async () => {
    const dir = scratchDir();
    const path = join(dir, 'bundle.tar.gz');
    writeFileSync(path, 'v1');
    const source = createFileBundleSource({ path, watch: false });
    sources.push(source);
    await source.initial();
    const r = recorder(false);
    source.start(r.handlers);
    renameSync(path, join(dir, 'gone'));
    await source.check();
    await source.check();
    expect(r.failures).toEqual(['read']);
    writeFileSync(path, 'v3');
    await source.check();
    await source.check(); // handler said "retry": delivered again
    expect(r.bundles).toEqual(['v3', 'v3']);
  });
});

describe('HTTP bundle source', () => {
  async function bundleServer() {
    let body = 'bundle-1';
    let etag = '"1"';
    let status = 200;
    const log: Array<{ inm?: string; status: number }> = [];
    const server = createServer((req, res) => {
      const inm = req.headers['if-none-match'];
      if (status !== 200) {
        log.push({ status });
        res.writeHead(status).end();
      } else if (inm === etag) {
        log.push({ inm, status: 304 });
        res.writeHead(304, { etag }).end();
      } else {
        log.push({ ...(inm === undefined ? {} : { inm }), status: 200 });
        res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(body);
      }
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/b.tar.gz`,
      log,
      set(next: string, tag: string) {
        body = next;
        etag = tag;
      },
      fail(code: number) {
        status = code;
      },
    };
  }

  it('downloads once, then 304 keeps it; a change is picked up; errors are reported', async () => {
    const srv = await bundleServer();
    const source = createHttpBundleSource({ url: srv.url, intervalMs: 60_000 });
    sources.push(source);
    expect(Buffer.from(await source.initial()).toString()).toBe('bundle-1');
    const r = recorder();
    source.start(r.handlers);
    await source.check();
    await source.check();
    expect(r.bundles).toEqual([]);
    expect(srv.log.map((l) => l.status)).toEqual([200, 304, 304]);
    expect(srv.log[1]!.inm).toBe('"1"');
    srv.set('bundle-2', '"2"');
    await source.check();
    await source.check();
    expect(r.bundles).toEqual(['bundle-2']);
    expect(srv.log.map((l) => l.status)).toEqual([200, 304, 304, 200, 304]);
    srv.fail(503);
    await source.check();
    expect(r.failures).toEqual(['download']);
  });

  it('polls on its own with jitter and forgets the ETag when activation asks for a retry', async () => {
    const srv = await bundleServer();
    const source = createHttpBundleSource({ url: srv.url, intervalMs: 60, jitter: 0.5 });
    sources.push(source);
    await source.initial();
    srv.set('bundle-2', '"2"');
    const r = recorder(false);
    source.start(r.handlers);
    await until(() => r.bundles.length >= 2);
    expect(srv.log.filter((l) => l.status === 200).length).toBeGreaterThanOrEqual(3);
  });

  it('refuses oversized downloads and unreachable servers', async () => {
    const srv = await bundleServer();
    srv.set('x'.repeat(2000), '"big"');
    const big = createHttpBundleSource({ url: srv.url, maxBytes: 1000 });
    sources.push(big);
    await expect(big.initial()).rejects.toMatchObject({ code: 'EG_POLICY_LOAD_FAILED', details: { stage: 'download' } });
    const down = createHttpBundleSource({ url: 'http://127.0.0.1:1/b.tar.gz', timeoutMs: 2000 });
    sources.push(down);
    await expect(down.initial()).rejects.toMatchObject({ details: { stage: 'download' } });
  });
});

describe('bundleFailureReason', () => {
  it('maps stages and certificate errors', () => {
    const e = (stage: string) => new EnclaveGateError('EG_POLICY_LOAD_FAILED', 'x', { details: { stage } });
    expect(['archive', 'signature', 'bundle', 'load', 'download', 'read'].map((s) => bundleFailureReason(e(s)))).toEqual(['archive', 'signature', 'bundle', 'load', 'download', 'read']);
    expect(bundleFailureReason(new EnclaveGateError('EG_ATTESTATION_FAILED', 'x'))).toBe('certificate');
    expect(bundleFailureReason(new Error('x'))).toBe('load');
  });
});
