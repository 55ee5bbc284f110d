/**
 * `enclave-gate verify` end to end: against a real TLS server whose
 * certificate src/ratls issued, against certificate and evidence files from
 * the vectors, and with broken input, checking the exit code of each failure
 * class and both output formats. One case runs the real binary entry
 * (src/cli/main.ts) in a child process to prove the exit code reaches the shell.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvidenceFile, verify } from '../../src/cli/verify.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import { issueCertificate, type IssuedCertificate } from '../../src/ratls/issue.js';
import { formatHashEntry } from '../../src/wire/hash-entry.js';
import { vector, vectorsDir } from '../helpers/vectors.js';
import { TEST_POLICY_HASH } from '../unit/verify/front/cert-builder.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await verify(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const V = (file: string): string => join(vectorsDir(), file);

let server: Server;
let url: string;
let issued: IssuedCertificate;
let requests = 0;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'eg-verify-cli-'));
  issued = await issueCertificate({
    provider: createSimulatedProvider(),
    policyHash: TEST_POLICY_HASH,
    keyAlgorithm: 'P-384',
    validitySeconds: 3600,
    subjectAltNames: ['localhost', '127.0.0.1'],
    commonName: 'enclave-gate cli test',
  });
  server = createServer(issued.secureContextOptions(), (socket) => {
    socket.on('data', () => requests++);
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(scratch, { recursive: true, force: true });
});

function scratchFile(name: string, content: Uint8Array | string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

describe('against a live RA-TLS server', () => {
  it('exit 0 with --allow-simulated; the transcript ends in VERIFIED and the server got no request', async () => {
    const run = await cli(url, '--allow-simulated');
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^✓ cert\.parse/m);
    expect(run.stdout).toMatch(/^✓ ratls\.report-data/m);
    expect(run.stdout).toMatch(/VERIFIED \(simulated\)/);
    expect(run.stdout).toMatch(/WARNING: simulated evidence/);
    expect(requests).toBe(0);
  });

  it('--json prints the verdict', async () => {
    const rv = scratchFile('rv-policy.json', JSON.stringify({ allowSimulated: true, policyHashes: [formatHashEntry(TEST_POLICY_HASH)] }));
    const run = await cli(url, '--json', '--reference-values', rv);
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ ok: true, platform: 'simulated', debug: false, tcb: {}, ratls: { policyHash: formatHashEntry(TEST_POLICY_HASH) } });
    expect(typeof json['measurement']).toBe('string');
    expect(typeof json['reportData']).toBe('string');
    expect(Array.isArray(json['steps'])).toBe(true);
    expect(json['code']).toBeUndefined();
  });

  it('exit 9 when simulated evidence is not allowed', async () => {
    const run = await cli(url);
    expect(run.code).toBe(9);
    expect(run.stdout).toMatch(/^✗ simulated\.allowed\s+EG_VERIFY_SIMULATED/m);
    expect(run.stdout).toMatch(/FAILED EG_VERIFY_SIMULATED \(exit 9\)/);
    const json = JSON.parse((await cli(url, '--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ ok: false, platform: 'simulated', code: 'EG_VERIFY_SIMULATED' });
    // The refusal tells a CLI user the flag, not the library option.
    expect(json['message']).toMatch(/--allow-simulated on the CLI/);
  });

  it('--json on a refusal reports what the signature established: the measurement a passing run prints', async () => {
    const accepted = JSON.parse((await cli(url, '--json', '--allow-simulated')).stdout) as Record<string, unknown>;
    const refused = JSON.parse((await cli(url, '--json')).stdout) as Record<string, unknown>;
    expect(refused['ok']).toBe(false);
    // Top-level evidence fields stay null on failure, so nothing mistakes them for an accepted result.
    expect(refused['measurement']).toBeNull();
    expect(refused['verified']).toEqual({
      measurement: accepted['measurement'],
      reportData: accepted['reportData'],
      tcb: accepted['tcb'],
      debug: accepted['debug'],
      claims: accepted['claims'],
    });
    const text = await cli(url);
    expect(text.stdout).toContain(`refused evidence, signature checked: measurement ${String(accepted['measurement'])}`);
  });

  it('--save-cert writes the verified certificate as PEM, and nothing when verification fails', async () => {
    const saved = join(scratch, 'saved.pem');
    const refused = await cli(url, '--save-cert', saved);
    expect(refused.code).toBe(9);
    expect(existsSync(saved)).toBe(false);
    const run = await cli(url, '--allow-simulated', '--save-cert', saved);
    expect(run.code, run.stdout).toBe(0);
    expect(new X509Certificate(readFileSync(saved)).raw.equals(new X509Certificate(issued.certPem).raw)).toBe(true);
    // The saved file verifies on its own (the pre-flight a pinning client runs).
    expect((await cli('--cert', saved, '--allow-simulated')).code).toBe(0);
    const usage = await cli('--evidence', saved, '--platform', 'simulated', '--save-cert', join(scratch, 'x.pem'));
    expect(usage.code).toBe(1);
  });

  it('exit 5 when --at lies after the certificate', async () => {
    const run = await cli(url, '--allow-simulated', '--at', new Date(issued.notAfter.getTime() + 60_000).toISOString());
    expect(run.code).toBe(5);
    expect(run.stdout).toMatch(/EG_VERIFY_EXPIRED/);
  });

  it('exit 10 when nothing listens', async () => {
    const probe = createNetServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const run = await cli(`https://127.0.0.1:${port}`, '--json');
    expect(run.code).toBe(10);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, code: 'EG_VERIFY_CONNECT' });
  });
});

describe('certificate files', () => {
  it('exit 0 for the echeck OE certificate at 2025-07-01 with collateral and accepted advisories', async () => {
    const rv = scratchFile(
      'rv-echeck.json',
      JSON.stringify({
        measurements: ['df2493c11fc01708af6913323b64e20ae84b12779dbe44ba428da66dfc4488f5'],
        sgx: { acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] },
      }),
    );
    const run = await cli('--cert', V('ratls-certs/echeck-sgx-oe-sample.pem'), '--collateral', V('sgx/phala-v3-collateral.json'), '--at', '2025-07-01T00:00:00Z', '--reference-values', rv);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/VERIFIED \(sgx\)/);
  });

  it('exit 8 for the same certificate with the default TCB policy', async () => {
    const run = await cli('--cert', V('ratls-certs/echeck-sgx-oe-sample.pem'), '--collateral', V('sgx/phala-v3-collateral.json'), '--at', '2025-07-01T00:00:00Z');
    expect(run.code).toBe(8);
  });

  it('exit 5 for the echeck certificate after it expired', async () => {
    const run = await cli('--cert', V('ratls-certs/echeck-sgx-oe-sample.pem'), '--at', '2027-01-01T00:00:00Z');
    expect(run.code).toBe(5);
  });

  it('exit 0 for the Evervault DER certificate at its README instant', async () => {
    const run = await cli('--cert', V('ratls-certs/evervault-nitro-san-2023-01-18.der'), '--at', '2023-01-18T15:15:14Z');
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/format\s+evervault/);
  });

  it('exit 2 for a file that is not a certificate', async () => {
    const run = await cli('--cert', scratchFile('junk.der', new Uint8Array([0x30, 0x82, 0x01, 0x00, 1, 2, 3])));
    expect(run.code).toBe(2);
  });
});

describe('evidence files', () => {
  it('exit 0 for the go-sev-guest report with --allow-debug (VCEK and ASK/ARK as --endorsements)', async () => {
    const run = await cli(
      '--evidence', V('sev-snp/gosev-milan-report.bin'), '--platform', 'sev-snp',
      '--endorsements', V('sev-snp/gosev-milan-vcek.der'), '--endorsements', V('sev-snp/amd-milan-ask-ark.pem'),
      '--product', 'milan', '--at', '2022-09-24T01:00:00Z', '--allow-debug',
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/measurement\s+b07af9620f3b/);
    expect(run.stdout).toMatch(/WARNING: debug TEE/);
  });

  it('exit 9 for the same debug report without --allow-debug; --json still names its measurement', async () => {
    const args = ['--evidence', V('sev-snp/gosev-milan-report.bin'), '--platform', 'sev-snp', '--endorsements', V('sev-snp/gosev-milan-vcek.der'), '--endorsements', V('sev-snp/amd-milan-ask-ark.pem'), '--at', '2022-09-24T01:00:00Z'];
    const run = await cli(...args);
    expect(run.code).toBe(9);
    const accepted = JSON.parse((await cli(...args, '--allow-debug', '--json')).stdout) as { measurement: string; tcb: unknown };
    const refused = JSON.parse((await cli(...args, '--json')).stdout) as { code: string; measurement: null; verified: { measurement: string; debug: boolean; tcb: unknown } };
    expect(refused.code).toBe('EG_VERIFY_DEBUG');
    expect(refused.measurement).toBeNull();
    expect(refused.verified).toMatchObject({ measurement: accepted.measurement, debug: true, tcb: accepted.tcb });
  });

  it('exit 3 for a report with a changed signed byte', async () => {
    const report = new Uint8Array(vector('sev-snp/gosev-milan-report.bin'));
    report[0x90]! ^= 0xff;
    const run = await cli('--evidence', scratchFile('tampered.bin', report), '--platform', 'sev-snp', '--endorsements', V('sev-snp/gosev-milan-vcek.der'), '--endorsements', V('sev-snp/amd-milan-ask-ark.pem'), '--at', '2022-09-24T01:00:00Z', '--allow-debug');
    expect(run.code, run.stdout).toBe(3);
  });

  it('the hex report and the base64 Nitro document are read as text', async () => {
    const hex = await cli('--evidence', V('sev-snp/virtee-milan-report.hex'), '--platform', 'sev-snp', '--endorsements', V('sev-snp/virtee-milan-vcek.der'), '--endorsements', V('sev-snp/amd-milan-ask-ark.pem'), '--at', '2025-01-01T00:00:00Z');
    expect(hex.code, hex.stdout).toBe(0);
    const b64 = await cli('--evidence', V('nitro/evervault-2023-09-18.b64'), '--platform', 'nitro', '--at', '2023-09-18T15:10:00Z', '--allow-debug', '--json');
    expect(b64.code, b64.stdout).toBe(0);
    expect(JSON.parse(b64.stdout)).toMatchObject({ ok: true, platform: 'nitro', debug: true });
    expect(Buffer.from(decodeEvidenceFile(new Uint8Array(vector('nitro/evervault-2023-09-18.b64'))))[0]).toBe(0x84);
  });

  it('refuses unsigned bytes after a TDX quote (exit 2) unless --allow-trailing-data', async () => {
    const quote = V('tdx/gotdx-v4-spr-e4-quote.dat');
    const strict = await cli('--evidence', quote, '--platform', 'tdx', '--at', '2023-07-01T01:00:00Z', '--json');
    expect(strict.code).toBe(2);
    const relaxed = await cli('--evidence', quote, '--platform', 'tdx', '--at', '2023-07-01T01:00:00Z', '--allow-trailing-data', '--json');
    // The quote itself verifies; without collateral its TCB status is unknown, which the safe default refuses (exit 8).
    expect(relaxed.code).toBe(8);
    expect((JSON.parse(relaxed.stdout) as { code: string }).code).toBe('EG_VERIFY_TCB');
  });

  it('exit 2 for random bytes as a Nitro document', async () => {
    const run = await cli('--evidence', scratchFile('junk.cbor', new Uint8Array([0xff, 0x00, 0x13, 0x80, 0x01])), '--platform', 'nitro');
    expect(run.code).toBe(2);
  });
});

describe('usage errors exit 1', () => {
  it.each([
    [['--bogus']],
    [[]],
    [['--evidence', 'x']],
    [['--evidence', '/nonexistent/file', '--platform', 'nitro']],
    [['--cert', 'a.pem', 'https://localhost:1']],
    [['http://127.0.0.1:1']],
    [['https://127.0.0.1:1', '--at', 'yesterday']],
    [['--evidence', 'x', '--platform', 'sev-snp', '--product', 'naples']],
  ])('%j', async (argv) => {
    const run = await cli(...argv);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/Usage:/);
  });

  it('invalid reference values', async () => {
    const rv = scratchFile('rv-bad.json', JSON.stringify({ measurement: ['00'] }));
    const run = await cli(url, '--reference-values', rv);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unknown key "measurement"/);
  });

  it('--help exits 0', async () => {
    const run = await cli('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/enclave-gate verify https:\/\/HOST:PORT/);
  });
});

describe('the enclave-gate binary', () => {
  it('passes the verdict exit code to the shell (simulated refused: 9; allowed: 0)', async () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const bin = join(root, 'node_modules', '.bin', 'vite-node');
    const runBin = (...args: string[]): Promise<number> =>
      new Promise((done) => {
        execFile(bin, [join(root, 'src', 'cli', 'main.ts'), 'verify', ...args], { cwd: root, timeout: 60_000 }, (error) => {
          done(error === null ? 0 : typeof error.code === 'number' ? error.code : -1);
        });
      });
    const [refused, allowed] = await Promise.all([runBin(url), runBin(url, '--allow-simulated')]);
    expect(refused).toBe(9);
    expect(allowed).toBe(0);
  }, 90_000);
});
