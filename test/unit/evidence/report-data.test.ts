import { describe, expect, it } from 'vitest';
import { intelQuoteReportData, snpReportData } from '../../../src/evidence/report-data.js';
import { sgxFixture, snpFixture, tdxV4Fixture, tdxV5Fixture } from './fixtures.js';
import { vector } from '../../helpers/vectors.js';

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('report data located in real evidence', () => {
  it('finds it in an SEV-SNP report (vector README: "attest-test-fixture-2026")', () => {
    const { report, reportData } = snpFixture();
    expect(Buffer.from(reportData).toString('latin1')).toMatch(/^attest-test-fixture-2026\0{40}$/);
    expect(hex(snpReportData(report)?.reportData)).toBe(hex(reportData));
    expect(snpReportData(report.subarray(0, 100))).toBeUndefined();
  });

  it.each([
    ['TDX v4', tdxV4Fixture(), 'tdx', '9a9d48e7'],
    ['TDX v5 (TDX 1.5 body)', tdxV5Fixture(), 'tdx', '945eaacf'],
    ['SGX v3', sgxFixture(), 'sgx', Buffer.from('Hello, world!').toString('hex')],
  ])('finds it in an Intel %s quote', (_name, fixture, platform, prefix) => {
    const found = intelQuoteReportData(fixture.quote);
    expect(found?.platform).toBe(platform);
    expect(hex(found?.reportData)?.startsWith(prefix)).toBe(true);
    expect(hex(found?.reportData)).toBe(hex(fixture.reportData));
  });

  it('accepts the go-tdx-guest v4 quote with its trailing bytes', () => {
    const quote = new Uint8Array(vector('tdx/gotdx-v4-spr-e4-quote.dat'));
    expect(hex(intelQuoteReportData(quote)?.reportData)?.startsWith('6c62dec1')).toBe(true);
  });

  it('does not mistake an SEV-SNP report or a truncated quote for a quote', () => {
    expect(intelQuoteReportData(snpFixture().report)).toBeUndefined();
    expect(intelQuoteReportData(tdxV4Fixture().quote.subarray(0, 600))).toBeUndefined();
    expect(intelQuoteReportData(new Uint8Array(10))).toBeUndefined();
  });
});
