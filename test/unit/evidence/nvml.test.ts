/**
 * The NVML GPU source through the real koffi path, against a stand-in
 * libnvidia-ml.so.1 compiled here from test/fakes/fake-nvml.c (same symbols
 * and struct layouts as nvml.h). Needs gcc (test/run.sh installs it).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGpuEvidence, withGpuEvidence } from '../../../src/evidence/gpu.js';
import { createNvmlGpuSource, NVML_CERT_STRUCT, NVML_REPORT_STRUCT } from '../../../src/evidence/nvml.js';
import { createSimulatedProvider } from '../../../src/evidence/simulated.js';
import { verifyEvidence } from '../../../src/verify/index.js';
import { makeFakeGpu, realHopperReport } from '../../fakes/gpu.js';
import { rejection } from '../../helpers/expect-code.js';
import { vectorText } from '../../helpers/vectors.js';

const here = dirname(fileURLToPath(import.meta.url));
let dir: string;
let library: string;
const ENV = ['FAKE_NVML_COUNT', 'FAKE_NVML_REPORT', 'FAKE_NVML_CHAIN', 'FAKE_NVML_REPORT_ERROR', 'FAKE_NVML_NONCE_OUT'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eg-nvml-'));
  library = join(dir, 'libnvidia-ml.so.1');
  await promisify(execFile)('gcc', ['-shared', '-fPIC', '-O1', '-o', library, resolve(here, '../../fakes/fake-nvml.c')]);
}, 60_000);

afterAll(async () => {
  for (const name of ENV) delete process.env[name];
  await rm(dir, { recursive: true, force: true });
});

async function serve(report: Uint8Array, chainPem: string, count = 1): Promise<void> {
  await writeFile(join(dir, 'report.bin'), report);
  await writeFile(join(dir, 'chain.pem'), chainPem);
  process.env['FAKE_NVML_COUNT'] = String(count);
  process.env['FAKE_NVML_REPORT'] = join(dir, 'report.bin');
  process.env['FAKE_NVML_CHAIN'] = join(dir, 'chain.pem');
  process.env['FAKE_NVML_NONCE_OUT'] = join(dir, 'nonce.bin');
  delete process.env['FAKE_NVML_REPORT_ERROR'];
}

describe('NVML GPU source (koffi → stand-in libnvidia-ml)', () => {
  it('struct layouts match nvml.h sizes', () => {
    expect(NVML_REPORT_STRUCT.size).toBe(4 * 3 + 0x20 + 0x2000 + 0x1000);
    expect(NVML_CERT_STRUCT.size).toBe(4 * 2 + 0x1000 + 0x1400);
  });

  it('reads the real report and chain byte for byte and passes the nonce in the struct', async () => {
    await serve(realHopperReport(), vectorText('nvidia/hopper-cert-chain.pem'));
    const source = createNvmlGpuSource({ library });
    expect(await source.count()).toBe(1);
    const nonce = new Uint8Array(32).map((_, i) => 0xa0 + i);
    const got = await source.attest(0, nonce);
    expect(Buffer.from(got.report).equals(Buffer.from(realHopperReport()))).toBe(true);
    expect(got.certificateChainPem).toBe(vectorText('nvidia/hopper-cert-chain.pem'));
    expect(new Uint8Array(await readFile(join(dir, 'nonce.bin')))).toEqual(nonce);
    // The real report answers another nonce: the provider wrapper refuses to bind it.
    const provider = withGpuEvidence(createSimulatedProvider(), source);
    expect((await rejection(provider.getEvidence(new Uint8Array(64).fill(1)))).message).toMatch(/does not carry the nonce that was requested/);
  });

  it('a report made for the nonce verifies as nvidia-gpu evidence (test root injected)', async () => {
    const fake = await makeFakeGpu();
    const nonce = new Uint8Array(32).fill(0x5a);
    await serve(await fake.report(nonce), fake.chainPem);
    const got = await createNvmlGpuSource({ library }).attest(0, nonce);
    const v = verifyEvidence({ platform: 'nvidia-gpu', evidence: encodeGpuEvidence(got), at: new Date('2026-03-01T00:00:00Z'), nvidiaRoots: fake.roots, referenceValues: { expectedNonce: Buffer.from(nonce).toString('hex') } });
    expect(v.ok, v.ok ? '' : `${v.code}: ${v.message}`).toBe(true);
  });

  it('NVML errors and a missing library are typed errors', async () => {
    await serve(realHopperReport(), vectorText('nvidia/hopper-cert-chain.pem'));
    process.env['FAKE_NVML_REPORT_ERROR'] = '3';
    const error = await rejection(createNvmlGpuSource({ library }).attest(0, new Uint8Array(32)));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/nvmlDeviceGetConfComputeGpuAttestationReport returned NVML error 3/);
    const missing = await rejection(createNvmlGpuSource({ library: join(dir, 'nope.so') }).count());
    expect(missing.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(missing.message).toMatch(/could not be loaded \(is the NVIDIA driver installed\?\)/);
  });
});
