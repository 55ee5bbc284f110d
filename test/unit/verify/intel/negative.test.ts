/**
 * Tampering with each part of a real quote yields the error class of the
 * check that guards that part, and the failure lands in the transcript.
 */
import { describe, expect, it } from 'vitest';
import { isErrorCode, VerifyError } from '../../../../src/errors.js';
import { Transcript, type VerifyContext } from '../../../../src/verify/types.js';
import { verifyIntelQuote, type IntelVerifyOptions } from '../../../../src/verify/intel/index.js';
import { vector } from '../../../helpers/vectors.js';

function ctxAt(iso: string): VerifyContext {
  return { at: new Date(iso), transcript: new Transcript() };
}

function outcome(quote: Uint8Array, at: string, options?: IntelVerifyOptions): { code: string | undefined; ctx: VerifyContext } {
  const ctx = ctxAt(at);
  try {
    verifyIntelQuote(quote, undefined, ctx, options);
    return { code: undefined, ctx };
  } catch (e) {
    expect(e).toBeInstanceOf(VerifyError);
    return { code: (e as VerifyError).code, ctx };
  }
}

function withByte(file: string, index: number, value: number | ((old: number) => number)): Uint8Array {
  const q = new Uint8Array(vector(file));
  q[index] = typeof value === 'number' ? value : value(q[index]!);
  return q;
}

const flip = (b: number): number => b ^ 0x01;

/** Changes one byte of the DER of the `which`-th PEM certificate in the quote, keeping the PEM layout. */
function tamperPem(file: string, which: number, derIndex: number): Uint8Array {
  const q = new Uint8Array(vector(file));
  const text = Buffer.from(q).toString('latin1');
  let start = -1;
  for (let i = 0; i <= which; i++) start = text.indexOf('-----BEGIN CERTIFICATE-----', start + 1);
  const bodyStart = start + '-----BEGIN CERTIFICATE-----'.length;
  const bodyEnd = text.indexOf('-----END CERTIFICATE-----', bodyStart);
  const positions: number[] = [];
  for (let i = bodyStart; i < bodyEnd; i++) if (/[A-Za-z0-9+/=]/.test(text[i]!)) positions.push(i);
  const der = Buffer.from(positions.map((p) => text[p]).join(''), 'base64');
  der[derIndex]! ^= 0x01;
  const b64 = der.toString('base64');
  expect(b64.length).toBe(positions.length);
  positions.forEach((p, i) => (q[p] = b64.charCodeAt(i)));
  return q;
}

describe('TDX v4 (phala-v4) tampering', () => {
  const file = 'tdx/phala-v4-quote.dat';
  const at = '2025-07-01T00:00:00Z';
  // v4 layout: header 0x00–0x2F, TD body 0x30–0x277, signature data length 0x278,
  // quote signature 0x27C, attestation key 0x2BC, type-6 cert data header 0x2FC,
  // QE report 0x302, QE report signature 0x482, QE auth data size 0x4C2 and data 0x4C4,
  // type-5 cert data header 0x4E4, PEM chain 0x4EA.

  it('the untouched quote verifies', () => {
    expect(outcome(vector(file), at).code).toBeUndefined();
  });

  it.each([
    ['header (user_data)', 0x1e, 'EG_VERIFY_SIGNATURE', 'intel.quote.signature'],
    ['body (MRSEAM)', 0x3c, 'EG_VERIFY_SIGNATURE', 'intel.quote.signature'],
    ['body (REPORTDATA)', 0x240, 'EG_VERIFY_SIGNATURE', 'intel.quote.signature'],
    ['quote signature', 0x290, 'EG_VERIFY_SIGNATURE', 'intel.quote.signature'],
    ['attestation key', 0x2d0, 'EG_VERIFY_BINDING', 'intel.qe.binding'],
    ['QE report (MRENCLAVE)', 0x302 + 64, 'EG_VERIFY_SIGNATURE', 'intel.qe.report.signature'],
    ['QE report signature', 0x490, 'EG_VERIFY_SIGNATURE', 'intel.qe.report.signature'],
    ['QE auth data', 0x4d0, 'EG_VERIFY_BINDING', 'intel.qe.binding'],
  ])('%s', (_name, index, code, step) => {
    const { code: got, ctx } = outcome(withByte(file, index, flip), at);
    expect(got).toBe(code);
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step, ok: false, code });
  });

  it('a QE report reserved byte → EG_VERIFY_PARSE (must be zero)', () => {
    expect(outcome(withByte(file, 0x302 + 100, 1), at).code).toBe('EG_VERIFY_PARSE');
  });

  it('the PCK leaf (serial byte) → EG_VERIFY_CHAIN', () => {
    const { code, ctx } = outcome(tamperPem(file, 0, 20), at);
    expect(code).toBe('EG_VERIFY_CHAIN');
    expect(ctx.transcript.steps.at(-1)?.step).toBe('intel.pck[0].signature');
  });

  it('the PCK CA (serial byte) → EG_VERIFY_CHAIN', () => {
    expect(outcome(tamperPem(file, 1, 20), at).code).toBe('EG_VERIFY_CHAIN');
  });

  it('the root (serial byte) → EG_VERIFY_CHAIN: no longer the pinned root', () => {
    const { code, ctx } = outcome(tamperPem(file, 2, 20), at);
    expect(code).toBe('EG_VERIFY_CHAIN');
    expect(ctx.transcript.steps.at(-1)?.step).toBe('intel.pck.root');
  });

  it.each([
    ['version 2', 0x00, 2, 'EG_VERIFY_UNSUPPORTED'],
    ['attestation key type 3 (ECDSA-384)', 0x02, 3, 'EG_VERIFY_UNSUPPORTED'],
    ['TEE type 0x82', 0x04, 0x82, 'EG_VERIFY_UNSUPPORTED'],
    ['QE vendor id', 0x0c, 0, 'EG_VERIFY_UNSUPPORTED'],
    ['certification data type 5 where 6 is required', 0x2fc, 5, 'EG_VERIFY_UNSUPPORTED'],
    ['signature data length', 0x278, 0x10, 'EG_VERIFY_PARSE'],
    ['QE auth data size', 0x4c2, 0x30, 'EG_VERIFY_PARSE'],
  ])('%s', (_name, index, value, code) => {
    expect(outcome(withByte(file, index, value), at).code).toBe(code);
  });

  it('a truncated quote → EG_VERIFY_PARSE', () => {
    expect(outcome(vector(file).subarray(0, 4000), at).code).toBe('EG_VERIFY_PARSE');
  });

  it('before the PCK notBefore (2025-02-06) → EG_VERIFY_EXPIRED', () => {
    expect(outcome(vector(file), '2025-01-01T00:00:00Z').code).toBe('EG_VERIFY_EXPIRED');
  });
});

describe('go-tdx-guest TestNegativeVerification offsets (gotdx-v4-spr-e4, value 0x32)', () => {
  const file = 'tdx/gotdx-v4-spr-e4-quote.dat';
  const at = '2023-07-01T01:00:00Z';
  const options = { allowTrailingData: true };

  it.each([
    ['version := 3 (v3 is SGX only)', 0x00, 3, 'EG_VERIFY_UNSUPPORTED'],
    ['signed data size', 0x278, 0x32, 'EG_VERIFY_PARSE'],
    ['certificate chain', 0x1343, 0x32, 'EG_VERIFY_CHAIN'],
    ['root certificate', 0x1329, 0x32, 'EG_VERIFY_CHAIN'],
    ['intermediate certificate', 0xf5f, 0x32, 'EG_VERIFY_CHAIN'],
    ['PCK certificate', 0xb77, 0x32, 'EG_VERIFY_CHAIN'],
    ['header', 0x1e, 0x32, 'EG_VERIFY_SIGNATURE'],
    ['TD quote body', 0x3c, 0x32, 'EG_VERIFY_SIGNATURE'],
  ])('%s', (_name, index, value, code) => {
    expect(outcome(withByte(file, index, value), at, options).code).toBe(code);
  });
});

describe('SGX v3 (phala-v3) tampering', () => {
  const file = 'sgx/phala-v3-quote.dat';
  const at = '2025-07-01T00:00:00Z';
  // v3 layout: header 0–47, report body 48–431, signature data length 432,
  // quote signature 436, attestation key 500, QE report 564, QE report signature 948,
  // QE auth data size 1012 and data 1014.

  it.each([
    ['body (MRENCLAVE)', 48 + 64, 'EG_VERIFY_SIGNATURE'],
    ['body (REPORTDATA)', 48 + 330, 'EG_VERIFY_SIGNATURE'],
    ['quote signature', 440, 'EG_VERIFY_SIGNATURE'],
    ['attestation key', 520, 'EG_VERIFY_BINDING'],
    ['QE report (MRSIGNER)', 564 + 130, 'EG_VERIFY_SIGNATURE'],
    ['QE report signature', 960, 'EG_VERIFY_SIGNATURE'],
    ['QE auth data', 1020, 'EG_VERIFY_BINDING'],
  ])('%s', (_name, index, code) => {
    expect(outcome(withByte(file, index, flip), at).code).toBe(code);
  });

  it('a body reserved byte → EG_VERIFY_PARSE', () => {
    expect(outcome(withByte(file, 48 + 24, 1), at).code).toBe('EG_VERIFY_PARSE');
  });
});

describe('trailing data', () => {
  it('zero padding after the quote is accepted', () => {
    const q = Buffer.concat([vector('tdx/trustee-v4-quote.dat'), Buffer.alloc(100)]);
    expect(outcome(q, '2024-01-01T00:00:00Z').code).toBeUndefined();
  });

  it('one non-zero byte after the quote is refused unless allowTrailingData', () => {
    const q = Buffer.concat([vector('tdx/trustee-v4-quote.dat'), Buffer.from([0, 0, 7])]);
    expect(outcome(q, '2024-01-01T00:00:00Z').code).toBe('EG_VERIFY_PARSE');
    expect(outcome(q, '2024-01-01T00:00:00Z', { allowTrailingData: true }).code).toBeUndefined();
  });
});

it('isErrorCode sees verifier errors', () => {
  expect(isErrorCode(new VerifyError('EG_VERIFY_PARSE', 'x'), 'EG_VERIFY_PARSE')).toBe(true);
});
