/**
 * Parser details the end-to-end vector tests do not reach: v5 body
 * descriptors (including the SGX body type), field offsets, must-be-zero
 * ranges, the PCK SGX extension, and the DER reader's refusals.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../../../src/errors.js';
import { parseIntelQuote, parsePckExtensions } from '../../../../src/verify/intel/index.js';
import { readDer, derTime } from '../../../../src/verify/intel/der.js';
import { vector, vectorText } from '../../../helpers/vectors.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(VerifyError);
    return (e as VerifyError).code;
  }
}

const u16 = (n: number): number[] => [n & 0xff, n >> 8];
const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];

/** Re-wraps the SGX v3 phala quote as a v5 quote with an SGX body (type 1) and type-6 certification data. */
function sgxV5(bodyType = 1, bodySize = 384): Uint8Array {
  const v3 = new Uint8Array(vector('sgx/phala-v3-quote.dat'));
  const header = v3.slice(0, 48);
  header[0] = 5;
  const body = v3.subarray(48, 432);
  const sig = v3.subarray(436, 436 + 128); // signature and attestation key
  const qePart = v3.subarray(436 + 128); // QE report, its signature, auth data, PCK cert data
  const sigData = [...sig, ...u16(6), ...u32(qePart.length), ...qePart];
  return Uint8Array.from([...header, ...u16(bodyType), ...u32(bodySize), ...body, ...u32(sigData.length), ...sigData]);
}

describe('parseIntelQuote', () => {
  it('parses a v5 quote with an SGX body (type 1)', () => {
    const q = parseIntelQuote(sgxV5());
    expect(q.tee).toBe('sgx');
    expect(q.bodyType).toBe(1);
    expect(q.header.version).toBe(5);
    expect(q.signedData.length).toBe(48 + 6 + 384);
    expect(q.body.tee === 'sgx' && Buffer.from(q.body.report.mrEnclave).toString('hex')).toBe('33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
    expect(q.signatureData.pckChainPem).toContain('-----BEGIN CERTIFICATE-----');
  });

  it.each([
    ['body type 2 under an SGX TEE type', 2, 584, 'EG_VERIFY_PARSE'],
    ['a body size that is not the type size', 1, 383, 'EG_VERIFY_PARSE'],
    ['an unknown body type', 4, 384, 'EG_VERIFY_UNSUPPORTED'],
  ])('v5 with %s → %s', (_name, type, size, want) => {
    expect(code(() => parseIntelQuote(sgxV5(type, size)))).toBe(want);
  });

  it('reads the SGX report fields at their offsets', () => {
    const q = parseIntelQuote(vector('sgx/phala-v3-quote.dat'));
    if (q.body.tee !== 'sgx') throw new Error('expected SGX');
    const r = q.body.report;
    expect(Buffer.from(r.reportData).toString('latin1').startsWith('Hello, world!')).toBe(true);
    expect([r.isvProdId, r.isvSvn, r.configSvn]).toEqual([0, 0, 0]);
    expect(r.debug).toBe(false);
    expect(q.signatureData.qeReport.isvSvn).toBe(10);
    expect(q.signatureData.qeAuthData.length).toBe(32);
    expect([...q.signatureData.qeAuthData]).toEqual([...Array(32).keys()]);
  });

  it('reads TD 1.5 fields and the signed range of a v5 TDX quote', () => {
    const q = parseIntelQuote(vector('tdx/gotdx-v5-quote.dat'));
    if (q.body.tee !== 'tdx') throw new Error('expected TDX');
    expect(q.body.report.kind).toBe('td15');
    expect(q.signedData.length).toBe(48 + 6 + 648);
    expect(Buffer.from(q.body.report.teeTcbSvn2!).toString('hex').startsWith('0d0104')).toBe(true);
  });

  it('every SGX body reserved range must be zero', () => {
    for (const offset of [20, 31, 96, 127, 160, 191, 262, 303]) {
      const q = new Uint8Array(vector('sgx/phala-v3-quote.dat'));
      q[48 + offset] = 1;
      expect(code(() => parseIntelQuote(q)), `offset ${offset}`).toBe('EG_VERIFY_PARSE');
    }
  });

  it('non-byte-array input → EG_VERIFY_PARSE', () => {
    expect(code(() => parseIntelQuote('quote' as unknown as Uint8Array))).toBe('EG_VERIFY_PARSE');
  });
});

describe('parsePckExtensions', () => {
  it('reads a Processor CA PCK (echeck) without platform-only fields', () => {
    const pem = Buffer.from(vector('sgx/echeck-sample-quote.dat')).toString('latin1');
    const leaf = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
    const ext = parsePckExtensions(leaf.raw);
    expect(ext).toMatchObject({ fmspc: '00a067110000', pceId: '0000', pceSvn: 13, sgxType: 'Standard' });
    expect(ext.platformInstanceId).toBeUndefined();
  });

  it('reads Platform CA fields (instance ID, configuration) of the phala-v4 PCK', () => {
    const pem = Buffer.from(vector('tdx/phala-v4-quote.dat')).toString('latin1');
    const leaf = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
    const ext = parsePckExtensions(leaf.raw);
    expect(ext.platformInstanceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ext.configuration).toEqual({ dynamicPlatform: true, cachedKeys: true, smtEnabled: true });
  });

  it('a certificate without the SGX extension → EG_VERIFY_PARSE', () => {
    expect(code(() => parsePckExtensions(vector('tdx/intel-sgx-root-ca.der')))).toBe('EG_VERIFY_PARSE');
  });
});

describe('DER reader', () => {
  it.each([
    ['indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['a high tag number', [0x1f, 0x81, 0x01, 0x00]],
    ['a length past the end', [0x04, 0x05, 0x00]],
    ['a truncated long length', [0x04, 0x82, 0x01]],
    ['five length octets', [0x04, 0x85, 0, 0, 0, 0, 1, 0]],
  ])('refuses %s', (_name, bytes) => {
    expect(code(() => readDer(Uint8Array.from(bytes), 0, 'test'))).toBe('EG_VERIFY_PARSE');
  });

  it('reads UTCTime (RFC 5280 century rule) and GeneralizedTime, refuses impossible dates', () => {
    const t = (tag: number, s: string) => derTime(readDer(Uint8Array.from([tag, s.length, ...Buffer.from(s)]), 0, 't'), 't');
    expect(t(0x17, '491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(t(0x17, '500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(t(0x18, '20491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(code(() => t(0x17, '230230000000Z'))).toBe('EG_VERIFY_PARSE');
    expect(code(() => t(0x18, '491231235959Z'))).toBe('EG_VERIFY_PARSE');
  });

  it('the Intel root certificate PEM and DER vectors are the same certificate', () => {
    expect(Buffer.from(new X509Certificate(vectorText('tdx/intel-sgx-root-ca.pem')).raw).equals(vector('tdx/intel-sgx-root-ca.der'))).toBe(true);
  });
});
