import 'reflect-metadata';
import { X509Certificate, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import {
  appraiseNitro,
  certificateSpkiHex,
  checkNitroCertificateBinding,
  extractNitroFromSan,
  parseNitroReferenceValues,
  verifyNitroDocument,
  verifyNitroSanCertificate,
  type NitroClaims,
} from '../../../../src/verify/nitro/index.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { ctxAt, nitroDocument, spkiHexOf } from './nitro-fixtures.js';
import { expectCode } from '../../../helpers/expect-code.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);


// evervault's own time-sensitive tests run at this instant; both SAN documents are valid then.
const AT = '2023-01-18T15:15:14Z';
const SAN_PEM = vectorText('ratls-certs/evervault-nitro-san-2023-01-18.pem');
const SAN_DER = vector('ratls-certs/evervault-nitro-san-2023-01-18.der');
const SAN_DEBUG_PEM = vectorText('ratls-certs/evervault-nitro-san-debug-2023-01-18.pem');
const TLS_2023_09_18 = vector('nitro/evervault-2023-09-18-tls-cert.der');
const ZERO48 = '00'.repeat(48);

describe('extractNitroFromSan', () => {
  it('finds the document the README cut from the same certificate, from PEM, DER or X509Certificate', () => {
    const expected = Buffer.from(nitroDocument('evervault-2023-01-18-from-cert.cbor'));
    for (const input of [SAN_PEM, new Uint8Array(SAN_DER), new X509Certificate(SAN_DER)]) {
      const { document, host } = extractNitroFromSan(input);
      expect(Buffer.from(document).equals(expected)).toBe(true);
      expect(host).toBe('a-test-of-attest.app_452e33b20b42.cages.evervault.com');
    }
    const debug = extractNitroFromSan(SAN_DEBUG_PEM);
    expect(Buffer.from(debug.document).equals(Buffer.from(nitroDocument('evervault-debug-2023-01-18-from-cert.cbor')))).toBe(true);
    expect(debug.host).toBe('synthetic-cage.app_f5f084041a7e.cages.evervault.com');
  });

  it('refuses certificates without such a name', () => {
    expectCode(() => extractNitroFromSan(vectorText('nitro/aws-nitro-enclaves-root-g1.pem')), 'EG_VERIFY_PARSE'); // no SAN at all
    expectCode(() => extractNitroFromSan(TLS_2023_09_18), 'EG_VERIFY_PARSE'); // an ordinary host name only
    expectCode(() => extractNitroFromSan(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), 'EG_VERIFY_PARSE');
    expectCode(() => extractNitroFromSan('not a pem'), 'EG_VERIFY_PARSE');
  });
});

describe('verifyNitroSanCertificate', () => {
  it('verifies the non-debug certificate: chain, signature, user_data = SPKI, README PCRs match', () => {
    const ctx = ctxAt(AT);
    const evidence = verifyNitroSanCertificate(SAN_PEM, ctx);
    const claims = evidence.claims as unknown as NitroClaims;
    expect(evidence.debug).toBe(false);
    expect(claims.userData).toBe(spkiHexOf(SAN_DER));
    expect(ctx.transcript.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['nitro.san.extract', 'nitro.binding.spki']));
    expect(ctx.transcript.steps.every((s) => s.ok)).toBe(true);

    const rv = parseNitroReferenceValues({
      pcrs: {
        0: ['d265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af'],
        1: [claims.pcrs['1']],
        2: [claims.pcrs['2']],
        8: [claims.pcrs['8']],
      },
    });
    expect(claims.pcrs['1']).toMatch(/^bcdf05fe/);
    expect(claims.pcrs['2']).toMatch(/^e4f634d2/);
    expect(claims.pcrs['8']).toMatch(/^97c5395a/);
    expect(() => appraiseNitro(evidence, rv, ctxAt(AT))).not.toThrow();
    const zeros = parseNitroReferenceValues({ pcrs: { 0: [ZERO48], 1: [ZERO48], 2: [ZERO48], 8: [ZERO48] } });
    expectCode(() => appraiseNitro(evidence, zeros, ctxAt(AT)), 'EG_VERIFY_REFERENCE_VALUES');
  });

  it('verifies the debug certificate, which matches all-zero PCRs only with allowDebug', () => {
    const evidence = verifyNitroSanCertificate(SAN_DEBUG_PEM, ctxAt(AT));
    expect(evidence.debug).toBe(true);
    const zeros = { pcrs: { 0: [ZERO48], 1: [ZERO48], 2: [ZERO48], 8: [ZERO48] } };
    expectCode(() => appraiseNitro(evidence, parseNitroReferenceValues(zeros), ctxAt(AT)), 'EG_VERIFY_DEBUG');
    expect(() => appraiseNitro(evidence, parseNitroReferenceValues({ ...zeros, allowDebug: true }), ctxAt(AT))).not.toThrow();
  });

  it('still enforces the AWS chain at ctx.at', () => {
    expectCode(() => verifyNitroSanCertificate(SAN_PEM, ctxAt('2023-01-18T17:15:14Z')), 'EG_VERIFY_EXPIRED');
  });

  it('a genuine document copied into another key’s certificate → EG_VERIFY_BINDING', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
    const { document, host } = extractNitroFromSan(SAN_PEM);
    const forged = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: `CN=${host}`,
      notBefore: new Date('2023-01-01T00:00:00Z'),
      notAfter: new Date('2024-01-01T00:00:00Z'),
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: host },
          { type: 'dns', value: `${Buffer.from(document).toString('hex')}.${host}` },
        ]),
      ],
    });
    const ctx = ctxAt(AT);
    expectCode(() => verifyNitroSanCertificate(new Uint8Array(forged.rawData), ctx), 'EG_VERIFY_BINDING');
    // The document itself verified; only the binding failed.
    expect(ctx.transcript.steps.find((s) => s.step === 'nitro.cose.signature')?.ok).toBe(true);
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.binding.spki', ok: false, code: 'EG_VERIFY_BINDING' });
  });

  it('refuses a certificate carrying two documents', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
    const hex = Buffer.from(extractNitroFromSan(SAN_PEM).document).toString('hex');
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '02',
      name: 'CN=two',
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `${hex}.a` }, { type: 'dns', value: `${hex}.b` }])],
    });
    expectCode(() => extractNitroFromSan(new Uint8Array(cert.rawData)), 'EG_VERIFY_PARSE');
  });
});

describe('checkNitroCertificateBinding (document delivered beside the TLS certificate)', () => {
  const doc = nitroDocument('evervault-2023-09-18.b64');
  const at = '2023-09-18T15:05:00Z';

  it('binds evervault 2023-09-18 to its TLS certificate', () => {
    const evidence = verifyNitroDocument(doc, ctxAt(at));
    expect(certificateSpkiHex(TLS_2023_09_18)).toBe(spkiHexOf(TLS_2023_09_18));
    const ctx = ctxAt(at);
    checkNitroCertificateBinding(evidence, TLS_2023_09_18, ctx);
    expect(ctx.transcript.steps).toEqual([expect.objectContaining({ step: 'nitro.binding.spki', ok: true })]);
  });

  it('refuses another certificate, and a document with no user_data', () => {
    const evidence = verifyNitroDocument(doc, ctxAt(at));
    expectCode(() => checkNitroCertificateBinding(evidence, SAN_PEM, ctxAt(at)), 'EG_VERIFY_BINDING');
    const sanEvidence = verifyNitroSanCertificate(SAN_PEM, ctxAt(AT));
    expectCode(() => checkNitroCertificateBinding(sanEvidence, SAN_DEBUG_PEM, ctxAt(AT)), 'EG_VERIFY_BINDING');
    const noUserData = verifyNitroDocument(nitroDocument('evervault-2022-10-13.cbor'), ctxAt('2022-10-13T10:00:00Z'));
    expectCode(() => checkNitroCertificateBinding(noUserData, TLS_2023_09_18, ctxAt(at)), 'EG_VERIFY_BINDING');
    expectCode(() => checkNitroCertificateBinding({ ...evidence, platform: 'tdx' }, TLS_2023_09_18, ctxAt(at)), 'EG_VERIFY_USAGE');
  });
});
