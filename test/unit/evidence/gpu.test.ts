/**
 * GPU evidence beside CPU evidence, end to end: a provider wrapped with a
 * GPU source issues a certificate whose id-pe-cmw extension is a CMW
 * collection (cpu, gpu0, …), and verifyCertificate checks each GPU report,
 * its binding to the CPU claims and requireGpus. The CPU side is simulated;
 * the GPU report is the real Hopper report re-signed by a test key over the
 * requested nonce (test/fakes/gpu.ts), so the verifier needs the test root
 * injected as nvidiaRoots, and refuses it under the pinned NVIDIA root.
 */
import 'reflect-metadata';
import { X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { createProvider, type GpuReportSource } from '../../../src/evidence/index.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { verifyCertificate } from '../../../src/verify/index.js';
import { GPU_MEDIA_TYPE, OID_CMW, OID_TCG_DICE_TAGGED_EVIDENCE, decodeCmwContents } from '../../../src/wire/extension.js';
import { hashEntry } from '../../../src/wire/hash-entry.js';
import { makeFakeGpu, realHopperReport, type FakeGpu } from '../../fakes/gpu.js';
import { rejection } from '../../helpers/expect-code.js';
import { vectorText } from '../../helpers/vectors.js';

const T = new Date('2026-03-01T12:00:00Z');
const at = new Date(T.getTime() + 60_000);
const policyHash = hashEntry('sha-384', new TextEncoder().encode('policy bundle'));

function source(fake: FakeGpu, count = 1, nonceOverride?: Uint8Array): GpuReportSource & { asked: Uint8Array[] } {
  const asked: Uint8Array[] = [];
  return {
    asked,
    count: async () => count,
    attest: async (_i, nonce) => {
      asked.push(nonce);
      return { arch: 'Hopper', uuid: 'GPU-fake', report: await fake.report(nonceOverride ?? nonce), certificateChainPem: fake.chainPem };
    },
  };
}

async function issue(gpuSource: GpuReportSource) {
  const provider = createProvider('simulated', { gpuSource });
  return issueCertificate({ provider, policyHash, keyAlgorithm: 'P-384', validitySeconds: 3600, subjectAltNames: ['localhost'], commonName: 'gpu test', now: () => T });
}

describe('CPU + GPU evidence in one CMW collection', () => {
  it('issues cpu + gpu0, each GPU asked with the report data\'s first 32 bytes; verifies with the test root injected', async () => {
    const fake = await makeFakeGpu();
    const gpus = source(fake, 2);
    const cert = await issue(gpus);
    const peculiar = new PeculiarCertificate(cert.certDer);
    const contents = decodeCmwContents(new Uint8Array(peculiar.getExtension(OID_CMW)!.value));
    expect(contents.gpus).toHaveLength(2);
    // The collection's cpu entry is byte for byte the DICE extension; 2.23.133.5.4.9 stays CPU-only for other verifiers.
    expect(Buffer.from(contents.taggedEvidence).equals(Buffer.from(peculiar.getExtension(OID_TCG_DICE_TAGGED_EVIDENCE)!.value))).toBe(true);
    expect(GPU_MEDIA_TYPE).toMatch(/nvidia-gpu-evidence/);

    const v = verifyCertificate(cert.certDer, { at, allowSimulated: true, nvidiaRoots: fake.roots, referenceValues: { requireGpus: 2 } });
    expect(v.ok, v.ok ? '' : `${v.code}: ${v.message}`).toBe(true);
    const verifiedGpus = (v.claims as { gpus: { nonce: string }[] }).gpus;
    expect(verifiedGpus).toHaveLength(2);
    // The nonce each GPU was asked with is what the verifier found bound to the claims.
    expect(verifiedGpus[0]!.nonce).toBe(Buffer.from(gpus.asked[0]!).toString('hex'));
    expect(v.reportData!.slice(0, 64)).toBe(verifiedGpus[0]!.nonce);
    expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(expect.arrayContaining(['cert.cmw.collection', 'gpu0.signature', 'gpu0.binding', 'gpu1.binding', 'ratls.gpus']));
  });

  it('the same certificate under the pinned NVIDIA root fails the GPU chain; requiring more GPUs than carried fails', async () => {
    const fake = await makeFakeGpu();
    const cert = await issue(source(fake));
    const pinned = verifyCertificate(cert.certDer, { at, allowSimulated: true });
    expect(pinned.code).toBe('EG_VERIFY_CHAIN');
    expect(pinned.steps.find((s) => !s.ok)?.step).toBe('gpu0.cert.root');
    const tooFew = verifyCertificate(cert.certDer, { at, allowSimulated: true, nvidiaRoots: fake.roots, referenceValues: { requireGpus: 2 } });
    expect(tooFew.code).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(tooFew.steps.find((s) => !s.ok)?.step).toBe('ratls.gpus');
  });

  it('a GPU report for other evidence (another nonce) is refused by the provider, and by the verifier', async () => {
    const fake = await makeFakeGpu();
    const other = new Uint8Array(32).fill(0x42);
    const error = await rejection(issue(source(fake, 1, other)));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/GPU 0's attestation report does not carry the nonce that was requested/);

    // Build the certificate as a dishonest server would, past the provider's check.
    const honest = source(fake);
    const lying: GpuReportSource = {
      count: honest.count,
      attest: async (i, nonce) => {
        const real = await honest.attest(i, nonce);
        const swapped = await fake.report(other);
        swapped.set(nonce, 4); // passes the provider's echo check, breaks the GPU signature
        return { ...real, report: swapped };
      },
    };
    const cert = await issue(lying);
    const v = verifyCertificate(cert.certDer, { at, allowSimulated: true, nvidiaRoots: fake.roots });
    expect(v.code).toBe('EG_VERIFY_SIGNATURE');
    expect(v.steps.find((s) => !s.ok)?.step).toBe('gpu0.signature');
  });

  it('a genuine GPU report made for another nonce, carried intact, fails the binding (gpu0.binding)', async () => {
    const fake = await makeFakeGpu();
    const other = new Uint8Array(32).fill(0x42);
    // A source that lies about the nonce it was asked but returns an intact report over `other`: only the verifier can tell.
    const replaying: GpuReportSource = {
      count: async () => 1,
      attest: async () => ({ arch: 'Hopper', report: await fake.report(other), certificateChainPem: fake.chainPem }),
    };
    const provider = createProvider('simulated');
    const cert = await issueCertificate({
      provider: { ...provider, name: provider.name, platform: provider.platform, insecure: provider.insecure, getEvidence: async (rd, o) => ({ ...(await provider.getEvidence(rd, o)), gpus: [await encode(replaying)] }) },
      policyHash,
      keyAlgorithm: 'P-384',
      validitySeconds: 3600,
      subjectAltNames: ['localhost'],
      commonName: 'gpu test',
      now: () => T,
    });
    const v = verifyCertificate(cert.certDer, { at, allowSimulated: true, nvidiaRoots: fake.roots });
    expect(v.code).toBe('EG_VERIFY_BINDING');
    expect(v.steps.find((s) => !s.ok)?.step).toBe('gpu0.binding');
  });

  it('no GPU found while GPU evidence is configured → EG_ATTESTATION_UNAVAILABLE; the real report (fixed nonce) is refused', async () => {
    const fake = await makeFakeGpu();
    expect((await rejection(issue(source(fake, 0)))).code).toBe('EG_ATTESTATION_UNAVAILABLE');
    const real: GpuReportSource = { count: async () => 1, attest: async () => ({ arch: 'Hopper', report: realHopperReport(), certificateChainPem: vectorText('nvidia/hopper-cert-chain.pem') }) };
    expect((await rejection(issue(real))).message).toMatch(/does not carry the nonce that was requested/);
  });
});

async function encode(source: GpuReportSource): Promise<Uint8Array> {
  const { encodeGpuEvidence } = await import('../../../src/evidence/gpu.js');
  return encodeGpuEvidence(await source.attest(0, new Uint8Array(32)));
}
