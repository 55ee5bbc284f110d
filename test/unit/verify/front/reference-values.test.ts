/**
 * parseReferenceValues: the documented example parses, values are
 * normalised, and every kind of mistake is EG_VERIFY_USAGE naming the key.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../../../src/errors.js';
import { parseReferenceValues } from '../../../../src/verify/index.js';

const docsExample = (): string => {
  const text = readFileSync(join(resolve(import.meta.dirname, '..', '..', '..', '..'), 'docs', 'verify.md'), 'utf8');
  const match = /<!-- reference-values-example -->\s*```json\n([\s\S]+?)```/.exec(text);
  if (match === null) throw new Error('docs/verify.md lost its reference-values example');
  return match[1]!;
};

function usageError(input: unknown): string {
  try {
    parseReferenceValues(input);
  } catch (error) {
    expect(isErrorCode(error, 'EG_VERIFY_USAGE'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`expected EG_VERIFY_USAGE for ${JSON.stringify(input)}`);
}

describe('parseReferenceValues', () => {
  it('parses the example in docs/verify.md, from text or from a value', () => {
    const text = docsExample();
    const fromText = parseReferenceValues(text);
    expect(parseReferenceValues(JSON.parse(text))).toEqual(fromText);
    expect(Object.keys(fromText).sort()).toEqual(['allowDebug', 'measurements', 'nitro', 'policyHashes', 'sev-snp', 'sgx', 'tdx']);
    expect(fromText['sev-snp']?.minimumTcb).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    expect(fromText.tdx?.acceptedTcbStatuses).toEqual(['UpToDate']);
    expect(fromText.sgx?.minIsvSvn).toBe(1);
    expect(fromText.nitro?.maxAgeSeconds).toBe(86400);
  });

  it('the empty document is valid: the safe defaults', () => {
    expect(parseReferenceValues({})).toEqual({});
    expect(parseReferenceValues('{}')).toEqual({});
  });

  it('normalises hex and hash entries, freezes the result, and is idempotent', () => {
    const rv = parseReferenceValues({
      policyHashes: [`sha-384:${'AB'.repeat(48)}`],
      measurements: ['CD'.repeat(48), 'ef'.repeat(32)],
      expectedNonce: 'A0B1',
      allowSimulated: true,
    });
    expect(rv).toEqual({ policyHashes: [`sha-384:${'ab'.repeat(48)}`], measurements: ['cd'.repeat(48), 'ef'.repeat(32)], expectedNonce: 'a0b1', allowSimulated: true });
    expect(Object.isFrozen(rv)).toBe(true);
    expect(Object.isFrozen(rv.measurements)).toBe(true);
    expect(parseReferenceValues(rv)).toEqual(rv);
  });

  it.each([
    ['not JSON', '{"measurements": [', /not valid JSON/],
    ['an array', [], /JSON object/],
    ['null', null, /JSON object/],
    ['an unknown key', { measurement: ['00'.repeat(48)] }, /unknown key "measurement"/],
    ['a non-boolean switch', { allowDebug: 'yes' }, /allowDebug must be a boolean/],
    ['an empty allowlist', { measurements: [] }, /measurements is empty/],
    ['a short measurement', { measurements: ['abcd'] }, /measurements\[0\]/],
    ['a non-hex measurement', { measurements: ['zz'.repeat(48)] }, /measurements\[0\]/],
    ['a bare policy hash', { policyHashes: ['ab'.repeat(48)] }, /policyHashes\[0\]/],
    ['a policy hash of the wrong length', { policyHashes: [`sha-384:${'ab'.repeat(32)}`] }, /policyHashes\[0\]/],
    ['an odd nonce', { expectedNonce: 'abc' }, /expectedNonce/],
    ['an unknown SNP key', { 'sev-snp': { minimumTCB: {} } }, /"sev-snp".*unknown key "minimumTCB"/],
    ['an unknown Intel key', { tdx: { mrtd: ['00'] } }, /"tdx".*unknown key "mrtd"/],
    ['TDX keys in the SGX section', { sgx: { mrTd: ['00'.repeat(48)], mrEnclave: ['00'.repeat(32)] } }, /"sgx".*mixes/],
    ['Revoked as an accepted status', { sgx: { acceptedTcbStatuses: ['Revoked'] } }, /Revoked/],
    ['an unknown Nitro key', { nitro: { pcr: {} } }, /"nitro".*unknown key "pcr"/],
    ['a bad PCR index', { nitro: { pcrs: { 32: ['00'.repeat(48)] } } }, /"nitro"/],
    ['a section that is not an object', { 'sev-snp': true }, /"sev-snp"/],
  ])('refuses %s', (_name, input, message) => {
    expect(usageError(input)).toMatch(message);
  });
});
