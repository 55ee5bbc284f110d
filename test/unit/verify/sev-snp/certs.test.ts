import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { parsePemBundle } from '../../../../src/verify/x509.js';
import { checkAmdSignatureAlgorithm, parseVekExtensions } from '../../../../src/verify/sev-snp/certs.js';
import { decodeOid, readTlv } from '../../../../src/verify/sev-snp/der.js';
import { AMD_ARKS } from '../../../../src/verify/sev-snp/index.js';
import { fingerprint256 } from '../../../../src/verify/x509.js';
import { vectorText } from '../../../helpers/vectors.js';
import { snp, snpText } from './fixtures.js';

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof VerifyError ? error.code : `non-VerifyError: ${String(error)}`;
  }
}

describe('VEK extensions (README values)', () => {
  it('gosev VCEK: Milan-B0, bl2 tee0 snp5 ucode68, 64-byte hwID = report chip_id', () => {
    const x = parseVekExtensions(snp('gosev-milan-vcek.der'), 'gosev');
    expect(x.kind).toBe('vcek');
    expect(x.productName).toBe('Milan-B0');
    expect(x.tcb).toMatchObject({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    expect(x.tcb.fmc).toBeUndefined();
    expect(x.tcb.reserved).toEqual({ spl4: 0, spl5: 0, spl6: 0, spl7: 0 });
    expect(hex(x.hwId).startsWith('3ac3fe21')).toBe(true);
    expect(hex(x.hwId).endsWith('006b5d')).toBe(true);
    expect(x.cspId).toBeUndefined();
  });

  it('trustee VLEK: cspID, productName Milan, ucode 217 (INTEGER 02 02 00 D9)', () => {
    const x = parseVekExtensions(snp('trustee-milan-vlek.der'), 'vlek');
    expect(x.kind).toBe('vlek');
    expect(x.cspId).toBe('CN=cc-us-east-2.amazonaws.com');
    expect(x.productName).toBe('Milan');
    expect(x.tcb).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 217 });
    expect(x.hwId).toBeUndefined();
  });

  it('Turin VCEK: structVersion 1, fmcSPL, 8-byte hwID', () => {
    const x = parseVekExtensions(snp('virtee-turin-vcek.der'), 'turin');
    expect(x).toMatchObject({ kind: 'vcek', structVersion: 1, productName: 'Turin' });
    expect(x.tcb).toMatchObject({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
    expect(hex(x.hwId)).toBe('1e550a8ee5cf9f4d');
  });

  it('the NEG VCEKs parse (raw and OCTET STRING-wrapped hwID 00..3f); only the chain rejects them', () => {
    const counting = Buffer.from(Array.from({ length: 64 }, (_, i) => i)).toString('hex');
    for (const f of ['NEG-trustee-vcek-modified-legacy-hwid.der', 'NEG-trustee-vcek-modified-new-hwid.der']) {
      expect(hex(parseVekExtensions(snp(f), f).hwId)).toBe(counting);
    }
  });

  it('every VEK in the vectors parses', () => {
    const pems = ['azure-genoa-vcek.pem', 'dstack-milan-vcek.pem', 'azure-milan-vcek-ask-ark.pem'].map((f) => parsePemBundle(snpText(f), f)[0]!.raw);
    const ders = ['trustee-milan-vcek.der', 'trustee-genoa-vcek.der', 'virtee-milan-vcek.der'].map(snp);
    for (const der of [...pems, ...ders]) expect(parseVekExtensions(der, 'vek').kind).toBe('vcek');
  });

  it('an ASK carries no VEK extensions', () => {
    const [ask] = parsePemBundle(snpText('amd-milan-ask-ark.pem'), 'milan');
    expect(code(() => parseVekExtensions(ask!.raw, 'ASK'))).toBe('EG_VERIFY_PARSE');
  });
});

describe('AMD signature algorithm', () => {
  it('every AMD certificate in the vectors is RSASSA-PSS SHA-384 / MGF1-SHA-384 / salt 48', () => {
    const bundles = ['milan', 'genoa', 'turin'].flatMap((p) => [`amd-${p}-ask-ark.pem`, `amd-${p}-asvk-ark.pem`]);
    const certs = bundles.flatMap((f) => parsePemBundle(snpText(f), f));
    for (const cert of certs) checkAmdSignatureAlgorithm(cert.raw, cert.subject);
    checkAmdSignatureAlgorithm(snp('gosev-milan-vcek.der'), 'vcek');
  });

  it('a certificate signed with anything else is a chain failure', () => {
    // Intel's SGX root is ECDSA-SHA256: a perfectly good certificate, but not AMD's algorithm.
    const [intel] = parsePemBundle(vectorText('sgx/mobilecoin-root_ca.pem'), 'intel');
    expect(code(() => checkAmdSignatureAlgorithm(intel!.raw, 'intel'))).toBe('EG_VERIFY_CHAIN');
  });
});

describe('pinned ARKs', () => {
  it('recompute to the fingerprints in roots.ts, and ASK and ASVK bundles share the ARK', () => {
    for (const product of ['milan', 'genoa', 'turin'] as const) {
      for (const kind of ['ask', 'asvk']) {
        const [, ark] = parsePemBundle(snpText(`amd-${product}-${kind}-ark.pem`), product);
        expect(fingerprint256(ark!)).toBe(AMD_ARKS[product].sha256);
        expect(ark!.subject).toContain(`CN=${AMD_ARKS[product].commonName}`);
      }
    }
    expect(AMD_ARKS.milan.sha256.startsWith('69d063b4')).toBe(true);
    expect(AMD_ARKS.milan.sha256.endsWith('0bcd')).toBe(true);
  });
});

describe('DER reader robustness', () => {
  const vek = new Uint8Array(snp('trustee-milan-vlek.der'));

  it('mutated or truncated VEKs only ever raise VerifyErrors', () => {
    fc.assert(
      fc.property(fc.nat({ max: vek.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: vek.length }), (at, value, cut) => {
        const bytes = new Uint8Array(vek);
        bytes[at] = value;
        for (const input of [bytes, vek.subarray(0, cut)]) {
          const c = code(() => {
            parseVekExtensions(input, 'vek');
            checkAmdSignatureAlgorithm(input, 'vek');
          });
          if (c !== undefined && !c.startsWith('EG_VERIFY_')) return false;
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });

  it('random bytes only ever raise VerifyErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const c = code(() => parseVekExtensions(bytes, 'x'));
        return c === undefined || c.startsWith('EG_VERIFY_');
      }),
      { numRuns: 500 },
    );
  });

  it('rejects non-DER lengths and decodes OIDs', () => {
    expect(code(() => readTlv(Uint8Array.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0, 8, 'x'))).toBe('EG_VERIFY_PARSE');
    expect(code(() => readTlv(Uint8Array.from([0x30, 0x80, 0, 0]), 0, 4, 'x'))).toBe('EG_VERIFY_PARSE');
    expect(code(() => readTlv(Uint8Array.from([0x04, 0x05, 1]), 0, 3, 'x'))).toBe('EG_VERIFY_PARSE');
    const oid = Uint8Array.from([0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, 0x04]);
    expect(decodeOid(oid, readTlv(oid, 0, oid.length, 'x'), 'x')).toBe('1.3.6.1.4.1.3704.1.4');
  });
});
