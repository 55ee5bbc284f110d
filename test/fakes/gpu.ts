/**
 * A fake NVIDIA GPU signer for tests that need a GPU report over a nonce of
 * their choosing: a test root and a firmware alias certificate whose TCG DICE
 * FWID extension names the firmware of the real Hopper report
 * (test/vectors/nvidia/hopper-report.hex), and that report with its request
 * nonce replaced and re-signed by the test key. Everything but the signer is
 * the real report, so the parser sees real bytes; verifiers accept it only
 * when given the test root as `nvidiaRoots`.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { opaqueFwid, parseGpuReport } from '../../src/verify/nvidia/index.js';
import { vectorText } from '../helpers/vectors.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;

export interface FakeGpu {
  readonly roots: ReadonlyMap<string, string>;
  readonly chainPem: string;
  /** The real report with `nonce` as its request nonce, re-signed by the test key. */
  report(nonce: Uint8Array): Promise<Uint8Array>;
  /** CoCo's evidence JSON for one device. */
  evidence(nonce: Uint8Array): Promise<Uint8Array>;
}

export function realHopperReport(): Uint8Array {
  return new Uint8Array(Buffer.from(vectorText('nvidia/hopper-report.hex').trim(), 'hex'));
}

/** Wraps a report and PEM chain as CoCo's device_evidence_list JSON. */
export function gpuEvidenceJson(report: Uint8Array, chainPem: string): Uint8Array {
  const device = { arch: 'HOPPER', uuid: 'GPU-fake', evidence: Buffer.from(report).toString('hex'), certificate: Buffer.from(chainPem).toString('base64') };
  return new TextEncoder().encode(JSON.stringify({ device_evidence_list: [device] }));
}

export async function makeFakeGpu(): Promise<FakeGpu> {
  const real = realHopperReport();
  const fwid = Buffer.from(opaqueFwid(parseGpuReport(real))!, 'hex');
  const rootKeys = (await webcrypto.subtle.generateKey(ALG, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=fake NVIDIA device root',
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2100-01-01T00:00:00Z'),
    keys: rootKeys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(ALG, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // A DER SEQUENCE ending in the 48-byte FWID, as the real alias certificates' extension does.
  const fwidExt = new Uint8Array([0x30, 0x32, 0x04, 0x30, ...fwid]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=fake GH100 GSP FMC LF',
    issuer: root.subject,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2100-01-01T00:00:00Z'),
    publicKey: leafKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [new x509.Extension('2.23.133.5.4.1', false, fwidExt)],
  });
  const chainPem = `${leaf.toString('pem')}\n${root.toString('pem')}\n`;
  const fingerprint = createHash('sha256').update(new Uint8Array(root.rawData)).digest('hex');
  const report = async (nonce: Uint8Array): Promise<Uint8Array> => {
    const bytes = real.slice();
    bytes.set(nonce.subarray(0, 32), 4);
    const signedLength = bytes.length - 96;
    const signature = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, leafKeys.privateKey, bytes.subarray(0, signedLength)));
    bytes.set(signature, signedLength);
    return bytes;
  };
  return {
    roots: new Map([[fingerprint, 'fake NVIDIA device root']]),
    chainPem,
    report,
    evidence: async (nonce) => gpuEvidenceJson(await report(nonce), chainPem),
  };
}
