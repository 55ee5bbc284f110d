/**
 * NVIDIA Hopper GPU evidence on real reports (trustee's test data; see
 * test/vectors/README.md): the report from nvtrust's test set and the one a
 * CoCo CI run produced, with their certificate chains. Expected values come
 * from trustee's tests and its claims file, not from our output.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NVIDIA_DEVICE_ROOT_SHA256, parseGpuReport } from '../../../../src/verify/nvidia/index.js';
import { verifyEvidence, type VerifyEvidenceInput } from '../../../../src/verify/index.js';
import type { Verdict } from '../../../../src/verify/verdict.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

const AT = new Date('2025-06-01T00:00:00Z');
/** trustee test_build_claims_for_one_hopper_device / test_evaluation. */
const NONCE = '931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb';
/** trustee local_verifier_coco: the CPU report data, whose first 32 bytes are the GPU nonce. */
const COCO_REPORT_DATA = '87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fece279b616efefc2aae21da80cf5581250';
const claimsFile = JSON.parse(vectorText('nvidia/hopper-report-claims.json')) as { measurements: Record<string, string>; config: { fwid: string; driver_version: string } };

function evidence(report: string, chainPem: string, extra: Record<string, unknown> = {}): Uint8Array {
  const device = { arch: 'HOPPER', uuid: 'GPU-test', evidence: report.trim(), certificate: Buffer.from(chainPem).toString('base64'), ...extra };
  return new TextEncoder().encode(JSON.stringify({ device_evidence_list: [device] }));
}
const nvtrust = (): Uint8Array => evidence(vectorText('nvidia/hopper-report.hex'), vectorText('nvidia/hopper-cert-chain.pem'));
const coco = (): Uint8Array => evidence(vectorText('nvidia/hopper-coco-report.hex'), vectorText('nvidia/hopper-coco-cert-chain.pem'));

function gpu(bytes: Uint8Array, extra: Partial<VerifyEvidenceInput> = {}): Verdict {
  return verifyEvidence({ platform: 'nvidia-gpu', evidence: bytes, at: AT, ...extra });
}
function expectFail(v: Verdict, code: string, step: string): void {
  expect(v.ok).toBe(false);
  expect(v.code).toBe(code);
  expect(v.steps.find((s) => !s.ok)?.step).toBe(step);
}

/** Flips one byte of the hex report. */
function tamperReport(offset: number): Uint8Array {
  const bytes = Buffer.from(vectorText('nvidia/hopper-report.hex').trim(), 'hex');
  bytes[offset]! ^= 0x01;
  return evidence(bytes.toString('hex'), vectorText('nvidia/hopper-cert-chain.pem'));
}

describe('NVIDIA GPU evidence on real Hopper reports', () => {
  it('the pinned root is the SHA-256 of the vector nvidia-device-root.pem', () => {
    expect(createHash('sha256').update(new X509Certificate(vectorText('nvidia/nvidia-device-root.pem')).raw).digest('hex')).toBe(NVIDIA_DEVICE_ROOT_SHA256);
  });

  it('nvtrust report: verifies; nonce, FWID, driver and all 64 measurements as trustee\'s claims file says', () => {
    const v = gpu(nvtrust(), { referenceValues: { expectedNonce: NONCE, nvidia: { measurements: { '2': [claimsFile.measurements['2']!] }, driverVersions: ['550.90.07'] } } });
    expect(v.ok, v.ok ? '' : `${v.code}: ${v.message}`).toBe(true);
    expect(v.platform).toBe('nvidia-gpu');
    expect(v.reportData).toBe(NONCE);
    const device = (v.claims as { devices: { fwid: string; driverVersion: string; measurements: Record<string, string> }[] }).devices[0]!;
    expect(device.fwid).toBe(claimsFile.config.fwid);
    expect(device.driverVersion).toBe(claimsFile.config.driver_version);
    expect(device.measurements).toEqual(claimsFile.measurements);
    expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(expect.arrayContaining(['gpu0.cert.chain', 'gpu0.fwid', 'gpu0.signature', 'appraise.nonce', 'gpu0.appraise.measurements']));
  });

  it('CoCo CI report: verifies, and its nonce is the first 32 bytes of the CPU report data', () => {
    const v = gpu(coco(), { referenceValues: { expectedNonce: COCO_REPORT_DATA.slice(0, 64) } });
    expect(v.ok, v.ok ? '' : `${v.code}: ${v.message}`).toBe(true);
  });

  it('another nonce, another measurement, another driver → refused', () => {
    expectFail(gpu(nvtrust(), { referenceValues: { expectedNonce: COCO_REPORT_DATA.slice(0, 64) } }), 'EG_VERIFY_BINDING', 'appraise.nonce');
    expectFail(gpu(nvtrust(), { referenceValues: { nvidia: { measurements: { '2': ['00'.repeat(48)] } } } }), 'EG_VERIFY_REFERENCE_VALUES', 'gpu0.appraise.measurement2');
    expectFail(gpu(nvtrust(), { referenceValues: { nvidia: { driverVersions: ['535.0.0'] } } }), 'EG_VERIFY_REFERENCE_VALUES', 'gpu0.appraise.driver');
  });

  it('tamper: the request nonce, a measurement, the opaque data, the signature → signature failure', () => {
    // 4: request nonce; 37+8+7: first measurement value; 4117-96-10: inside the opaque data; 4117-1: signature.
    for (const offset of [4, 37 + 8 + 7, 4117 - 96 - 10, 4117 - 1]) expectFail(gpu(tamperReport(offset)), 'EG_VERIFY_SIGNATURE', 'gpu0.signature');
  });

  it('the chain: without the intermediate (trustee case 3) → EG_VERIFY_CHAIN; another GPU\'s chain → its key did not sign', () => {
    expectFail(gpu(evidence(vectorText('nvidia/hopper-report.hex'), vectorText('nvidia/NEG-hopper-cert-chain-no-ica.pem'))), 'EG_VERIFY_CHAIN', 'gpu0.cert[1].signature');
    expectFail(gpu(evidence(vectorText('nvidia/hopper-report.hex'), vectorText('nvidia/hopper-coco-cert-chain.pem'))), 'EG_VERIFY_SIGNATURE', 'gpu0.signature');
    const onlyRoot = vectorText('nvidia/nvidia-device-root.pem');
    expectFail(gpu(evidence(vectorText('nvidia/hopper-report.hex'), onlyRoot)), 'EG_VERIFY_CHAIN', 'gpu0.cert');
  });

  it('malformed input → EG_VERIFY_PARSE / EG_VERIFY_UNSUPPORTED', () => {
    expect(gpu(new TextEncoder().encode('{}')).code).toBe('EG_VERIFY_PARSE');
    // The CoCo report ends in one zero byte of padding (accepted above); a non-zero byte there is unsigned data.
    const padded = vectorText('nvidia/hopper-coco-report.hex').trim().replace(/00$/, '01');
    expect(gpu(evidence(padded, vectorText('nvidia/hopper-coco-cert-chain.pem'))).message).toMatch(/non-zero byte at 4129, after the signature/);
    expect(gpu(evidence(vectorText('nvidia/hopper-report.hex'), vectorText('nvidia/hopper-cert-chain.pem'), { arch: 'BLACKWELL' })).code).toBe('EG_VERIFY_UNSUPPORTED');
    const cut = vectorText('nvidia/hopper-report.hex').trim().slice(0, 2000);
    expect(gpu(evidence(cut, vectorText('nvidia/hopper-cert-chain.pem'))).code).toBe('EG_VERIFY_PARSE');
    const report = parseGpuReport(new Uint8Array(Buffer.from(vectorText('nvidia/hopper-report.hex').trim(), 'hex')));
    expect(report.measurements).toHaveLength(64);
    expect(Buffer.from(report.requestNonce).toString('hex')).toBe(NONCE);
  });
});

describe('requireGpus on certificates', () => {
  it('a certificate without GPU evidence fails when the client requires a GPU', async () => {
    const { verifyCertificate } = await import('../../../../src/verify/index.js');
    // A real Evervault Nitro certificate (no GPU), at the instant evervault's own tests use.
    const der = new Uint8Array(vector('ratls-certs/evervault-nitro-san-2023-01-18.der'));
    const at = new Date(1674054914 * 1000);
    const plain = verifyCertificate(der, { at });
    expect(plain.ok, plain.message).toBe(true);
    const v = verifyCertificate(der, { at, referenceValues: { requireGpus: 1 } });
    expectFail(v, 'EG_VERIFY_REFERENCE_VALUES', 'ratls.gpus');
    expect(v.message).toMatch(/1 GPUs' evidence is required but the Evervault certificate carries none/);
  });
});
