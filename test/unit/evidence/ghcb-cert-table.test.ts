import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GHCB_CERT_GUID, guidBytes, guidText, parseGhcbCertTable } from '../../../src/evidence/ghcb-cert-table.js';
import { encodeSnpEndorsements } from '../../../src/evidence/snp-endorsements.js';
import { decodeStapledSnpEndorsements, encodeStapledEndorsements } from '../../../src/verify/index.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { buildCertTable } from '../../fakes/configfs-tsm.js';
import { snpFixture } from './fixtures.js';

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('GHCB certificate table', () => {
  it('pins the GUIDs and their wire bytes (GHCB spec, kernel docs, go-sev-guest)', () => {
    expect(GHCB_CERT_GUID).toEqual({
      vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
      vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
      ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
      ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
    });
    // Bytes in text order (libuuid / Go uuid), not the mixed-endian Microsoft GUID layout.
    expect([...guidBytes(GHCB_CERT_GUID.vcek).subarray(0, 4)]).toEqual([0x63, 0xda, 0x75, 0x8d]);
    expect(guidText(guidBytes(GHCB_CERT_GUID.ark))).toBe(GHCB_CERT_GUID.ark);
  });

  it('reads VCEK, ASK and ARK from a table built from the real Milan certificates', () => {
    const snp = snpFixture();
    const { certs, other } = parseGhcbCertTable(snp.auxblob);
    expect(hex(certs.vcek)).toBe(hex(snp.vcek));
    expect(hex(certs.ask)).toBe(hex(snp.ask));
    expect(hex(certs.ark)).toBe(hex(snp.ark));
    expect(certs.vlek).toBeUndefined();
    expect(other).toEqual([]);
  });

  it('treats an empty blob as an empty table and lists unknown GUIDs', () => {
    expect(parseGhcbCertTable(new Uint8Array(0)).certs).toEqual({});
    const crl = '92f81bc3-5811-4d3d-97ff-d19f88dc67ea';
    const parsed = parseGhcbCertTable(buildCertTable([{ guid: crl, der: new Uint8Array([1, 2, 3]) }]));
    expect(parsed.other).toEqual([crl]);
  });

  it.each([
    [
      'no terminator',
      () => {
        // One in-bounds entry (pointing at itself) and then the end of the blob.
        const t = Buffer.alloc(24);
        Buffer.from(guidBytes(GHCB_CERT_GUID.vcek)).copy(t, 0);
        t.writeUInt32LE(0, 16);
        t.writeUInt32LE(24, 20);
        return new Uint8Array(t);
      },
      /without its all-zero terminator/,
    ],
    [
      'an entry pointing outside the table',
      () => {
        const t = Buffer.from(buildCertTable([{ guid: GHCB_CERT_GUID.vcek, der: new Uint8Array([1, 2]) }]));
        t.writeUInt32LE(1000, 20);
        return new Uint8Array(t);
      },
      /points outside the table/,
    ],
    [
      'a GUID listed twice',
      () =>
        buildCertTable([
          { guid: GHCB_CERT_GUID.ask, der: new Uint8Array([1]) },
          { guid: GHCB_CERT_GUID.ask, der: new Uint8Array([2]) },
        ]),
      /twice/,
    ],
    [
      'a terminator with a non-zero length',
      () => {
        const t = Buffer.from(buildCertTable([]));
        t.writeUInt32LE(5, 20);
        return new Uint8Array(t);
      },
      /terminator .* is not all zero/,
    ],
  ])('rejects %s', (_name, make, message) => {
    expect(() => parseGhcbCertTable(make())).toThrow(message);
  });

  it('round-trips any set of certificates, and never throws anything but an Error on random bytes', () => {
    const kinds = Object.keys(GHCB_CERT_GUID) as (keyof typeof GHCB_CERT_GUID)[];
    fc.assert(
      fc.property(fc.subarray(kinds), fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 4, maxLength: 4 }), (chosen, ders) => {
        const table = buildCertTable(chosen.map((kind, i) => ({ guid: GHCB_CERT_GUID[kind], der: ders[i]! })));
        const { certs } = parseGhcbCertTable(table);
        expect(Object.keys(certs).sort()).toEqual([...chosen].sort());
        chosen.forEach((kind, i) => expect(hex(certs[kind])).toBe(hex(ders[i])));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          parseGhcbCertTable(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
    );
  });
});

describe('stapled SEV-SNP endorsements', () => {
  const snp = snpFixture();

  it('is decoded by the verifier exactly as encoded', () => {
    const bytes = encodeSnpEndorsements({ vek: snp.vcek, chain: [snp.ask, snp.ark] });
    const decoded = decodeStapledSnpEndorsements(bytes);
    expect(hex(decoded.vek as Uint8Array)).toBe(hex(snp.vcek));
    expect((decoded.chain as Uint8Array[]).map(hex)).toEqual([hex(snp.ask), hex(snp.ark)]);
  });

  it('is byte-identical to the verifier-side reference encoder', () => {
    const ours = encodeSnpEndorsements({ vek: snp.vcek, chain: [snp.ask, snp.ark] });
    const reference = encodeStapledEndorsements(EVIDENCE_TAG.sevSnp, { vek: snp.vcek, chain: [snp.ask, snp.ark] });
    expect(hex(ours)).toBe(hex(reference));
  });

  it('refuses an empty chain (the decoder requires one)', () => {
    expect(() => encodeSnpEndorsements({ vek: snp.vcek, chain: [] })).toThrow(/at least one/);
  });
});
