/**
 * The client recipes of docs/clients.md, run for real against a live gateway
 * (real TLS, simulated attestation, the default policy, a real upstream):
 *
 * - export the served certificate with `openssl s_client`, verify the file
 *   with `enclave-gate verify --cert`, and call it with
 *   `curl --pinnedpubkey` using the pin computed from that file;
 * - Python: `enclave-gate verify URL --save-cert` as a pre-flight, then httpx
 *   and the OpenAI SDK (openai.DefaultHttpxClient) with an ssl context pinned
 *   to the saved certificate (test/clients/python/pinned_client.py);
 * - Go: test/clients/go, compiled here, pinned to the ratls.pubkeyHash that
 *   `enclave-gate verify --json` reports.
 *
 * Every recipe is also shown failing closed: a wrong pin, or a server the
 * verifier refuses.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/cli/verify.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { issueCertificate } from '../../src/ratls/issue.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { startTestGateway } from '../helpers/gateway.js';
import { runPython } from '../helpers/python.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { TEST_POLICY_HASH } from '../unit/verify/front/cert-builder.js';

const exec = promisify(execFile);

let upstream: TestUpstream;
let gateway: Gateway;
let scratch: string;
let port: string;
let otherPem: string;

const MODELS = { object: 'list', data: [{ id: 'enclave-model-1', object: 'model', created: 1, owned_by: 'test' }] };

/** Runs a command; returns its exit code and output instead of throwing on a non-zero exit. */
async function attempt(file: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(file, args, { cwd: PACKAGE_ROOT, timeout: timeoutMs, maxBuffer: 8 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw new Error(`${file} could not run: ${e.message}`);
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The CLI in-process, as `enclave-gate verify ARGS` (exit code and stdout). */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await verify(argv, { stdout: (t) => (stdout += t), stderr: () => undefined });
  return { code, stdout };
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(MODELS));
  });
  gateway = await startTestGateway(upstream.url);
  port = new URL(gateway.url).port;
  scratch = mkdtempSync(join(tmpdir(), 'eg-clients-'));
  // Another proxy's certificate: what a client pinned to the wrong instance holds.
  const other = await issueCertificate({ provider: createSimulatedProvider(), policyHash: TEST_POLICY_HASH, keyAlgorithm: 'P-384', validitySeconds: 3600, subjectAltNames: ['localhost', '127.0.0.1'], commonName: 'other' });
  otherPem = join(scratch, 'other.pem');
  writeFileSync(otherPem, other.certPem);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('curl with --pinnedpubkey, the certificate exported with openssl s_client', () => {
  it('exports the served certificate, verifies the file, and pins curl to its key', async () => {
    const exported = join(scratch, 'exported.pem');
    const shell = (script: string) => attempt('bash', ['-o', 'pipefail', '-c', script]);
    const exportRun = await shell(`openssl s_client -connect 127.0.0.1:${port} -servername localhost </dev/null 2>/dev/null | openssl x509 -outform PEM > '${exported}'`);
    expect(exportRun.code, exportRun.stderr).toBe(0);
    expect(new X509Certificate(readFileSync(exported)).raw.equals(new X509Certificate(gateway.certificate.certPem).raw)).toBe(true);

    // Decide with the verifier before trusting the file.
    expect((await cli('--cert', exported)).code).toBe(9); // simulated evidence is refused by default
    expect((await cli('--cert', exported, '--allow-simulated')).code).toBe(0);

    const pinRun = await shell(`openssl x509 -in '${exported}' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`);
    expect(pinRun.code, pinRun.stderr).toBe(0);
    const pin = pinRun.stdout.trim();
    const ok = await attempt('curl', ['-sS', '-k', '--pinnedpubkey', `sha256//${pin}`, `https://127.0.0.1:${port}/v1/models`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(MODELS);

    const wrong = await attempt('curl', ['-sS', '-k', '--pinnedpubkey', `sha256//${Buffer.alloc(32, 7).toString('base64')}`, `https://127.0.0.1:${port}/v1/models`]);
    expect(wrong.code).toBe(90); // CURLE_SSL_PINNEDPUBKEYNOTMATCH
  });
});

describe('Python: verify --save-cert as a pre-flight, then httpx and the OpenAI SDK pinned to it', () => {
  let report: {
    refused: { error: string | null; cert_written?: boolean };
    httpx: { status: number; body: unknown };
    openai: { models: string[] };
    wrong_pin: { error: string | null };
  };

  beforeAll(async () => {
    const verifyCommand = [join(PACKAGE_ROOT, 'node_modules', '.bin', 'vite-node'), join(PACKAGE_ROOT, 'src', 'cli', 'main.ts'), 'verify', '--allow-simulated'];
    const out = await runPython('test/clients/python/pinned_client.py', [gateway.url, scratch, otherPem, '--', ...verifyCommand], 120_000);
    report = JSON.parse(out) as typeof report;
  }, 150_000);

  it('a server the verifier refuses gets no pinned certificate and no request', () => {
    expect(report.refused.error).toMatch(/enclave-gate verify refused the server \(exit 9\)/);
    expect(report.refused.cert_written).toBe(false);
  });

  it('httpx and openai.DefaultHttpxClient reach the verified proxy through the pinned context', () => {
    expect(report.httpx).toEqual({ status: 200, body: MODELS });
    expect(report.openai.models).toEqual(['enclave-model-1']);
  });

  it('pinned to another instance, the handshake fails', () => {
    expect(report.wrong_pin.error).toMatch(/CERTIFICATE_VERIFY_FAILED/);
  });
});

describe('Go: pinned to the ratls.pubkeyHash that verify --json reports', () => {
  let binary: string;
  let pin: string;

  beforeAll(async () => {
    binary = join(scratch, 'pinned-client');
    const build = await attempt('go', ['build', '-C', join('test', 'clients', 'go'), '-buildvcs=false', '-o', binary, '.'], 240_000);
    expect(build.code, build.stderr).toBe(0);
    const verified = await cli(gateway.url, '--allow-simulated', '--json');
    expect(verified.code).toBe(0);
    pin = (JSON.parse(verified.stdout) as { ratls: { pubkeyHash: string } }).ratls.pubkeyHash;
  }, 300_000);

  it('GET through the pinned client returns the model list', async () => {
    const run = await attempt(binary, ['-url', `${gateway.url}/v1/models`, '-pin', pin]);
    expect(run.code, run.stderr).toBe(0);
    const [status, ...body] = run.stdout.split('\n');
    expect(status).toBe('200 application/json');
    expect(JSON.parse(body.join('\n'))).toEqual(MODELS);
  });

  it('a denied request shows our code and message (exit 2)', async () => {
    const run = await attempt(binary, ['-url', `${gateway.url}/v1/chat/completions`, '-pin', pin, '-data', JSON.stringify({ messages: [{ role: 'user', content: 'mail alice@example.com' }] })]);
    expect(run.code).toBe(2);
    const body = JSON.parse(run.stdout.split('\n').slice(1).join('\n')) as { code: string; error: { message: string } };
    expect(body.code).toBe('EG_POLICY_DENIED');
    expect(body.error.message).toContain('pii_detected:email');
  });

  it('a key other than the verified one is refused before any request (exit 3)', async () => {
    const before = upstream.received.length;
    const wrongPin = `sha-384:${pin.slice(8, 9) === '0' ? '1' : '0'}${pin.slice(9)}`;
    const run = await attempt(binary, ['-url', `${gateway.url}/v1/models`, '-pin', wrongPin]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/pin mismatch/);
    expect(upstream.received.length).toBe(before);
  });
});
