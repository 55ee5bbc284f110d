/**
 * The TLS face of the listener, checked from outside with `openssl s_client`
 * (installed by test/run.sh) and node's TLS client: TLS 1.3 only by default;
 * TLS 1.2 only when configured and then only ECDHE-ECDSA AEAD suites; no
 * renegotiation; ALPN http/1.1 only (h2 is refused, not silently spoken);
 * session ticket keys rotate.
 */
import { execFile } from 'node:child_process';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { expectStillServing, startFixture, type Fixture } from './fixture.js';

let tls13: Fixture;
let tls12: Fixture;

beforeAll(async () => {
  tls13 = await startFixture({ tls: { ticketKeyRotationSeconds: 1 } });
  tls12 = await startFixture({ tls: { minVersion: 'TLSv1.2' } });
});

afterAll(async () => {
  await tls13?.close();
  await tls12?.close();
});

interface SClient {
  readonly ok: boolean;
  readonly output: string;
}

/** Runs `openssl s_client` against the gateway with extra arguments; stdin is closed at once. */
function sClient(gateway: Gateway, args: string[], brief = true): Promise<SClient> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...(brief ? ['-brief'] : []), ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}\n${stderr}` }),
    );
    child.stdin?.end();
  });
}

function nodeConnect(gateway: Gateway, options: ConnectionOptions): Promise<{ protocol: string | null; alpn: string | false | null; cipher: string } | Error> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: gateway.certificate.certPem, servername: 'localhost', ...options }, () => {
      const result = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol, cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err) => resolve(err));
  });
}

describe('protocol versions and suites (openssl s_client)', () => {
  it('default: negotiates TLS 1.3 with an AEAD suite', async () => {
    const r = await sClient(tls13.gateway, []);
    expect(r.output).toMatch(/Protocol version: TLSv1\.3/);
    expect(r.output).toMatch(/Ciphersuite: TLS_(AES_256_GCM_SHA384|AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256)/);
  });

  it('default: refuses TLS 1.2 and older', async () => {
    for (const version of ['-tls1_2', '-tls1_1']) {
      const r = await sClient(tls13.gateway, [version]);
      expect(r.ok, version).toBe(false);
      expect(r.output, version).not.toMatch(/Protocol version: TLSv1\.[0-2]/);
    }
    await expectStillServing(tls13.gateway);
  });

  it('minVersion TLSv1.2: accepts TLS 1.2 with ECDHE-ECDSA AEAD suites only', async () => {
    const aead = await sClient(tls12.gateway, ['-tls1_2']);
    expect(aead.output).toMatch(/Protocol version: TLSv1\.2/);
    expect(aead.output).toMatch(/Ciphersuite: ECDHE-ECDSA-(AES256-GCM-SHA384|AES128-GCM-SHA256|CHACHA20-POLY1305)/);
    for (const weak of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA', 'AES128-SHA']) {
      const r = await sClient(tls12.gateway, ['-tls1_2', '-cipher', weak]);
      expect(r.ok, weak).toBe(false);
      expect(r.output, weak).not.toMatch(/Protocol version/);
    }
    const v13 = await sClient(tls12.gateway, []);
    expect(v13.output).toMatch(/Protocol version: TLSv1\.3/);
  });
});

describe('ALPN', () => {
  it('selects http/1.1 when offered alongside h2', async () => {
    const r = await sClient(tls13.gateway, ['-alpn', 'h2,http/1.1'], false);
    expect(r.output).toMatch(/ALPN protocol: http\/1\.1/);
    const n = await nodeConnect(tls13.gateway, { ALPNProtocols: ['h2', 'http/1.1'] });
    expect(n).toMatchObject({ alpn: 'http/1.1' });
  });

  it('refuses a client that offers only h2 (no_application_protocol), rather than speaking HTTP/1.1 to it', async () => {
    const r = await sClient(tls13.gateway, ['-alpn', 'h2']);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/no application protocol|alert number 120/i);
    const n = await nodeConnect(tls13.gateway, { ALPNProtocols: ['h2'] });
    expect(n).toBeInstanceOf(Error);
    await expectStillServing(tls13.gateway);
  });

  it('serves a client that offers no ALPN at all', async () => {
    const n = await nodeConnect(tls13.gateway, {});
    expect(n).toMatchObject({ protocol: 'TLSv1.3', alpn: false });
  });
});

describe('renegotiation and session tickets', () => {
  it('refuses client-initiated renegotiation on TLS 1.2', async () => {
    const { port } = new URL(tls12.gateway.url);
    const outcome = await new Promise<Error | null>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: tls12.gateway.certificate.certPem, servername: 'localhost', maxVersion: 'TLSv1.2' }, () => {
        const accepted = socket.renegotiate({ rejectUnauthorized: true }, (err) => {
          socket.destroy();
          resolve(err);
        });
        if (!accepted) resolve(new Error('renegotiate() refused locally'));
      });
      socket.once('error', (err) => resolve(err));
    });
    expect(outcome).toBeInstanceOf(Error);
    expect(String(outcome)).toMatch(/renegotiat|alert|socket hang up|ECONNRESET/i);
    await expectStillServing(tls12.gateway);
  });

  it('resumes with a fresh ticket, and not with one issued before the ticket keys rotated', async () => {
    const { port } = new URL(tls13.gateway.url);
    // TLS 1.3 tickets arrive after the handshake; wait briefly for one, then hang up.
    const connect = (session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> =>
      new Promise((resolve, reject) => {
        let ticket: Buffer | undefined;
        const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: tls13.gateway.certificate.certPem, servername: 'localhost', ...(session ? { session } : {}) });
        socket.on('session', (t: Buffer) => (ticket = t));
        socket.once('secureConnect', () => {
          const reused = socket.isSessionReused();
          setTimeout(() => {
            socket.end();
            resolve({ reused, ticket });
          }, 200);
        });
        socket.once('error', reject);
      });
    const first = await connect();
    expect(first.ticket).toBeInstanceOf(Buffer);
    const again = await connect(first.ticket);
    expect(again.reused).toBe(true);
    // The suite's gateway rotates ticket keys every second.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const after = await connect(first.ticket);
    expect(after.reused).toBe(false);
  });
});
