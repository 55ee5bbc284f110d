/**
 * The azure-vtpm provider against a real software TPM (swtpm), provisioned
 * with tpm2-tools like an Azure CVM's vTPM and fronted by a paravisor that
 * refreshes the HCL report after each user-data write (test/fakes/swtpm.ts).
 * Needs the Debian packages swtpm and tpm2-tools (test/run.sh installs them).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureVtpmProvider } from '../../../src/evidence/azure-vtpm.js';
import { createProvider, detectNow } from '../../../src/evidence/index.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { checkTpmQuote, parseAzureEvidence, parseHclReport } from '../../../src/verify/azure/index.js';
import { decodeStapledSnpEndorsements, verifyCertificate, verifyEvidence } from '../../../src/verify/index.js';
import { reportDataFor } from '../../../src/wire/claims.js';
import { EVIDENCE_TAG, decodeTaggedEvidence, OID_TCG_DICE_TAGGED_EVIDENCE } from '../../../src/wire/extension.js';
import { hashEntry } from '../../../src/wire/hash-entry.js';
import { startFakeImds, type FakeImds } from '../../fakes/imds.js';
import { startSwtpm, type Swtpm } from '../../fakes/swtpm.js';
import { rejection } from '../../helpers/expect-code.js';
import { vector, vectorText } from '../../helpers/vectors.js';

const T = new Date('2025-06-01T00:00:00Z');
const REPORT_DATA = new Uint8Array(64).map((_, i) => i + 1);
const policyHash = hashEntry('sha-384', new TextEncoder().encode('policy bundle'));

let tpm: Swtpm;
let imds: FakeImds;

beforeAll(async () => {
  tpm = await startSwtpm({ refreshDelayMs: 300 });
  const [vcek, ...chain] = vectorText('sev-snp/azure-genoa-vcek.pem').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
  imds = await startFakeImds({ vcekPem: vcek!, chainPem: chain.length > 0 ? chain.join('') : vectorText('sev-snp/amd-genoa-ask-ark.pem') });
}, 30_000);

afterAll(async () => {
  await tpm?.stop();
  await imds?.close();
});

/** SHA-256 PCR values as tpm2-tools reads them: an independent TPM stack. */
async function pcrsByTpm2Tools(): Promise<Record<string, string>> {
  const out = await tpm.tool(['tpm2_pcrread', 'sha256:all']);
  const pcrs: Record<string, string> = {};
  for (const m of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-F]{64})/gm)) pcrs[m[1]!] = m[2]!.toLowerCase();
  return pcrs;
}

describe('azure-vtpm provider on swtpm', () => {
  it('writes the report data, waits for the refreshed HCL report, quotes PCRs 0–23 with it as the nonce', async () => {
    const provider = createAzureVtpmProvider({ device: tpm.device, imdsUrl: imds.url, hclWaitMs: 5000, hclPollMs: 50 });
    const evidence = await provider.getEvidence(REPORT_DATA);
    expect(provider.platform).toBe('azure-sev-snp');
    expect(evidence.tag).toBe(EVIDENCE_TAG.azureVtpm);
    // The paravisor saw exactly our 64 bytes written to NV 0x01400002.
    expect(tpm.userDataWrites.at(-1)).toEqual(REPORT_DATA);

    const parsed = parseAzureEvidence(evidence.evidence);
    expect(parsed.version).toBe(2);
    const hcl = parseHclReport(parsed.hclReport);
    expect(hcl.userData).toBe(Buffer.from(REPORT_DATA).toString('hex'));
    // The verifier's own quote check: signature by HCLAkPub (the swtpm AK), PCR digest.
    const checked = checkTpmQuote(parsed.tpmQuote, hcl.akPub);
    expect(Buffer.from(checked.info.extraData)).toEqual(Buffer.from(REPORT_DATA));
    expect(checked.info.pcrIndexes).toEqual(Array.from({ length: 24 }, (_, i) => i));
    // The values match what tpm2-tools reads, and PCR16 carries the extend made at provisioning.
    expect(checked.pcrs).toEqual(await pcrsByTpm2Tools());
    expect(checked.pcrs['16']).not.toBe('00'.repeat(32));
    // IMDS gave the VCEK (in the evidence) and the chain (stapled under the Azure tag).
    expect(imds.requests.some((r) => r.path === '/metadata/THIM/amd/certification')).toBe(true);
    expect(parsed.vcek).toBeInstanceOf(Uint8Array);
    expect(decodeStapledSnpEndorsements(evidence.endorsements!, EVIDENCE_TAG.azureVtpm).chain).toHaveLength(2);
  });

  it('the whole evidence verifies up to the synthetic hardware report, and fails exactly at its AMD signature', async () => {
    const provider = createAzureVtpmProvider({ device: tpm.device, imdsUrl: imds.url, hclPollMs: 50 });
    const evidence = await provider.getEvidence(REPORT_DATA);
    const v = verifyEvidence({ platform: 'azure-sev-snp', evidence: evidence.evidence, at: T, endorsements: decodeStapledSnpEndorsements(evidence.endorsements!, EVIDENCE_TAG.azureVtpm) });
    expect(v.ok).toBe(false);
    expect(v.code).toBe('EG_VERIFY_SIGNATURE');
    expect(v.steps.find((s) => !s.ok)?.step).toBe('snp.report.signature');
    expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(expect.arrayContaining(['azure.parse', 'azure.tpm.quote', 'azure.hcl.report-data', 'snp.chain']));
  });

  it('issues an RA-TLS certificate whose claims are what the quote and the HCL user-data bind', async () => {
    const provider = createProvider('azure-vtpm', { tpmDevice: tpm.device, imdsUrl: imds.url, hclWaitMs: 5000 });
    const cert = await issueCertificate({ provider, policyHash, keyAlgorithm: 'P-384', validitySeconds: 3600, subjectAltNames: ['localhost'], commonName: 'azure test', now: () => T });
    expect(cert.platform).toBe('azure-sev-snp');
    const { X509Certificate: Peculiar } = await import('@peculiar/x509');
    const tagged = decodeTaggedEvidence(new Uint8Array(new Peculiar(cert.certDer).getExtension(OID_TCG_DICE_TAGGED_EVIDENCE)!.value));
    const expected = Buffer.from(reportDataFor(tagged.claims)).toString('hex');
    const parsed = parseAzureEvidence(tagged.evidence);
    const hcl = parseHclReport(parsed.hclReport);
    expect(Buffer.from(checkTpmQuote(parsed.tpmQuote, hcl.akPub).info.extraData).toString('hex')).toBe(expected);
    expect(hcl.userData).toBe(expected);
    // The certificate verifier reads the tag, finds an SNP HCL report, and stops at the synthetic report's signature.
    const v = verifyCertificate(cert.certDer, { at: new Date(T.getTime() + 60_000) });
    expect(v.platform).toBe('azure-sev-snp');
    expect(v.steps.find((s) => !s.ok)?.step).toBe('snp.report.signature');
    expect(v.steps.some((s) => s.ok && s.step === 'ratls.endorsements' && /stapled VCEK/.test(s.detail ?? ''))).toBe(true);
  });

  it('fails clearly when the paravisor never refreshes the HCL report', async () => {
    const silent = await startSwtpm({});
    try {
      const error = await rejection(createAzureVtpmProvider({ device: silent.device, imdsUrl: imds.url, hclWaitMs: 300, hclPollMs: 50 }).getEvidence(REPORT_DATA));
      expect(error.code).toBe('EG_ATTESTATION_FAILED');
      expect(error.message).toMatch(/the paravisor did not put the report data into the HCL report within 300 ms/);
    } finally {
      await silent.stop();
    }
  });

  it('a TPM that is not Azure\'s vTPM → EG_ATTESTATION_UNAVAILABLE from probe and getEvidence; auto skips it', async () => {
    const plain = await startSwtpm({ provision: false });
    try {
      const provider = createAzureVtpmProvider({ device: plain.device });
      for (const attempt of [provider.probe(), provider.getEvidence(REPORT_DATA)]) {
        const error = await rejection(attempt);
        expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
        expect(error.message).toMatch(/no HCL report \(NV 0x01400001\) or no attestation key \(0x81000003\): this is not an Azure confidential VM's vTPM/);
      }
    } finally {
      await plain.stop();
    }
  });

  it('auto picks azure-vtpm on the provisioned vTPM (probe reads handles only)', async () => {
    const nowhere = join(tmpdir(), 'eg-nowhere');
    const writes = tpm.userDataWrites.length;
    const provider = createProvider('auto', { configfsRoot: nowhere, gramineDevice: nowhere, dstackSocket: nowhere, nsmDevice: nowhere, tpmDevice: tpm.device });
    const steps = await detectNow(provider);
    expect(steps?.map((s) => [s.provider, s.chosen])).toEqual([
      ['configfs-tsm', false],
      ['gramine', false],
      ['dstack', false],
      ['azure-vtpm', true],
    ]);
    expect(tpm.userDataWrites.length).toBe(writes);
  });

  it('a missing device → EG_ATTESTATION_UNAVAILABLE naming /dev/tpmrm0 and the container', async () => {
    const missing = join(tmpdir(), 'eg-no-such-tpmrm0');
    expect(() => createProvider('azure-vtpm', { tpmDevice: missing })).toThrow(/does not exist \(needs an Azure confidential VM/);
    const error = await rejection(createAzureVtpmProvider({ device: missing }).getEvidence(REPORT_DATA));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/\/dev\/tpmrm0\) and pass the device into the container/);
  });

  it('TDX: the TD quote comes from IMDS for the HCL\'s TDREPORT; a real quote for another TD fails the variable-data binding', async () => {
    const tdx = await startSwtpm({ kind: 'tdx', refreshDelayMs: 100 });
    const tdImds = await startFakeImds({ tdQuote: vector('tdx/azure-tdx-v4-quote.dat') });
    try {
      const provider = createAzureVtpmProvider({ device: tdx.device, imdsUrl: tdImds.url, hclPollMs: 50 });
      const evidence = await provider.getEvidence(REPORT_DATA);
      expect(provider.platform).toBe('azure-tdx');
      expect(evidence.endorsements).toBeUndefined();
      const parsed = parseAzureEvidence(evidence.evidence);
      // IMDS was asked for the quote of exactly the TDREPORT in the refreshed HCL report.
      const request = tdImds.requests.find((r) => r.path === '/acc/tdquote')!;
      expect(Buffer.from(JSON.parse(request.body).report as string, 'base64url')).toEqual(Buffer.from(parsed.hclReport.subarray(32, 32 + 1024)));
      const v = verifyEvidence({ platform: 'azure-tdx', evidence: evidence.evidence, at: T, referenceValues: { tdx: { requireCollateral: false, allowAnyMeasurement: true } } });
      expect(v.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(expect.arrayContaining(['azure.tpm.quote', 'intel.quote.signature']));
      expect(v.steps.find((s) => !s.ok)?.step).toBe('azure.hcl.report-data');
      expect(v.code).toBe('EG_VERIFY_BINDING');
    } finally {
      await tdImds.close();
      await tdx.stop();
    }
  });

  it('TDX without a TD quote from IMDS → EG_ATTESTATION_FAILED', async () => {
    const tdx = await startSwtpm({ kind: 'tdx', refreshDelayMs: 0 });
    const down = await startFakeImds({ failWith: 503 });
    try {
      const error = await rejection(createAzureVtpmProvider({ device: tdx.device, imdsUrl: down.url, hclPollMs: 50 }).getEvidence(REPORT_DATA));
      expect(error.code).toBe('EG_ATTESTATION_FAILED');
      expect(error.message).toMatch(/the TD quote could not be obtained from IMDS \/acc\/tdquote: HTTP 503/);
    } finally {
      await down.close();
      await tdx.stop();
    }
  });
});
