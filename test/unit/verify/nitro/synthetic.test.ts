import { beforeAll, describe, expect, it } from 'vitest';
import { verifyNitroDocument, type NitroClaims } from '../../../../src/verify/nitro/index.js';
import { makeFakeNitro, type FakeNitro } from './fake-nitro.js';
import { ctxAt, joinCose, splitCose } from './nitro-fixtures.js';
import { expectCode } from '../../../helpers/expect-code.js';

const notBefore = new Date('2024-05-01T10:00:00Z');
const notAfter = new Date('2024-05-01T13:00:00Z');
const at = '2024-05-01T10:30:00Z';


describe('documents signed by a fake Nitro chain', () => {
  let fake: FakeNitro;
  beforeAll(async () => {
    fake = await makeFakeNitro({ leafNotBefore: notBefore, leafNotAfter: notAfter });
  });

  it('verify against the fake root, and only against it', async () => {
    const doc = await fake.sign(fake.payload(notBefore.getTime() + 5_000, { nonce: new Uint8Array([1, 2, 3]) }));
    const evidence = verifyNitroDocument(doc, ctxAt(at), { roots: fake.roots });
    expect(evidence.debug).toBe(false);
    expect(evidence.measurement).toBe('a0'.repeat(48));
    expect((evidence.claims as unknown as NitroClaims).nonce).toBe('010203');
    expect((evidence.claims as unknown as NitroClaims).certificateNotAfter).toBe(notAfter.toISOString());
    // The default pinned root is AWS Root-G1, which did not issue this chain.
    expectCode(() => verifyNitroDocument(doc, ctxAt(at)), 'EG_VERIFY_CHAIN');
  });

  it('reports debug only when PCR0, PCR1 and PCR2 are all zero', async () => {
    const zero = new Uint8Array(48);
    const allZero = fake.payload(notBefore.getTime() + 5_000);
    const pcrs = allZero.get('pcrs') as Map<number, Uint8Array>;
    pcrs.set(0, zero).set(1, zero).set(2, zero);
    expect(verifyNitroDocument(await fake.sign(allZero), ctxAt(at), { roots: fake.roots }).debug).toBe(true);
    pcrs.set(2, new Uint8Array(48).fill(1));
    expect(verifyNitroDocument(await fake.sign(allZero), ctxAt(at), { roots: fake.roots }).debug).toBe(false);
  });

  it('reject a timestamp after the signing certificate expired → EG_VERIFY_EXPIRED', async () => {
    const doc = await fake.sign(fake.payload(notAfter.getTime() + 1_000));
    const ctx = ctxAt(at);
    expectCode(() => verifyNitroDocument(doc, ctx, { roots: fake.roots }), 'EG_VERIFY_EXPIRED');
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.timestamp', ok: false });
  });

  it('reject a timestamp before the signing certificate existed → EG_VERIFY_EXPIRED', async () => {
    const doc = await fake.sign(fake.payload(notBefore.getTime() - 1_000));
    expectCode(() => verifyNitroDocument(doc, ctxAt(at), { roots: fake.roots }), 'EG_VERIFY_EXPIRED');
  });

  it('accept timestamps at both ends of the signing certificate lifetime (second resolution)', async () => {
    for (const ts of [notBefore.getTime(), notAfter.getTime() + 999]) {
      const doc = await fake.sign(fake.payload(ts));
      expect(() => verifyNitroDocument(doc, ctxAt(at), { roots: fake.roots })).not.toThrow();
    }
  });
});

describe('a fake signing certificate on the wrong curve', () => {
  it('is EG_VERIFY_UNSUPPORTED (ES384 needs P-384)', async () => {
    const fake = await makeFakeNitro({ leafNotBefore: notBefore, leafNotAfter: notAfter, leafCurve: 'P-256' });
    const doc = await fake.sign(fake.payload(notBefore.getTime() + 5_000));
    // A P-256 signature is 64 bytes; pad it so parsing passes and the key check is what fails.
    const parts = splitCose(doc);
    const padded = joinCose({ ...parts, signature: new Uint8Array(96) });
    const ctx = ctxAt(at);
    expectCode(() => verifyNitroDocument(padded, ctx, { roots: fake.roots }), 'EG_VERIFY_UNSUPPORTED');
    expect(ctx.transcript.steps.at(-1)?.detail).toMatch(/prime256v1|P-256|EC P-384/);
  });
});
