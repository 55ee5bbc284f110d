import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../src/errors.js';
import { parseCertificate, parsePemBundle } from '../../../src/verify/x509.js';
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

  it('accepts PEM as text or as bytes', () => {
    expect(parseCertificate(ark!.toString(), 'ark').fingerprint256).toBe(ark!.fingerprint256);
    expect(parseCertificate(Buffer.from(`\n${ark!.toString()}`), 'ark').fingerprint256).toBe(ark!.fingerprint256);
  });

  it('rejects garbage with a parse error', () => {
    expect(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), 'junk')).toThrow(/not a valid X\.509/);
  });
});
