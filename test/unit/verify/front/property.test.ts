/**
 * Property tests: whatever bytes arrive as a certificate, as the evidence
 * extension, as the claims or as raw evidence, the verifier returns a
 * failure verdict with a catalogue EG_VERIFY_* code and never throws.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../../src/errors.js';
import { PLATFORMS, verifyCertificate, verifyEvidence, type Verdict } from '../../../../src/verify/index.js';
import { EVIDENCE_TAG, OID_CMW, OID_TCG_DICE_ENDORSEMENT_MANIFEST, OID_TCG_DICE_TAGGED_EVIDENCE } from '../../../../src/wire/extension.js';
import { buildCertificate } from './cert-builder.js';

function expectTypedFailure(verdict: Verdict): void {
  expect(verdict.ok).toBe(false);
  expect(verdict.code).toMatch(/^EG_VERIFY_/);
  expect(ERRORS[verdict.code!]).toBeDefined();
  expect(verdict.steps.at(-1)?.ok).toBe(false);
}

const at = new Date();

describe('random input never escapes as an exception', () => {
  it('random bytes as a certificate (DER-looking or not)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (bytes, derHead) => {
        const input = derHead && bytes.length > 0 ? Uint8Array.of(0x30, ...bytes) : bytes;
        expectTypedFailure(verifyCertificate(input, { at, allowSimulated: true }));
      }),
      { numRuns: 300 },
    );
  });

  it('random text as a PEM certificate', () => {
    fc.assert(
      fc.property(fc.base64String({ maxLength: 800 }), (body) => {
        expectTypedFailure(verifyCertificate(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`, { at }));
      }),
      { numRuns: 200 },
    );
  });

  it('random raw evidence for every platform', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PLATFORMS), fc.uint8Array({ maxLength: 6000 }), (platform, evidence) => {
        expectTypedFailure(verifyEvidence({ platform, evidence, at, allowSimulated: true, endorsements: { vek: evidence } }));
      }),
      { numRuns: 300 },
    );
  });
});

describe('well-formed certificates with random extension contents', () => {
  const OIDS = [OID_TCG_DICE_TAGGED_EVIDENCE, OID_CMW, OID_TCG_DICE_ENDORSEMENT_MANIFEST, '1.3.6.1.4.1.311.105.1'];

  it('random bytes in an evidence extension', async () => {
    const samples = fc.sample(fc.tuple(fc.constantFrom(...OIDS), fc.uint8Array({ maxLength: 1024 })), 60);
    for (const [oid, value] of samples) {
      const built = await buildCertificate({ noEvidence: true, extraExtensions: [new x509.Extension(oid, false, value)] });
      expectTypedFailure(verifyCertificate(built.der, { at, allowSimulated: true }));
    }
  });

  it('random claims and random evidence under every tag', async () => {
    const tags = Object.values(EVIDENCE_TAG);
    const samples = fc.sample(fc.tuple(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), fc.boolean()), 60);
    for (const [tag, evidence, claims, randomClaims] of samples) {
      const built = await buildCertificate({ tag, evidence: () => evidence, ...(randomClaims ? { claimsBuffer: claims } : {}) });
      expectTypedFailure(verifyCertificate(built.der, { at, allowSimulated: true }));
    }
  });

  it('single-byte changes to a valid certificate never verify', async () => {
    const built = await buildCertificate();
    expect(verifyCertificate(built.der, { at, allowSimulated: true }).ok).toBe(true);
    fc.assert(
      fc.property(fc.nat({ max: built.der.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const mutated = new Uint8Array(built.der);
        mutated[index]! ^= xor;
        expectTypedFailure(verifyCertificate(mutated, { at, allowSimulated: true }));
      }),
      { numRuns: 400 },
    );
  });
});
