import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGramineProvider, type GramineFileSystem } from '../../../src/evidence/gramine.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { createFakeGramine, type FakeGramine } from '../../fakes/gramine.js';
import { OTHER_REPORT_DATA, sgxFixture, tdxV4Fixture } from './fixtures.js';
import { rejection } from '../../helpers/expect-code.js';

const devices: FakeGramine[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.cleanup()));
});

async function device(options: Parameters<typeof createFakeGramine>[0]): Promise<FakeGramine> {
  const d = await createFakeGramine(options);
  devices.push(d);
  return d;
}


describe('gramine provider (real SGX quote behind a fake /dev/attestation)', () => {
  const sgx = sgxFixture();

  it('writes user_report_data and returns the quote, tagged as an Intel quote', async () => {
    const dev = await device({ quote: sgx.quote });
    const provider = createGramineProvider({ device: dev.dir });
    const evidence = await provider.getEvidence(sgx.reportData);
    expect(provider).toMatchObject({ name: 'gramine', platform: 'sgx', insecure: false });
    expect(evidence.tag).toBe(EVIDENCE_TAG.intelQuote);
    expect(Buffer.from(evidence.evidence).equals(Buffer.from(sgx.quote))).toBe(true);
    expect(Buffer.from(await readFile(join(dev.dir, 'user_report_data'))).equals(Buffer.from(sgx.reportData))).toBe(true);
  });

  it('works without attestation_type (older Gramine)', async () => {
    const dev = await device({ quote: sgx.quote, attestationType: null });
    await expect(createGramineProvider({ device: dev.dir }).getEvidence(sgx.reportData)).resolves.toMatchObject({ tag: EVIDENCE_TAG.intelQuote });
  });

  it.each(['none', 'epid'])('refuses attestation_type %s with EG_ATTESTATION_UNAVAILABLE', async (type) => {
    const dev = await device({ quote: sgx.quote, attestationType: type });
    const provider = createGramineProvider({ device: dev.dir });
    const error = await rejection(provider.getEvidence(sgx.reportData));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/sgx\.remote_attestation = "dcap"/);
    expect((await rejection(provider.probe())).code).toBe('EG_ATTESTATION_UNAVAILABLE');
  });

  it('outside Gramine (no device) → EG_ATTESTATION_UNAVAILABLE', async () => {
    const dev = await device({ quote: sgx.quote });
    await rm(dev.dir, { recursive: true });
    const error = await rejection(createGramineProvider({ device: dev.dir }).getEvidence(sgx.reportData));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/ENOENT.*not running inside a Gramine SGX enclave/);
  });

  it('refuses a quote over other report data, or a TDX quote', async () => {
    const dev = await device({ quote: sgx.quote });
    expect((await rejection(createGramineProvider({ device: dev.dir }).getEvidence(OTHER_REPORT_DATA))).message).toMatch(/does not carry the report data/);
    const tdx = tdxV4Fixture();
    const tdxDev = await device({ quote: tdx.quote });
    expect((await rejection(createGramineProvider({ device: tdxDev.dir }).getEvidence(tdx.reportData))).message).toMatch(/is tdx evidence, expected sgx/);
  });

  it('serialises concurrent calls: the process-global pseudo-files are never interleaved', async () => {
    // Behaves like Gramine: the quote carries whatever user_report_data holds when it is read.
    let current = new Uint8Array(64);
    const log: string[] = [];
    const pause = () => new Promise((r) => setTimeout(r, 5));
    const fs: GramineFileSystem = {
      async writeFile(_path, data) {
        log.push('write');
        await pause();
        current = new Uint8Array(data);
      },
      async readFile(path) {
        if (path.endsWith('attestation_type')) return new TextEncoder().encode('dcap\n');
        log.push('read');
        await pause();
        const quote = new Uint8Array(sgx.quote);
        quote.set(current, 368);
        return quote;
      },
      access: async () => undefined,
    };
    const provider = createGramineProvider({ device: '/dev/attestation', fs });
    const inputs = [1, 2, 3, 4].map((n) => new Uint8Array(64).fill(n));
    const results = await Promise.all(inputs.map((rd) => provider.getEvidence(rd)));
    results.forEach((r, i) => expect(r.evidence[368]).toBe(i + 1));
    expect(log).toEqual(['write', 'read', 'write', 'read', 'write', 'read', 'write', 'read']);
  });
});
