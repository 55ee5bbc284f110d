/**
 * A fake Intel DCAP PKI: a root, a PCK Platform CA, a PCK leaf with an SGX
 * extension, a TCB Signing certificate, signed TCB info / QE identity JSON,
 * CRLs, and a TDX v4 quote signed through all of it. Tests use it to reach
 * cases no real vector shows (a revoked PCK, a revoked CA, a CRL from the
 * wrong issuer). Verification runs against the fake root via `trustedRoots`.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const SGX_EXT = '1.2.840.113741.1.13.1';
const TD_QE_MRSIGNER = 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5';

// ── tiny DER encoder, only for the SGX extension ──
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  const header = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
  return Uint8Array.from([...header, ...content]);
}
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, Uint8Array.from(parts.flatMap((p) => [...p])));
function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Uint8Array.from(out));
}
const int = (n: number, tag = 0x02): Uint8Array => tlv(tag, n < 0x80 ? Uint8Array.of(n) : Uint8Array.of(n >> 8 > 0 ? n >> 8 : 0, n & 0xff));
const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);

/** The SGX extension value for a PCK with these TCB values. */
export function sgxExtension(o: { comps: number[]; pceSvn: number; fmspc: string }): Uint8Array {
  const p = (n: string): Uint8Array => oid(`${SGX_EXT}.${n}`);
  const tcb = o.comps.map((c, i) => seq(p(`2.${i + 1}`), int(c)));
  return seq(
    seq(p('1'), octets(new Uint8Array(16).fill(0xaa))),
    seq(p('2'), seq(...tcb, seq(p('2.17'), int(o.pceSvn)), seq(p('2.18'), octets(Uint8Array.from(o.comps))))),
    seq(p('3'), octets(new Uint8Array(2))),
    seq(p('4'), octets(Buffer.from(o.fmspc, 'hex'))),
    seq(p('5'), int(0, 0x0a)),
  );
}

async function keys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function sign(key: webcrypto.CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  // WebCrypto ECDSA signatures are already raw r‖s, the quote's format.
  return new Uint8Array(await webcrypto.subtle.sign(EC, key, data));
}

const NAME = ', O=Fake Intel, C=US';
const caExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, 0, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

/** Options of {@link makeFakeIntel}. */
export interface FakeIntelOptions {
  /** Serials (hex) the PCK CA's CRL lists. */
  readonly revokedByCa?: readonly string[];
  /** Serials (hex) the root CA's CRL lists. */
  readonly revokedByRoot?: readonly string[];
  /** CRL windows; default 2024-12-01 → 2025-02-01. */
  readonly crlThisUpdate?: Date;
  readonly crlNextUpdate?: Date;
  /** Sign the PCK CRL with the root key instead of the PCK CA's (wrong issuer). */
  readonly pckCrlFromRoot?: boolean;
}

/** The fake PKI and everything it signed. */
export interface FakeIntel {
  readonly roots: ReadonlyMap<string, string>;
  readonly quote: Uint8Array;
  readonly pckSerial: string;
  readonly caSerial: string;
  readonly tcbSigningSerial: string;
  /** The signed bodies inside `collateral`, for tests that edit and re-sign them. */
  readonly tcbInfoBody: string;
  readonly qeIdentityBody: string;
  /** Signs `body` with the fake TCB Signing key into a PCS document `{"<member>":body,"signature":…}`. */
  signDocument(member: 'tcbInfo' | 'enclaveIdentity', body: string): Promise<string>;
  /** Collateral in the PCS (separate files) form. */
  readonly collateral: {
    readonly tcbInfo: string;
    readonly tcbInfoIssuerChain: string;
    readonly qeIdentity: string;
    readonly pckCrl: Uint8Array;
    readonly rootCaCrl: Uint8Array;
  };
}

/** Validation instant every fake certificate, CRL and collateral document covers. */
export const FAKE_AT = new Date('2025-01-01T00:00:00Z');

/** Builds the fake PKI and a TDX v4 quote signed through it. */
export async function makeFakeIntel(options: FakeIntelOptions = {}): Promise<FakeIntel> {
  const notBefore = new Date('2024-01-01T00:00:00Z');
  const notAfter = new Date('2034-01-01T00:00:00Z');
  const [rootKeys, caKeys, pckKeys, tcbKeys, attKeys] = await Promise.all([keys(), keys(), keys(), keys(), keys()]);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=Intel SGX Root CA${NAME}`,
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: EC,
    extensions: caExtensions(),
  });
  const ca = await x509.X509CertificateGenerator.create({
    serialNumber: '0c0a',
    subject: `CN=Intel SGX PCK Platform CA${NAME}`,
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: caKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC,
    extensions: caExtensions(),
  });
  const comps = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
  const pck = await x509.X509CertificateGenerator.create({
    serialNumber: '5ecc01',
    subject: `CN=Intel SGX PCK Certificate${NAME}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: pckKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [new x509.Extension(SGX_EXT, false, sgxExtension({ comps, pceSvn: 11, fmspc: 'f0f0f0000000' }))],
  });
  const tcbSigner = await x509.X509CertificateGenerator.create({
    serialNumber: '7cb5',
    subject: `CN=Intel SGX TCB Signing${NAME}`,
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: tcbKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC,
  });

  // Attestation key as raw x‖y.
  const attRaw = new Uint8Array(await webcrypto.subtle.exportKey('raw', attKeys.publicKey)).subarray(1);
  const auth = Uint8Array.from({ length: 32 }, (_, i) => i);
  const qeReport = new Uint8Array(384);
  qeReport[48] = 0x11; // ATTRIBUTES: INIT | MODE64BIT, not DEBUG
  qeReport.set(Buffer.from(TD_QE_MRSIGNER, 'hex'), 128);
  qeReport[256] = 2; // ISVPRODID of the TD QE
  qeReport[258] = 4; // ISVSVN
  qeReport.set(createHash('sha256').update(attRaw).update(auth).digest(), 320);
  const qeSig = await sign(pckKeys.privateKey, qeReport);

  const header = new Uint8Array(48);
  const dv = new DataView(header.buffer);
  dv.setUint16(0, 4, true);
  dv.setUint16(2, 2, true);
  dv.setUint32(4, 0x81, true);
  header.set(Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'), 12);
  const body = new Uint8Array(584);
  body[0] = 3; // TDX module SVN
  body[1] = 1; // TDX module major version → identity TDX_01
  body[2] = 2;
  body.fill(0x5a, 136, 184); // MRTD
  const signed = Uint8Array.from([...header, ...body]);
  const quoteSig = await sign(attKeys.privateKey, signed);

  const pem = Buffer.from(`${pck.toString('pem')}\n${ca.toString('pem')}\n${root.toString('pem')}\n`, 'latin1');
  const inner = Uint8Array.from([
    ...qeReport,
    ...qeSig,
    ...u16(auth.length),
    ...auth,
    ...u16(5),
    ...u32(pem.length),
    ...pem,
  ]);
  const sigData = Uint8Array.from([...quoteSig, ...attRaw, ...u16(6), ...u32(inner.length), ...inner]);
  const quote = Uint8Array.from([...signed, ...u32(sigData.length), ...sigData]);

  const zeros48 = '0'.repeat(96);
  const tcbInfoBody = JSON.stringify({
    id: 'TDX',
    version: 3,
    issueDate: '2024-12-15T00:00:00Z',
    nextUpdate: '2025-01-15T00:00:00Z',
    fmspc: 'F0F0F0000000',
    pceId: '0000',
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: zeros48, attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        mrsigner: zeros48,
        attributes: '0000000000000000',
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: [{ tcb: { isvsvn: 3 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
      },
    ],
    tcbLevels: [
      {
        tcb: {
          sgxtcbcomponents: comps.map((svn) => ({ svn })),
          pcesvn: 11,
          tdxtcbcomponents: [3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].map((svn) => ({ svn })),
        },
        tcbDate: '2024-03-13T00:00:00Z',
        tcbStatus: 'UpToDate',
      },
    ],
  });
  const qeIdentityBody = JSON.stringify({
    id: 'TD_QE',
    version: 2,
    issueDate: '2024-12-15T00:00:00Z',
    nextUpdate: '2025-01-15T00:00:00Z',
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: TD_QE_MRSIGNER.toUpperCase(),
    isvprodid: 2,
    tcbLevels: [{ tcb: { isvsvn: 4 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
  });
  const hexSig = async (body: string): Promise<string> =>
    Buffer.from(await sign(tcbKeys.privateKey, new TextEncoder().encode(body))).toString('hex');

  const crl = async (issuer: x509.X509Certificate, key: webcrypto.CryptoKey, serials: readonly string[]): Promise<Uint8Array> => {
    const made = await x509.X509CrlGenerator.create({
      issuer: issuer.subject,
      thisUpdate: options.crlThisUpdate ?? new Date('2024-12-01T00:00:00Z'),
      nextUpdate: options.crlNextUpdate ?? new Date('2025-02-01T00:00:00Z'),
      signingKey: key,
      signingAlgorithm: EC,
      entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date('2024-12-01T00:00:00Z') })),
    });
    return new Uint8Array(made.rawData);
  };

  const fingerprint = createHash('sha256').update(new Uint8Array(root.rawData)).digest('hex');
  return {
    roots: new Map([[fingerprint, 'fake Intel root']]),
    quote,
    pckSerial: pck.serialNumber,
    caSerial: ca.serialNumber,
    tcbSigningSerial: tcbSigner.serialNumber,
    tcbInfoBody,
    qeIdentityBody,
    signDocument: async (member, body) => `{"${member}":${body},"signature":"${await hexSig(body)}"}`,
    collateral: {
      tcbInfo: `{"tcbInfo":${tcbInfoBody},"signature":"${await hexSig(tcbInfoBody)}"}`,
      tcbInfoIssuerChain: `${tcbSigner.toString('pem')}\n${root.toString('pem')}\n`,
      qeIdentity: `{"enclaveIdentity":${qeIdentityBody},"signature":"${await hexSig(qeIdentityBody)}"}`,
      pckCrl: options.pckCrlFromRoot
        ? await crl(root, rootKeys.privateKey, options.revokedByCa ?? [])
        : await crl(ca, caKeys.privateKey, options.revokedByCa ?? []),
      rootCaCrl: await crl(root, rootKeys.privateKey, options.revokedByRoot ?? []),
    },
  };
}

function u16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}

function u32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}
