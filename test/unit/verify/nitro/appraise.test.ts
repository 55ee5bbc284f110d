import { describe, expect, it } from 'vitest';
import {
  appraiseNitro,
  parseNitroReferenceValues,
  verifyNitroDocument,
  type NitroClaims,
  type NitroReferenceValues,
} from '../../../../src/verify/nitro/index.js';
import type { VerifiedEvidence } from '../../../../src/verify/types.js';
import { NITRO_VECTORS, ctxAt, matchesReadme, nitroDocument } from './nitro-fixtures.js';
import { expectCode } from '../../../helpers/expect-code.js';


function verified(file: string): { evidence: VerifiedEvidence; claims: NitroClaims; at: string } {
  const v = NITRO_VECTORS.find((x) => x.file === file)!;
  const evidence = verifyNitroDocument(nitroDocument(file), ctxAt(v.at));
  return { evidence, claims: evidence.claims as unknown as NitroClaims, at: v.at };
}

const ZERO48 = '00'.repeat(48);

describe('debug documents', () => {
  const debugFiles = NITRO_VECTORS.filter((v) => v.debug).map((v) => v.file);

  it('the README lists four debug documents', () => {
    expect(debugFiles.sort()).toEqual([
      'dstack-debug-2025-12-25.cbor',
      'evervault-2023-09-18.b64',
      'evervault-debug-2022-10-12.cbor',
      'evervault-debug-2023-01-18-from-cert.cbor',
    ]);
  });

  it.each(debugFiles)('%s is refused by default and accepted with allowDebug', (file) => {
    const { evidence, at } = verified(file);
    const ctx = ctxAt(at);
    expectCode(() => appraiseNitro(evidence, {}, ctx), 'EG_VERIFY_DEBUG');
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.appraise.debug', ok: false, code: 'EG_VERIFY_DEBUG' });
    expect(() => appraiseNitro(evidence, { allowDebug: true }, ctxAt(at))).not.toThrow();
    // evervault: a debug certificate matches all-zero expected PCRs.
    const zeros = parseNitroReferenceValues({ allowDebug: true, pcrs: { 0: [ZERO48], 1: [ZERO48], 2: [ZERO48] } });
    expect(() => appraiseNitro(evidence, zeros, ctxAt(at))).not.toThrow();
  });

  it.each(NITRO_VECTORS.filter((v) => !v.debug).map((v) => v.file))('%s passes the default appraisal', (file) => {
    const { evidence, at } = verified(file);
    expect(() => appraiseNitro(evidence, {}, ctxAt(at))).not.toThrow();
  });
});

describe('PCR reference values (evervault 2023-01-18)', () => {
  const { evidence, claims, at } = verified('evervault-2023-01-18-from-cert.cbor');
  // README: PCR0 in full, PCR1/2/8 by prefix; the full values come from the verified document.
  const readme = { 0: 'd265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af', 1: 'bcdf05fe…', 2: 'e4f634d2…', 8: '97c5395a…' };
  const expected: Record<string, string[]> = {};
  for (const [i, form] of Object.entries(readme)) {
    expect(matchesReadme(claims.pcrs[i], form)).toBe(true);
    expected[i] = [claims.pcrs[i]!];
  }

  it('match', () => {
    const ctx = ctxAt(at);
    appraiseNitro(evidence, parseNitroReferenceValues({ pcrs: expected }), ctx);
    expect(ctx.transcript.steps.filter((s) => s.step.startsWith('nitro.appraise.pcr'))).toHaveLength(4);
  });

  it('match case-insensitively and when one of several values is right', () => {
    const rv: NitroReferenceValues = { pcrs: { 0: [ZERO48, readme[0].toUpperCase()] } };
    expect(() => appraiseNitro(evidence, rv, ctxAt(at))).not.toThrow();
  });

  it('all-zero expected PCRs → EG_VERIFY_REFERENCE_VALUES', () => {
    const zeros = parseNitroReferenceValues({ pcrs: { 0: [ZERO48], 1: [ZERO48], 2: [ZERO48], 8: [ZERO48] } });
    const ctx = ctxAt(at);
    expectCode(() => appraiseNitro(evidence, zeros, ctx), 'EG_VERIFY_REFERENCE_VALUES');
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.appraise.pcr0', ok: false });
  });

  it('one wrong PCR among right ones → EG_VERIFY_REFERENCE_VALUES', () => {
    expectCode(() => appraiseNitro(evidence, { pcrs: { ...expected, 8: [ZERO48] } }, ctxAt(at)), 'EG_VERIFY_REFERENCE_VALUES');
  });

  it('a PCR the document does not list → EG_VERIFY_REFERENCE_VALUES', () => {
    expectCode(() => appraiseNitro(evidence, { pcrs: { 20: [ZERO48] } }, ctxAt(at)), 'EG_VERIFY_REFERENCE_VALUES');
  });
});

describe('binding values', () => {
  it('nonce, user_data (veracruz): match, mismatch, absent', () => {
    const { evidence, claims, at } = verified('veracruz-2022-11-09.cbor');
    expect(() => appraiseNitro(evidence, { expectedNonce: claims.nonce!, expectedUserData: claims.userData! }, ctxAt(at))).not.toThrow();
    expectCode(() => appraiseNitro(evidence, { expectedNonce: '00'.repeat(32) }, ctxAt(at)), 'EG_VERIFY_BINDING');
    expectCode(() => appraiseNitro(evidence, { expectedUserData: claims.nonce! }, ctxAt(at)), 'EG_VERIFY_BINDING');
    expectCode(() => appraiseNitro(evidence, { expectedPublicKey: 'aa' }, ctxAt(at)), 'EG_VERIFY_BINDING');
  });

  it('public_key and user_data (evervault debug 2022-10-12)', () => {
    const { evidence, at } = verified('evervault-debug-2022-10-12.cbor');
    const rv = parseNitroReferenceValues({
      allowDebug: true,
      expectedPublicKey: Buffer.from('my super secret key').toString('hex').toUpperCase(),
      expectedUserData: Buffer.from('hello, world!').toString('hex'),
    });
    expect(() => appraiseNitro(evidence, rv, ctxAt(at))).not.toThrow();
    expectCode(() => appraiseNitro(evidence, { ...rv, expectedNonce: '00' }, ctxAt(at)), 'EG_VERIFY_BINDING');
  });
});

describe('maxAgeSeconds', () => {
  const { evidence, claims } = verified('veracruz-2022-11-09.cbor');
  const ts = Date.parse(claims.timestamp);
  const atOffset = (s: number) => ctxAt(new Date(ts + s * 1000).toISOString());

  it('accepts a document younger than the limit and refuses an older one', () => {
    expect(() => appraiseNitro(evidence, { maxAgeSeconds: 3600 }, atOffset(1800))).not.toThrow();
    expect(() => appraiseNitro(evidence, { maxAgeSeconds: 3600 }, atOffset(3600))).not.toThrow();
    expectCode(() => appraiseNitro(evidence, { maxAgeSeconds: 600 }, atOffset(1800)), 'EG_VERIFY_REFERENCE_VALUES');
  });

  it('tolerates 5 minutes of clock skew into the future, not more', () => {
    expect(() => appraiseNitro(evidence, { maxAgeSeconds: 60 }, atOffset(-299))).not.toThrow();
    expectCode(() => appraiseNitro(evidence, { maxAgeSeconds: 60 }, atOffset(-301)), 'EG_VERIFY_REFERENCE_VALUES');
  });
});

describe('appraiseNitro usage', () => {
  it('refuses evidence of another platform or without Nitro claims', () => {
    const { evidence, at } = verified('veracruz-2022-11-09.cbor');
    expectCode(() => appraiseNitro({ ...evidence, platform: 'sev-snp' }, {}, ctxAt(at)), 'EG_VERIFY_USAGE');
    expectCode(() => appraiseNitro({ ...evidence, claims: {} }, {}, ctxAt(at)), 'EG_VERIFY_USAGE');
  });
});

describe('parseNitroReferenceValues', () => {
  it('returns frozen values with lower-case hex', () => {
    const rv = parseNitroReferenceValues({
      pcrs: { 0: ['AB'.repeat(48)], 31: ['cd'.repeat(32), 'ef'.repeat(64)] },
      allowDebug: false,
      expectedNonce: 'ABCD',
      expectedUserData: '',
      expectedPublicKey: '00',
      maxAgeSeconds: 300,
    });
    expect(rv).toEqual({
      pcrs: { 0: ['ab'.repeat(48)], 31: ['cd'.repeat(32), 'ef'.repeat(64)] },
      allowDebug: false,
      expectedNonce: 'abcd',
      expectedUserData: '',
      expectedPublicKey: '00',
      maxAgeSeconds: 300,
    });
    expect(Object.isFrozen(rv)).toBe(true);
    expect(Object.isFrozen(rv.pcrs)).toBe(true);
    expect(parseNitroReferenceValues(JSON.parse('{}'))).toEqual({});
  });

  it.each([
    ['not an object', []],
    ['null', null],
    ['a string', '{}'],
    ['a class instance', new Date()],
    ['an unknown key', { pcr: { 0: [ZERO48] } }],
    ['pcrs as array', { pcrs: [[ZERO48]] }],
    ['PCR index 32', { pcrs: { 32: [ZERO48] } }],
    ['PCR index 01', { pcrs: { '01': [ZERO48] } }],
    ['PCR index -1', { pcrs: { '-1': [ZERO48] } }],
    ['an empty allowlist', { pcrs: { 0: [] } }],
    ['a PCR value as string', { pcrs: { 0: ZERO48 } }],
    ['a PCR of 47 bytes', { pcrs: { 0: ['00'.repeat(47)] } }],
    ['non-hex PCR', { pcrs: { 0: ['zz'.repeat(48)] } }],
    ['allowDebug as string', { allowDebug: 'true' }],
    ['odd-length nonce', { expectedNonce: 'abc' }],
    ['nonce as bytes array', { expectedNonce: [1, 2] }],
    ['oversized user_data', { expectedUserData: '00'.repeat(513) }],
    ['maxAgeSeconds zero', { maxAgeSeconds: 0 }],
    ['maxAgeSeconds negative', { maxAgeSeconds: -1 }],
    ['maxAgeSeconds NaN', { maxAgeSeconds: Number.NaN }],
    ['maxAgeSeconds infinite', { maxAgeSeconds: Number.POSITIVE_INFINITY }],
    ['maxAgeSeconds as string', { maxAgeSeconds: '60' }],
  ])('refuses %s with EG_VERIFY_USAGE', (_name, json) => {
    expectCode(() => parseNitroReferenceValues(json), 'EG_VERIFY_USAGE');
  });
});
