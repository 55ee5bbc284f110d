/**
 * Real hardware evidence from test/vectors, cut the way each device
 * would hand it out, with the report data each carries (located by the
 * offsets of the vendor specs, independently of src/evidence/report-data.ts).
 */
import { X509Certificate } from 'node:crypto';
import { GHCB_CERT_GUID } from '../../../src/evidence/ghcb-cert-table.js';
import { buildCertTable } from '../../fakes/configfs-tsm.js';
import { vector, vectorText } from '../../helpers/vectors.js';

/** DER certificates of a PEM bundle, in order. */
export function pemToDers(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new Uint8Array(new X509Certificate(block).raw));
}

/** The dstack Milan SNP report, its VCEK and the Milan ASK/ARK, as a host's configfs would show them. */
export function snpFixture() {
  const report = new Uint8Array(vector('sev-snp/dstack-milan-report.bin'));
  const [vcek] = pemToDers(vectorText('sev-snp/dstack-milan-vcek.pem'));
  const [ask, ark] = pemToDers(vectorText('sev-snp/amd-milan-ask-ark.pem'));
  if (!vcek || !ask || !ark) throw new Error('SNP vectors incomplete');
  // SEV-SNP ABI: REPORT_DATA at 0x50, 64 bytes.
  const reportData = report.slice(0x50, 0x90);
  const auxblob = buildCertTable([
    { guid: GHCB_CERT_GUID.vcek, der: vcek },
    { guid: GHCB_CERT_GUID.ask, der: ask },
    { guid: GHCB_CERT_GUID.ark, der: ark },
  ]);
  return { report, reportData, vcek, ask, ark, auxblob };
}

/** A TDX v4 quote (dcap-qvl sample); REPORT_DATA at 48 (header) + 520 (TD report body). */
export function tdxV4Fixture() {
  const quote = new Uint8Array(vector('tdx/phala-v4-quote.dat'));
  return { quote, reportData: quote.slice(568, 632) };
}

/** A TDX v5 quote; the body starts after a 6-byte descriptor, so REPORT_DATA is at 574. */
export function tdxV5Fixture() {
  const quote = new Uint8Array(vector('tdx/gotdx-v5-quote.dat'));
  return { quote, reportData: quote.slice(574, 638) };
}

/** An SGX v3 quote; REPORT_DATA at 48 (header) + 320 (enclave report body). */
export function sgxFixture() {
  const quote = new Uint8Array(vector('sgx/phala-v3-quote.dat'));
  return { quote, reportData: quote.slice(368, 432) };
}

/** 64 bytes that no vector carries. */
export const OTHER_REPORT_DATA = new Uint8Array(64).fill(0x5a);
