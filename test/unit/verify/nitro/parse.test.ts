import { describe, expect, it } from 'vitest';
import { Tag, encode } from 'cbor2';
import { isErrorCode, type ErrorCode } from '../../../../src/errors.js';
import { MAX_DOCUMENT_BYTES, parseNitroDocument } from '../../../../src/verify/nitro/index.js';
import { joinCose, nitroDocument, splitCose, withPayload, withRawPayload } from './nitro-fixtures.js';

const doc = nitroDocument('veracruz-2022-11-09.cbor');
const dstack = nitroDocument('dstack-2025-12-25.cbor');

function expectParseFailure(bytes: Uint8Array, code: ErrorCode, message: RegExp): void {
  let thrown: unknown;
  try {
    parseNitroDocument(bytes);
  } catch (error) {
    thrown = error;
  }
  expect(isErrorCode(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
  expect((thrown as Error).message).toMatch(message);
}

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

describe('parseNitroDocument on real documents', () => {
  it('types every field of a definite-length document', () => {
    const { cose, document } = parseNitroDocument(doc);
    expect(cose.tagged).toBe(false);
    expect(cose.alg).toBe(-35);
    expect(Buffer.from(cose.protectedHeader).toString('hex')).toBe('a1013822');
    expect(cose.signature).toHaveLength(96);
    expect(document.digest).toBe('SHA384');
    expect(document.timestamp).toBe(1668034320696);
    expect([...document.pcrs.keys()]).toEqual([...Array(16).keys()]);
    expect([...document.pcrs.values()].every((p) => p.length === 48)).toBe(true);
    expect(document.cabundle).toHaveLength(4);
    expect(document.publicKey).toBeUndefined(); // CBOR null
    expect(document.userData).toHaveLength(32);
    expect(document.nonce).toHaveLength(32);
  });

  it('types an indefinite-length (0xBF) document the same way', () => {
    const { cose, document } = parseNitroDocument(dstack);
    expect(cose.payload[0]).toBe(0xbf);
    expect(document.pcrs.size).toBe(16);
    expect(document.nonce).toBeUndefined();
    expect(document.userData).toHaveLength(64);
  });

  it('does not alias the caller buffer', () => {
    const copy = doc.slice();
    const { document } = parseNitroDocument(copy);
    const before = Buffer.from(document.pcrs.get(0)!).toString('hex');
    copy.fill(0);
    expect(Buffer.from(document.pcrs.get(0)!).toString('hex')).toBe(before);
  });
});

describe('parseNitroDocument envelope errors', () => {
  it('rejects empty, oversized and trailing input', () => {
    expectParseFailure(new Uint8Array(), 'EG_VERIFY_PARSE', /empty/);
    expectParseFailure(new Uint8Array(MAX_DOCUMENT_BYTES + 1), 'EG_VERIFY_PARSE', /limit/);
    expectParseFailure(Buffer.concat([doc, Uint8Array.of(0)]), 'EG_VERIFY_PARSE', /trailing bytes/);
    expectParseFailure(doc.subarray(0, doc.length - 1), 'EG_VERIFY_PARSE', /not well-formed CBOR/);
  });

  it('rejects a tag other than 18 as unsupported', () => {
    expectParseFailure(Buffer.concat([Uint8Array.of(0xd8, 0x62), doc]), 'EG_VERIFY_UNSUPPORTED', /tag 98/);
  });

  it('rejects an envelope that is not a 4-item array', () => {
    const { protectedHeader, unprotected, payload } = splitCose(doc);
    expectParseFailure(encode([protectedHeader, unprotected, payload]), 'EG_VERIFY_PARSE', /array of 4/);
    expectParseFailure(encode(new Map([[1, 2]])), 'EG_VERIFY_PARSE', /array of 4/);
  });

  it('rejects malformed protected headers', () => {
    const parts = splitCose(doc);
    const withHeader = (h: Uint8Array): Uint8Array => joinCose({ ...parts, protectedHeader: h });
    expectParseFailure(withHeader(new Uint8Array()), 'EG_VERIFY_PARSE', /protected header is empty/);
    expectParseFailure(withHeader(encode(new Map([[4, new Uint8Array(2)]]))), 'EG_VERIFY_UNSUPPORTED', /label 4/);
    expectParseFailure(withHeader(encode(new Map<number, unknown>([[1, -35], [2, [1]]]))), 'EG_VERIFY_UNSUPPORTED', /label 2/);
    expectParseFailure(withHeader(encode(new Map([[1, 'ES384']]))), 'EG_VERIFY_UNSUPPORTED', /alg must be an integer/);
    expectParseFailure(withHeader(encode([1, -35])), 'EG_VERIFY_PARSE', /must be a map/);
    expectParseFailure(withHeader(Buffer.from('a2013822013822', 'hex')), 'EG_VERIFY_PARSE', /Duplicate key/);
    const wrongType = encode([1, parts.unprotected, parts.payload, parts.signature]);
    expectParseFailure(wrongType, 'EG_VERIFY_PARSE', /protected header must be a byte string/);
  });

  it('rejects a non-map unprotected header, a detached payload and bad signatures', () => {
    const { protectedHeader, unprotected, payload, signature } = splitCose(doc);
    expectParseFailure(encode([protectedHeader, [], payload, signature]), 'EG_VERIFY_PARSE', /unprotected header must be a map/);
    expectParseFailure(encode([protectedHeader, unprotected, null, signature]), 'EG_VERIFY_UNSUPPORTED', /detached/);
    expectParseFailure(encode([protectedHeader, unprotected, 'text', signature]), 'EG_VERIFY_PARSE', /payload must be a byte string/);
    expectParseFailure(encode([protectedHeader, unprotected, payload, signature.subarray(0, 95)]), 'EG_VERIFY_PARSE', /96/);
    expectParseFailure(encode([protectedHeader, unprotected, payload, bytes(104)]), 'EG_VERIFY_PARSE', /96/);
  });
});

describe('parseNitroDocument payload errors', () => {
  const cases: Array<[string, (m: Map<string, unknown>) => void, ErrorCode, RegExp]> = [
    ['missing module_id', (m) => m.delete('module_id'), 'EG_VERIFY_PARSE', /missing "module_id"/],
    ['empty module_id', (m) => m.set('module_id', ''), 'EG_VERIFY_PARSE', /module_id is 0 characters/],
    ['module_id as bytes', (m) => m.set('module_id', bytes(4)), 'EG_VERIFY_PARSE', /module_id must be a text string/],
    ['missing digest', (m) => m.delete('digest'), 'EG_VERIFY_PARSE', /missing "digest"/],
    ['digest SHA256', (m) => m.set('digest', 'SHA256'), 'EG_VERIFY_UNSUPPORTED', /digest "SHA256"/],
    ['digest as int', (m) => m.set('digest', 384), 'EG_VERIFY_PARSE', /digest must be a text string/],
    ['missing timestamp', (m) => m.delete('timestamp'), 'EG_VERIFY_PARSE', /missing "timestamp"/],
    ['timestamp as text', (m) => m.set('timestamp', '1668034320696'), 'EG_VERIFY_PARSE', /timestamp must be/],
    ['timestamp zero', (m) => m.set('timestamp', 0), 'EG_VERIFY_PARSE', /timestamp must be/],
    ['timestamp negative', (m) => m.set('timestamp', -5), 'EG_VERIFY_PARSE', /timestamp must be/],
    ['timestamp beyond 2^53', (m) => m.set('timestamp', 2n ** 60n), 'EG_VERIFY_PARSE', /timestamp must be/],
    ['timestamp as float', (m) => m.set('timestamp', 1668034320696.5), 'EG_VERIFY_PARSE', /floating point/],
    ['missing pcrs', (m) => m.delete('pcrs'), 'EG_VERIFY_PARSE', /missing "pcrs"/],
    ['pcrs as array', (m) => m.set('pcrs', [bytes(48)]), 'EG_VERIFY_PARSE', /pcrs must be a map/],
    ['empty pcrs', (m) => m.set('pcrs', new Map()), 'EG_VERIFY_PARSE', /pcrs has 0 entries/],
    ['PCR index 32', (m) => (m.get('pcrs') as Map<number, Uint8Array>).set(32, bytes(48)), 'EG_VERIFY_PARSE', /PCR index 32/],
    ['PCR index text', (m) => (m.get('pcrs') as Map<unknown, Uint8Array>).set('3', bytes(48)), 'EG_VERIFY_PARSE', /PCR index "3"/],
    ['PCR of 47 bytes', (m) => (m.get('pcrs') as Map<number, Uint8Array>).set(3, bytes(47)), 'EG_VERIFY_PARSE', /PCR3 is 47 bytes/],
    ['PCRs of mixed length', (m) => (m.get('pcrs') as Map<number, Uint8Array>).set(15, bytes(32)), 'EG_VERIFY_PARSE', /PCR15 is 32 bytes but earlier/],
    ['PCR as text', (m) => (m.get('pcrs') as Map<number, unknown>).set(3, 'ab'), 'EG_VERIFY_PARSE', /PCR3 must be a byte string/],
    ['PCR0 absent', (m) => (m.get('pcrs') as Map<number, Uint8Array>).delete(0), 'EG_VERIFY_PARSE', /lacks PCR0/],
    ['PCR2 absent', (m) => (m.get('pcrs') as Map<number, Uint8Array>).delete(2), 'EG_VERIFY_PARSE', /lacks PCR2/],
    ['missing certificate', (m) => m.delete('certificate'), 'EG_VERIFY_PARSE', /missing "certificate"/],
    ['oversized certificate', (m) => m.set('certificate', bytes(1025)), 'EG_VERIFY_PARSE', /certificate is 1025 bytes/],
    ['empty certificate', (m) => m.set('certificate', new Uint8Array()), 'EG_VERIFY_PARSE', /certificate is 0 bytes/],
    ['missing cabundle', (m) => m.delete('cabundle'), 'EG_VERIFY_PARSE', /missing "cabundle"/],
    ['empty cabundle', (m) => m.set('cabundle', []), 'EG_VERIFY_PARSE', /cabundle has 0 entries/],
    ['cabundle of text', (m) => m.set('cabundle', ['x']), 'EG_VERIFY_PARSE', /cabundle\[0\] must be a byte string/],
    ['cabundle of 17', (m) => m.set('cabundle', Array.from({ length: 17 }, () => bytes(8))), 'EG_VERIFY_PARSE', /cabundle has 17/],
    ['user_data of 513 B', (m) => m.set('user_data', bytes(513)), 'EG_VERIFY_PARSE', /user_data is 513 bytes/],
    ['nonce of 513 B', (m) => m.set('nonce', bytes(513)), 'EG_VERIFY_PARSE', /nonce is 513 bytes/],
    ['public_key of 1025 B', (m) => m.set('public_key', bytes(1025)), 'EG_VERIFY_PARSE', /public_key is 1025 bytes/],
    ['nonce as text', (m) => m.set('nonce', 'abc'), 'EG_VERIFY_PARSE', /nonce must be a byte string/],
    ['unknown field', (m) => m.set('extra', 1), 'EG_VERIFY_PARSE', /unknown field "extra"/],
    ['integer key', (m) => (m as Map<unknown, unknown>).set(7, 1), 'EG_VERIFY_PARSE', /unknown field 7/],
    ['undefined value', (m) => m.set('nonce', undefined), 'EG_VERIFY_PARSE', /undefined/i],
    ['tagged value', (m) => m.set('user_data', new Tag(24, bytes(4))), 'EG_VERIFY_PARSE', /user_data must be a byte string, got tag 24/],
  ];

  it.each(cases)('%s', (_name, edit, code, message) => {
    expectParseFailure(withPayload(doc, edit), code, message);
  });

  it('accepts the limits themselves', () => {
    const edited = withPayload(doc, (m) => {
      m.set('user_data', bytes(512)).set('nonce', bytes(512)).set('public_key', bytes(1024));
      const pcrs = m.get('pcrs') as Map<number, Uint8Array>;
      for (let i = 16; i < 32; i++) pcrs.set(i, bytes(48, 0));
    });
    const { document } = parseNitroDocument(edited);
    expect(document.pcrs.size).toBe(32);
    expect(document.publicKey).toHaveLength(1024);
  });

  it('rejects a payload that is not a map, has duplicate keys or trailing bytes', () => {
    expectParseFailure(withRawPayload(doc, encode([1, 2])), 'EG_VERIFY_PARSE', /payload must be a map/);
    const { payload } = splitCose(doc);
    expectParseFailure(withRawPayload(doc, Buffer.concat([payload, Uint8Array.of(0)])), 'EG_VERIFY_PARSE', /payload .*trailing bytes/);
    // Same key twice: a parser that keeps the first and one that keeps the last would disagree.
    const dup = Buffer.concat([Uint8Array.of(0xaa), payload.subarray(1), encode('digest'), encode('SHA384')]);
    expectParseFailure(withRawPayload(doc, new Uint8Array(dup)), 'EG_VERIFY_PARSE', /Duplicate key/);
  });
});
