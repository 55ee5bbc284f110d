import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../src/errors.js';
import { parseCertificate, parsePemBundle } from '../../../src/verify/x509.js';
import { verifyCertificate } from '../../../src/verify/certificate.js';
import { vectorText } from '../../helpers/vectors.js';

describe('parseCertificate', () => {
  const [ask, ark] = parsePemBundle(vectorText('sev-snp/amd-milan-ask-ark.pem'), 'milan chain');

  it('parses exactly the DER it is given, never a PEM block hidden inside the bytes', () => {
    // DER of one certificate followed by the PEM of another: node:crypto alone
    // would return the PEM's certificate.
    const smuggled = Buffer.concat([ask!.raw, Buffer.from(`\n${ark!.toString()}`)]);
    let parsed: unknown;
    try {
      parsed = parseCertificate(smuggled, 'smuggled');
    } catch (err) {
      parsed = err;
    }
    expect(parsed).toBeInstanceOf(VerifyError);
    expect((parsed as VerifyError).code).toBe('EG_VERIFY_PARSE');
    expect(parseCertificate(ask!.raw, 'ask').raw.equals(ask!.raw)).toBe(true);
  });

  it('parses DER of every length, including base64 lengths that are a multiple of 64', async () => {
    const { createSimulatedProvider } = await import('../../../src/evidence/simulated.js');
    const { issueCertificate } = await import('../../../src/ratls/issue.js');
    const { hashEntry } = await import('../../../src/wire/hash-entry.js');
    const lengths = new Set<number>();
    // ECDSA signatures vary in length, so certificates do too. With this
    // common name they are 1342-1345 bytes, and 1342-1344 encode to exactly
    // 28 full base64 lines: issue until one of those has been parsed.
    const fullLines = (n: number): boolean => (Math.ceil(n / 3) * 4) % 64 === 0;
    for (let i = 0; i < 100 && ![...lengths].some(fullLines); i++) {
      const issued = await issueCertificate({
        provider: createSimulatedProvider(),
        policyHash: hashEntry('sha-384', new Uint8Array([7])),
        keyAlgorithm: 'P-384',
        validitySeconds: 3600,
        subjectAltNames: ['localhost'],
        commonName: 'appraisal-test',
      });
      lengths.add(issued.certDer.length);
      expect(parseCertificate(issued.certDer, 'issued').raw.equals(Buffer.from(issued.certDer))).toBe(true);
      // The certificate verifier reads DER through the same path.
      const verdict = verifyCertificate(issued.certDer, { at: new Date(), allowSimulated: true });
      expect(verdict.message).toBeUndefined();
    }
    expect([...lengths].some(fullLines)).toBe(true);
  });

  it('accepts PEM as text or as bytes', () => {
    expect(parseCertificate(ark!.toString(), 'ark').fingerprint256).toBe(ark!.fingerprint256);
    expect(parseCertificate(Buffer.from(`\n${ark!.toString()}`), 'ark').fingerprint256).toBe(ark!.fingerprint256);
  });

  it('rejects garbage with a parse error', () => {
    expect(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), 'junk')).toThrow(/not a valid X\.509/);
  });
});
