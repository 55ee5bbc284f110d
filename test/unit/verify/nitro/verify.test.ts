import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from 'cbor2';
import { NITRO_ROOT_G1_SHA256, parseNitroDocument, verifyNitroDocument, type NitroClaims } from '../../../../src/verify/nitro/index.js';
import { vectorText } from '../../../helpers/vectors.js';
import {
  NITRO_VECTORS,
  ctxAt,
  flipByte,
  indexOfBytes,
  joinCose,
  matchesReadme,
  nitroDocument,
  payloadMap,
  splitCose,
  withPayload,
} from './nitro-fixtures.js';
import { expectCode } from '../../../helpers/expect-code.js';


const hour = 3600_000;
const shift = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

describe('pinned root', () => {
  it('is the SHA-256 of the Root-G1 PEM in the vectors', () => {
    const pem = vectorText('nitro/aws-nitro-enclaves-root-g1.pem');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(createHash('sha256').update(der).digest('hex')).toBe(NITRO_ROOT_G1_SHA256);
  });
});

describe.each(NITRO_VECTORS)('$file', (v) => {
  const doc = nitroDocument(v.file);

  it(`verifies at ${v.at} with the README claims`, () => {
    const ctx = ctxAt(v.at);
    const evidence = verifyNitroDocument(doc, ctx);
    const claims = evidence.claims as unknown as NitroClaims;

    expect(evidence.platform).toBe('nitro');
    expect(evidence.debug).toBe(v.debug);
    expect(evidence.tcb).toEqual({});
    expect(claims.timestamp).toBe(new Date(v.timestamp).toISOString());
    expect(claims.digest).toBe('SHA384');
    expect(claims.moduleId).toMatch(/^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/);
    for (const [index, expected] of Object.entries(v.pcrs)) {
      expect(matchesReadme(claims.pcrs[index], expected), `PCR${index} ${claims.pcrs[index]} vs ${expected}`).toBe(true);
    }
    expect(evidence.measurement).toBe(claims.pcrs['0']);

    const userData = typeof v.userData === 'function' ? v.userData() : v.userData;
    if (userData === null) {
      expect(claims.userData).toBeUndefined();
      expect(evidence.reportData).toBe('');
    } else {
      expect(matchesReadme(claims.userData, userData), `user_data ${claims.userData}`).toBe(true);
      expect(evidence.reportData).toBe(claims.userData);
    }
    if (v.nonce === null) expect(claims.nonce).toBeUndefined();
    else if (typeof v.nonce === 'string') expect(matchesReadme(claims.nonce, v.nonce)).toBe(true);
    else expect(claims.nonce).toHaveLength(v.nonce.bytes * 2);
    expect(claims.publicKey ?? null).toBe(v.publicKey);

    expect(ctx.transcript.steps.every((s) => s.ok)).toBe(true);
    expect(ctx.transcript.steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['nitro.parse', 'nitro.cert.chain', 'nitro.cose.signature', 'nitro.timestamp']),
    );
    // The result must survive JSON unchanged (CLI --json, policy input).
    expect(JSON.parse(JSON.stringify(evidence))).toEqual(evidence);
  });

  it('has the payload map encoding the README states', () => {
    expect(splitCose(doc).payload[0]).toBe(v.payloadMapHead);
  });

  it('verifies at both ends of the signing certificate lifetime', () => {
    expect(() => verifyNitroDocument(doc, ctxAt(v.windowStart))).not.toThrow();
    expect(() => verifyNitroDocument(doc, ctxAt(v.windowEnd))).not.toThrow();
  });

  it('is EG_VERIFY_EXPIRED an hour after the leaf expires and a second before it starts', () => {
    const ctx = ctxAt(shift(v.windowEnd, hour));
    expectCode(() => verifyNitroDocument(doc, ctx), 'EG_VERIFY_EXPIRED');
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ ok: false, code: 'EG_VERIFY_EXPIRED' });
    expectCode(() => verifyNitroDocument(doc, ctxAt(shift(v.windowStart, -1000))), 'EG_VERIFY_EXPIRED');
  });

  it('is EG_VERIFY_SIGNATURE when the signature is changed', () => {
    const parts = splitCose(doc);
    const bad = joinCose({ ...parts, signature: flipByte(parts.signature, 10) });
    expectCode(() => verifyNitroDocument(bad, ctxAt(v.at)), 'EG_VERIFY_SIGNATURE');
  });

  it('verifies when wrapped in CBOR tag 18', () => {
    const tagged = Buffer.concat([Uint8Array.of(0xd2), doc]);
    const ctx = ctxAt(v.at);
    expect(verifyNitroDocument(tagged, ctx).measurement).toBe(verifyNitroDocument(doc, ctxAt(v.at)).measurement);
    expect(parseNitroDocument(tagged).cose.tagged).toBe(true);
  });
});

describe('tampering with a real document', () => {
  const v = NITRO_VECTORS.find((x) => x.file === 'evervault-2022-10-13.cbor')!;
  const doc = nitroDocument(v.file);
  const at = v.at;

  it('a byte flipped in PCR0 inside the payload → EG_VERIFY_SIGNATURE', () => {
    const pcr0 = Buffer.from(String(v.pcrs[0]), 'hex');
    const bad = flipByte(doc, indexOfBytes(doc, pcr0) + 5);
    const ctx = ctxAt(at);
    expectCode(() => verifyNitroDocument(bad, ctx), 'EG_VERIFY_SIGNATURE');
    expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.cose.signature', ok: false });
  });

  it('a byte flipped in module_id → EG_VERIFY_SIGNATURE', () => {
    const moduleId = String(payloadMap(doc).get('module_id'));
    const bad = flipByte(doc, indexOfBytes(doc, Buffer.from(moduleId)) + 3);
    expectCode(() => verifyNitroDocument(bad, ctxAt(at)), 'EG_VERIFY_SIGNATURE');
  });

  it('a byte flipped in the timestamp → EG_VERIFY_SIGNATURE', () => {
    // uint64 head 0x1b followed by the 8-byte timestamp; flip its last byte (a few ms).
    const head = Buffer.alloc(9);
    head[0] = 0x1b;
    head.writeBigUInt64BE(BigInt(v.timestamp), 1);
    const bad = flipByte(doc, indexOfBytes(doc, head) + 8);
    expectCode(() => verifyNitroDocument(bad, ctxAt(at)), 'EG_VERIFY_SIGNATURE');
  });

  it('an equivalent but differently encoded protected header → EG_VERIFY_SIGNATURE', () => {
    // {1: -35} with -35 in a two-byte argument: same meaning, other bytes; the signature covers the bytes.
    const parts = splitCose(doc);
    expect(Buffer.from(parts.protectedHeader).toString('hex')).toBe('a1013822');
    for (const header of ['a101390022', 'bf013822ff', 'a118013822']) {
      const bad = joinCose({ ...parts, protectedHeader: Buffer.from(header, 'hex') });
      expect(parseNitroDocument(bad).cose.alg).toBe(-35);
      expectCode(() => verifyNitroDocument(bad, ctxAt(at)), 'EG_VERIFY_SIGNATURE');
    }
  });

  it('a protected header with another algorithm → EG_VERIFY_UNSUPPORTED', () => {
    const parts = splitCose(doc);
    for (const alg of [-7, -36, -37, -8]) {
      const bad = joinCose({ ...parts, protectedHeader: encode(new Map([[1, alg]])) });
      const ctx = ctxAt(at);
      expectCode(() => verifyNitroDocument(bad, ctx), 'EG_VERIFY_UNSUPPORTED');
      expect(ctx.transcript.steps.at(-1)).toMatchObject({ step: 'nitro.parse', ok: false, code: 'EG_VERIFY_UNSUPPORTED' });
    }
  });

  it('swapping two cabundle certificates → EG_VERIFY_CHAIN', () => {
    const bad = withPayload(doc, (map) => {
      const bundle = [...(map.get('cabundle') as Uint8Array[])];
      [bundle[1], bundle[2]] = [bundle[2]!, bundle[1]!];
      map.set('cabundle', bundle);
    });
    expectCode(() => verifyNitroDocument(bad, ctxAt(at)), 'EG_VERIFY_CHAIN');
  });

  it("replacing the leaf's issuer with another document's → EG_VERIFY_CHAIN", () => {
    const other = payloadMap(nitroDocument('veracruz-2022-11-09.cbor')).get('cabundle') as Uint8Array[];
    const bad = withPayload(doc, (map) => {
      const bundle = [...(map.get('cabundle') as Uint8Array[])];
      bundle[3] = other[3]!;
      map.set('cabundle', bundle);
    });
    const ctx = ctxAt(at);
    expectCode(() => verifyNitroDocument(bad, ctx), 'EG_VERIFY_CHAIN');
    expect(ctx.transcript.steps.at(-1)?.step).toMatch(/^nitro\.cert\[0\]\.signature$/);
  });

  it('dropping the root from the cabundle → EG_VERIFY_CHAIN (root not pinned)', () => {
    const bad = withPayload(doc, (map) => map.set('cabundle', (map.get('cabundle') as Uint8Array[]).slice(1)));
    const ctx = ctxAt(at);
    expectCode(() => verifyNitroDocument(bad, ctx), 'EG_VERIFY_CHAIN');
    expect(ctx.transcript.steps.at(-1)?.detail).toMatch(/not a pinned vendor root/);
  });

  it('a leaf certificate in place of a CA certificate → EG_VERIFY_CHAIN', () => {
    const bad = withPayload(doc, (map) => {
      const bundle = [...(map.get('cabundle') as Uint8Array[])];
      bundle[2] = map.get('certificate') as Uint8Array;
      map.set('cabundle', bundle);
    });
    expectCode(() => verifyNitroDocument(bad, ctxAt(at)), 'EG_VERIFY_CHAIN');
  });

  it('verifies with indefinite-length outer array and chunked payload byte string', () => {
    // The Sig_structure signs the byte-string contents, so re-chunking the
    // envelope must not change the verdict.
    const { protectedHeader, payload, signature } = splitCose(doc);
    const bstr = (b: Uint8Array): Buffer => Buffer.concat([Buffer.from(encode(b))]);
    const half = payload.length >> 1;
    const chunked = Buffer.concat([
      Uint8Array.of(0x9f),
      bstr(protectedHeader),
      Uint8Array.of(0xa0),
      Uint8Array.of(0x5f),
      bstr(payload.subarray(0, half)),
      bstr(payload.subarray(half)),
      Uint8Array.of(0xff),
      bstr(signature),
      Uint8Array.of(0xff),
    ]);
    expect(verifyNitroDocument(chunked, ctxAt(at)).measurement).toBe(String(v.pcrs[0]));
  });

  it('does not consult the wall clock', () => {
    // Every vector is long expired; only ctx.at can make this pass.
    expect(() => verifyNitroDocument(doc, ctxAt(at))).not.toThrow();
    expectCode(() => verifyNitroDocument(doc, ctxAt(new Date().toISOString())), 'EG_VERIFY_EXPIRED');
  });
});
