/** Cache expiry per kind, read from the vectors' own validity fields. */
import { describe, expect, it } from 'vitest';
import { cacheExpiry, contentExpiry, DEFAULT_MAX_AGE_MS } from '../../../../src/verify/online/index.js';
import { vector, vectorText } from '../../../helpers/vectors.js';
import { PHALA_TDX } from './fixtures.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('contentExpiry', () => {
  it('VCEK DER: its notAfter (README: 2029-09-24T00:55:28Z)', () => {
    expect(contentExpiry('vcek', vector('sev-snp/gosev-milan-vcek.der'))?.toISOString()).toBe('2029-09-24T00:55:28.000Z');
  });

  it('cert_chain PEM: the earliest notAfter of the bundle (Milan ASK/ARK 2045-10-22)', () => {
    expect(contentExpiry('cert-chain', vector('sev-snp/amd-milan-ask-ark.pem'))?.toISOString().slice(0, 10)).toBe('2045-10-22');
  });

  it('TCB info and QE identity: their nextUpdate', () => {
    expect(contentExpiry('tcb-info', vector('tdx/gotdx-tcbinfo-50806f000000.json'))?.toISOString()).toBe('2023-07-18T08:42:58.000Z');
    expect(contentExpiry('qe-identity', vector('tdx/gotdx-qeidentity-td.json'))?.toISOString()).toBe('2023-07-08T07:24:59.000Z');
  });

  it('CRLs: their nextUpdate, as DER, hex or PEM', () => {
    const der = vector('tdx/gotdx-pckcrl-platform.der');
    const expected = contentExpiry('crl', der)?.toISOString();
    expect(expected?.slice(0, 10)).toBe('2023-07-08');
    expect(contentExpiry('crl', utf8(der.toString('hex')))?.toISOString()).toBe(expected);
    const pem = `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
    expect(contentExpiry('crl', utf8(pem))?.toISOString()).toBe(expected);
    expect(contentExpiry('crl', vector('tdx/gotdx-rootcrl.der'))?.toISOString().slice(0, 10)).toBe('2024-04-02');
  });

  it('unreadable content has no expiry (so it is not cached)', () => {
    expect(contentExpiry('vcek', utf8('not a certificate'))).toBeUndefined();
    expect(contentExpiry('crl', new Uint8Array([0x30, 0x03, 0x02, 0x01]))).toBeUndefined();
    expect(contentExpiry('tcb-info', utf8('{"tcbInfo":{}}'))).toBeUndefined();
    expect(contentExpiry('qe-identity', utf8('{'))).toBeUndefined();
  });
});

describe('cacheExpiry', () => {
  const fetchedAt = new Date('2025-07-01T00:00:00Z');

  it('certificates: bounded by the maximum age (default 30 days)', () => {
    expect(cacheExpiry('vcek', vector('sev-snp/gosev-milan-vcek.der'), new Date('2023-01-01T00:00:00Z'))?.getTime()).toBe(
      Date.parse('2023-01-01T00:00:00Z') + DEFAULT_MAX_AGE_MS.certificate,
    );
  });

  it('collateral: the earlier of nextUpdate and the maximum age (default 24 h)', () => {
    const body = utf8(`{"tcbInfo":${PHALA_TDX.collateral.tcb_info}}`);
    expect(cacheExpiry('tcb-info', body, fetchedAt)?.getTime()).toBe(fetchedAt.getTime() + DEFAULT_MAX_AGE_MS.collateral);
    const nearEnd = new Date('2025-07-19T09:00:00Z');
    expect(cacheExpiry('tcb-info', body, nearEnd)?.toISOString()).toBe(contentExpiry('tcb-info', body)?.toISOString());
    expect(cacheExpiry('tcb-info', body, fetchedAt, { collateral: 1000 })?.getTime()).toBe(fetchedAt.getTime() + 1000);
  });

  it('a chain whose text is PEM with other noise still reads', () => {
    expect(contentExpiry('cert-chain', utf8(`junk\n${vectorText('sev-snp/amd-genoa-ask-ark.pem')}`))).toBeDefined();
  });
});
