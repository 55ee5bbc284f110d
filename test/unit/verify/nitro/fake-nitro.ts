/**
 * A fake Nitro signer: mints a root and a signing certificate with
 * @peculiar/x509 and signs attestation documents with them, so tests can
 * reach cases no real document shows (a timestamp outside the signing
 * certificate's lifetime, a signing key on the wrong curve). Documents are
 * verified against the fake root by passing it as `roots`.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { encode } from 'cbor2';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Curve = 'P-256' | 'P-384';

const algorithm = (curve: Curve): webcrypto.EcKeyGenParams & webcrypto.EcdsaParams => ({
  name: 'ECDSA',
  namedCurve: curve,
  hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256',
});

/** Options for {@link makeFakeNitro}. */
export interface FakeNitroOptions {
  readonly leafNotBefore: Date;
  readonly leafNotAfter: Date;
  readonly leafCurve?: Curve;
}

/** A fake root plus a signing certificate, and a function that signs documents. */
export interface FakeNitro {
  readonly roots: ReadonlyMap<string, string>;
  readonly rootDer: Uint8Array;
  readonly leafDer: Uint8Array;
  /** Signs a payload map (fields as given) into an untagged COSE_Sign1. */
  sign(payload: Map<string, unknown>): Promise<Uint8Array>;
  /** A complete, well-formed payload map for this chain. */
  payload(timestamp: number, extra?: Record<string, unknown>): Map<string, unknown>;
}

/** Builds a fake root (P-384, valid 2000–2100) and a signing certificate it issued. */
export async function makeFakeNitro(options: FakeNitroOptions): Promise<FakeNitro> {
  const curve = options.leafCurve ?? 'P-384';
  const rootAlg = algorithm('P-384');
  const rootKeys = await webcrypto.subtle.generateKey(rootAlg, false, ['sign', 'verify']);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=fake nitro root',
    notBefore: new Date('2000-01-01T00:00:00Z'),
    notAfter: new Date('2100-01-01T00:00:00Z'),
    keys: rootKeys,
    signingAlgorithm: rootAlg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leafAlg = algorithm(curve);
  const leafKeys = await webcrypto.subtle.generateKey(leafAlg, false, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=fake nitro signing certificate',
    issuer: root.subject,
    notBefore: options.leafNotBefore,
    notAfter: options.leafNotAfter,
    publicKey: leafKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: rootAlg,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const rootDer = new Uint8Array(root.rawData);
  const leafDer = new Uint8Array(leaf.rawData);
  const fingerprint = createHash('sha256').update(rootDer).digest('hex');

  return {
    roots: new Map([[fingerprint, 'fake nitro root']]),
    rootDer,
    leafDer,
    payload(timestamp, extra = {}) {
      const pcrs = new Map<number, Uint8Array>();
      for (let i = 0; i < 16; i++) pcrs.set(i, new Uint8Array(48).fill(i < 3 ? 0xa0 + i : 0));
      const map = new Map<string, unknown>([
        ['module_id', 'i-00000000000000000-enc0000000000000000'],
        ['digest', 'SHA384'],
        ['timestamp', timestamp],
        ['pcrs', pcrs],
        ['certificate', leafDer],
        ['cabundle', [rootDer]],
        ['public_key', null],
        ['user_data', null],
        ['nonce', null],
      ]);
      for (const [k, v] of Object.entries(extra)) map.set(k, v);
      return map;
    },
    async sign(payloadMap) {
      const protectedHeader = encode(new Map([[1, -35]]));
      const payload = encode(payloadMap);
      // Built with cbor2 rather than the verifier's own encoder, so the two are checked against each other.
      const toBeSigned = encode(['Signature1', protectedHeader, new Uint8Array(), payload]);
      // WebCrypto ECDSA signatures are already r‖s (IEEE P1363), the COSE form.
      const signature = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: leafAlg.hash }, leafKeys.privateKey, toBeSigned));
      return encode([protectedHeader, new Map(), payload, signature]);
    },
  };
}
