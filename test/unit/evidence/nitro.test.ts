import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'cbor2';
import { describe, expect, it } from 'vitest';
import { createProvider, detectNow } from '../../../src/evidence/index.js';
import { NSM_DESCRIBE_REQUEST, NSM_IOCTL_RAW, createNitroProvider, encodeNsmAttestationRequest } from '../../../src/evidence/nitro.js';
import { nativeIoctlOpener } from '../../../src/evidence/native-ioctl.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { verifyCertificate } from '../../../src/verify/index.js';
import { hashEntry } from '../../../src/wire/hash-entry.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { createFakeNsm, type NsmAttestationRequest } from '../../fakes/nsm.js';
import { rejection } from '../../helpers/expect-code.js';
import { vector } from '../../helpers/vectors.js';
import { makeFakeNitro } from '../verify/nitro/fake-nitro.js';

const REPORT_DATA = new Uint8Array(64).fill(7);
const nowhere = join(tmpdir(), 'eg-no-such-nsm');
/** The instant the test enclave "runs" at; certificates and documents are made around it. */
const T = new Date('2026-03-01T12:00:00Z');

describe('NSM wire format', () => {
  it('_IOWR(0x0A, 0, 32-byte struct nsm_raw) is 0xC0200A00', () => {
    const IOC_READ_WRITE = 3;
    expect(((IOC_READ_WRITE << 30) | (32 << 16) | (0x0a << 8) | 0) >>> 0).toBe(NSM_IOCTL_RAW);
  });

  it('an Attestation request is {"Attestation":{user_data, nonce, public_key}} with null for absent fields', () => {
    const bytes = encodeNsmAttestationRequest({ userData: REPORT_DATA, publicKey: new Uint8Array([1, 2]) });
    const decoded = decode(bytes, { preferMap: true }) as Map<string, Map<string, unknown>>;
    expect([...decoded.keys()]).toEqual(['Attestation']);
    const inner = decoded.get('Attestation')!;
    expect([...inner.keys()]).toEqual(['user_data', 'nonce', 'public_key']);
    expect(inner.get('user_data')).toEqual(REPORT_DATA);
    expect(inner.get('nonce')).toBeNull();
    expect(inner.get('public_key')).toEqual(new Uint8Array([1, 2]));
    // serde_cbor's encoding of a unit variant is its name as a text string.
    expect(decode(NSM_DESCRIBE_REQUEST)).toBe('DescribeNSM');
  });
});

describe('nitro provider with a fake NSM answering real documents', () => {
  // A genuine document from a real enclave: it carries its own user_data, not ours.
  const real = vector('nitro/veracruz-2022-11-09.cbor');

  it('refuses a genuine document that does not echo what was asked, naming the fields', async () => {
    const nsm = createFakeNsm({ attest: () => ({ document: new Uint8Array(real) }) });
    const provider = createNitroProvider({ open: nsm.open });
    const error = await rejection(provider.getEvidence(REPORT_DATA, { publicKey: new Uint8Array(91).fill(4) }));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/does not echo the user_data \(the report data\), public_key \(the TLS key\), nonce that was requested/);
    expect(nsm.requests[0]!.userData).toEqual(REPORT_DATA);
    expect(nsm.openDevices()).toBe(0);
  });

  it('an NSM error answer becomes EG_ATTESTATION_FAILED with the NSM error code', async () => {
    const nsm = createFakeNsm({ attest: () => ({ error: 'InputTooLarge' }) });
    const error = await rejection(createNitroProvider({ open: nsm.open }).getEvidence(REPORT_DATA));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/the NSM refused the request: InputTooLarge/);
  });

  it.each([
    ['not CBOR', new Uint8Array([0xff, 0x00]), /not CBOR/],
    ['a document that is no COSE_Sign1', new Uint8Array([0xa1, 0x6b, ...Buffer.from('Attestation'), 0xa1, 0x68, ...Buffer.from('document'), 0x41, 0x00]), /does not decode as COSE_Sign1/],
  ])('a malformed answer (%s) is refused', async (_name, raw, message) => {
    const nsm = createFakeNsm({ attest: () => ({ raw }) });
    expect((await rejection(createNitroProvider({ open: nsm.open }).getEvidence(REPORT_DATA))).message).toMatch(message);
  });

  it('an oversized public key is refused before the device is touched', async () => {
    const nsm = createFakeNsm({ attest: () => ({ document: real }) });
    const error = await rejection(createNitroProvider({ open: nsm.open }).getEvidence(REPORT_DATA, { publicKey: new Uint8Array(1025) }));
    expect(error.message).toMatch(/public key is 1025 bytes, the NSM accepts at most 1024/);
    expect(nsm.calls).toEqual([]);
  });

  it('errno from the device: EMSGSIZE is a failure, ENOENT at open is "not here"', async () => {
    const big = createFakeNsm({ attest: () => ({ errno: 'EMSGSIZE' }) });
    const error = await rejection(createNitroProvider({ open: big.open }).getEvidence(REPORT_DATA));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.details).toMatchObject({ provider: 'nitro', errno: 'EMSGSIZE' });
    const gone = createFakeNsm({ attest: () => ({ document: real }), openErrno: 'ENOENT' });
    const missing = await rejection(createNitroProvider({ open: gone.open }).probe());
    expect(missing.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(missing.message).toMatch(/run inside an AWS Nitro Enclave/);
  });
});

describe('nitro provider through the real ioctl (koffi, libc)', () => {
  it('a missing device → EG_ATTESTATION_UNAVAILABLE (ENOENT), at creation and at the call', async () => {
    expect(() => createProvider('nitro', { nsmDevice: nowhere })).toThrow(/\/dev\/nsm|eg-no-such-nsm.*does not exist \(needs an AWS Nitro Enclave/);
    const error = await rejection(createNitroProvider({ device: nowhere }).getEvidence(REPORT_DATA));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.details).toMatchObject({ errno: 'ENOENT', path: nowhere });
  });

  it('a device that is not the NSM (/dev/null) → ENOTTY from the kernel, EG_ATTESTATION_UNAVAILABLE', async () => {
    expect(existsSync('/dev/null')).toBe(true);
    const provider = createNitroProvider({ device: '/dev/null', open: nativeIoctlOpener('nitro') });
    for (const attempt of [provider.probe(), provider.getEvidence(REPORT_DATA)]) {
      const error = await rejection(attempt);
      expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
      expect(error.details).toMatchObject({ provider: 'nitro', errno: 'ENOTTY', path: '/dev/null' });
      expect(error.message).toMatch(/\(ENOTTY\): the device does not understand NSM_IOCTL_RAW \(0xC0200A00\): it is not the Nitro Secure Module/);
    }
  });
});

/** A fake NSM that signs, with a test root, documents echoing exactly what it was asked. */
async function signingNsm(tamper?: (request: NsmAttestationRequest) => NsmAttestationRequest) {
  const signer = await makeFakeNitro({ leafNotBefore: new Date(T.getTime() - 3600_000), leafNotAfter: new Date(T.getTime() + 3 * 3600_000) });
  const nsm = createFakeNsm({
    attest: async (asked) => {
      const r = tamper === undefined ? asked : tamper(asked);
      return { document: await signer.sign(signer.payload(T.getTime(), { user_data: r.userData, nonce: r.nonce, public_key: r.publicKey })) };
    },
  });
  return { signer, nsm };
}

describe('nitro provider end to end: issue an RA-TLS certificate, verify it with our verifier', () => {
  const policyHash = hashEntry('sha-384', new TextEncoder().encode('policy bundle'));
  const issue = (provider: ReturnType<typeof createProvider>) =>
    issueCertificate({ provider, policyHash, keyAlgorithm: 'P-384', validitySeconds: 3600, subjectAltNames: ['localhost'], commonName: 'nitro test', now: () => T });
  const at = new Date(T.getTime() + 60_000);

  it('binds report data, the TLS key and nothing else; verifies against the injected test root only', async () => {
    const { signer, nsm } = await signingNsm();
    const provider = createProvider('nitro', { nsmOpen: nsm.open });
    const cert = await issue(provider);
    expect(provider.platform).toBe('nitro');
    // What the NSM was asked: the 64 bytes of report data and the certificate's SubjectPublicKeyInfo.
    const spki = new Uint8Array(new (await import('node:crypto')).X509Certificate(cert.certDer).publicKey.export({ type: 'spki', format: 'der' }));
    expect(nsm.requests).toHaveLength(1);
    expect(nsm.requests[0]!.publicKey).toEqual(spki);
    expect(nsm.requests[0]!.nonce).toBeNull();

    const ok = verifyCertificate(cert.certDer, { at, nitroRoots: signer.roots, referenceValues: { policyHashes: [`sha-384:${Buffer.from(policyHash.digest).toString('hex')}`] } });
    expect(ok.ok, ok.ok ? '' : `${ok.code}: ${ok.message}`).toBe(true);
    expect(ok.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['nitro.cose.signature', 'ratls.report-data', 'nitro.public-key', 'ratls.policy-hash']));

    // The same certificate against the pinned AWS root: the test root is not trusted by default.
    const pinned = verifyCertificate(cert.certDer, { at });
    expect(pinned.ok).toBe(false);
    expect(pinned.ok ? '' : pinned.code).toBe('EG_VERIFY_CHAIN');
  });

  it('a device that signs another key into public_key is caught by the provider', async () => {
    const { nsm } = await signingNsm((r) => ({ ...r, publicKey: new Uint8Array(91).fill(9) }));
    const error = await rejection(issue(createProvider('nitro', { nsmOpen: nsm.open })));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/does not echo the public_key \(the TLS key\) that was requested/);
  });

  it('passes the freshness nonce into the document', async () => {
    const { nsm } = await signingNsm();
    const provider = createNitroProvider({ open: nsm.open });
    const nonce = new Uint8Array(32).fill(0xab);
    const evidence = await provider.getEvidence(REPORT_DATA, { nonce });
    expect(evidence.tag).toBe(EVIDENCE_TAG.nitro);
    expect(nsm.requests[0]!.nonce).toEqual(nonce);
  });

  it('auto probes the NSM (DescribeNSM, no attestation) after the other providers', async () => {
    const { nsm } = await signingNsm();
    const provider = createProvider('auto', { configfsRoot: nowhere, gramineDevice: nowhere, dstackSocket: nowhere, tpmDevice: nowhere, nsmOpen: nsm.open });
    const steps = await detectNow(provider);
    expect(steps?.map((s) => [s.provider, s.chosen])).toEqual([
      ['configfs-tsm', false],
      ['gramine', false],
      ['dstack', false],
      ['azure-vtpm', false],
      ['nitro', true],
    ]);
    expect(nsm.calls).toEqual(['DescribeNSM']);
    expect(provider.platform).toBe('nitro');
  });
});
