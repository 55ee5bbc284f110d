import { afterEach, describe, expect, it } from 'vitest';
import { createConfigfsTsmProvider, type ConfigfsTsmOptions } from '../../../src/evidence/configfs-tsm.js';
import { GHCB_CERT_GUID } from '../../../src/evidence/ghcb-cert-table.js';
import { decodeStapledSnpEndorsements, verifyEvidence } from '../../../src/verify/index.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { buildCertTable, createFakeTsm, type FakeTsm, type FakeTsmOptions } from '../../fakes/configfs-tsm.js';
import { OTHER_REPORT_DATA, snpFixture, tdxV4Fixture, tdxV5Fixture } from './fixtures.js';
import { rejection } from '../../helpers/expect-code.js';

const fakes: FakeTsm[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.cleanup()));
});

async function setup(fakeOptions: FakeTsmOptions, providerOptions: Omit<ConfigfsTsmOptions, 'root' | 'fs'> = {}) {
  const fake = await createFakeTsm(fakeOptions);
  fakes.push(fake);
  const provider = createConfigfsTsmProvider({ root: fake.root, fs: fake.fs, retryDelayMs: 1, ...providerOptions });
  return { fake, provider };
}


describe('configfs-tsm provider, SEV-SNP (real dstack Milan report)', () => {
  const snp = snpFixture();

  it('returns the report and staples VCEK, ASK and ARK from the auxblob certificate table', async () => {
    const { fake, provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report, auxblob: snp.auxblob });
    expect(provider.platform).toBe('unknown');
    const evidence = await provider.getEvidence(snp.reportData);
    expect(provider.platform).toBe('sev-snp');
    expect(evidence.tag).toBe(EVIDENCE_TAG.sevSnp);
    expect(Buffer.from(evidence.evidence).equals(Buffer.from(snp.report))).toBe(true);
    expect(evidence.warnings).toBeUndefined();

    // The verifier's own decoder reads what the provider stapled.
    const stapled = decodeStapledSnpEndorsements(evidence.endorsements!);
    expect(Buffer.from(stapled.vek as Uint8Array).equals(Buffer.from(snp.vcek))).toBe(true);
    expect((stapled.chain as Uint8Array[]).map((c) => Buffer.from(c).toString('hex'))).toEqual([snp.ask, snp.ark].map((c) => Buffer.from(c).toString('hex')));

    // Kernel protocol: provider and generation before the write, exactly one write, directory removed.
    expect(fake.calls).toEqual(['mkdir', 'read provider', 'read generation', 'write inblob', 'read outblob', 'read auxblob', 'read generation', 'rmdir']);
    expect(fake.inblobs).toHaveLength(1);
    expect(Buffer.from(fake.inblobs[0]!).equals(Buffer.from(snp.reportData))).toBe(true);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('produces evidence the verifier accepts with the stapled chain', async () => {
    const { provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report, auxblob: snp.auxblob });
    const evidence = await provider.getEvidence(snp.reportData);
    const verdict = verifyEvidence({
      platform: 'sev-snp',
      evidence: evidence.evidence,
      endorsements: decodeStapledSnpEndorsements(evidence.endorsements!),
      at: new Date('2026-07-01T00:00:00Z'),
    });
    expect(verdict.ok, JSON.stringify(verdict.steps)).toBe(true);
    expect(verdict.reportData).toBe(Buffer.from(snp.reportData).toString('hex'));
  });

  it('issues without endorsements when the host installed no certificates', async () => {
    const { provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report });
    const evidence = await provider.getEvidence(snp.reportData);
    expect(evidence.endorsements).toBeUndefined();
    expect(evidence.warnings).toBeUndefined();
  });

  it('warns, and staples nothing, when the table lacks the chain', async () => {
    const auxblob = buildCertTable([{ guid: GHCB_CERT_GUID.vcek, der: snp.vcek }]);
    const { provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report, auxblob });
    const evidence = await provider.getEvidence(snp.reportData);
    expect(evidence.endorsements).toBeUndefined();
    expect(evidence.warnings?.[0]).toMatch(/lacks ASK, ARK/);
  });

  it('warns, and staples nothing, when the table is malformed', async () => {
    const auxblob = snp.auxblob.slice(0, 30); // cut inside the second entry
    const { provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report, auxblob });
    const evidence = await provider.getEvidence(snp.reportData);
    expect(evidence.endorsements).toBeUndefined();
    expect(evidence.warnings?.[0]).toMatch(/malformed/);
  });

  it('refuses a report that does not carry the requested report data', async () => {
    const { fake, provider } = await setup({ provider: 'sev_guest', outblob: () => snp.report });
    const error = await rejection(provider.getEvidence(OTHER_REPORT_DATA));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/does not carry the report data/);
    expect(await fake.liveDirs()).toEqual([]);
  });
});

describe('configfs-tsm provider, TDX (real quotes)', () => {
  it.each([
    ['v4 (dcap-qvl sample)', tdxV4Fixture()],
    ['v5 (go-tdx-guest sample)', tdxV5Fixture()],
  ])('returns a %s quote tagged as an Intel quote, with no auxblob read', async (_name, fixture) => {
    const { fake, provider } = await setup({ provider: 'tdx_guest', outblob: () => fixture.quote });
    const evidence = await provider.getEvidence(fixture.reportData);
    expect(provider.platform).toBe('tdx');
    expect(evidence.tag).toBe(EVIDENCE_TAG.intelQuote);
    expect(Buffer.from(evidence.evidence).equals(Buffer.from(fixture.quote))).toBe(true);
    expect(evidence.endorsements).toBeUndefined();
    expect(fake.calls).not.toContain('read auxblob');
  });

  it('refuses an SNP report where a TDX quote is expected', async () => {
    const snp = snpFixture();
    const { provider } = await setup({ provider: 'tdx_guest', outblob: () => snp.report });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.message).toMatch(/not a recognisable tdx/);
  });
});

describe('configfs-tsm provider failures', () => {
  const snp = snpFixture();

  it('missing report group → EG_ATTESTATION_UNAVAILABLE saying what is needed', async () => {
    const { provider } = await setup({ missingRoot: true });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/ENOENT.*Linux ≥ 6\.7.*configfs/);
    expect(error.details).toMatchObject({ provider: 'configfs-tsm', errno: 'ENOENT' });
  });

  it('no TSM driver registered (ENXIO) → EG_ATTESTATION_UNAVAILABLE', async () => {
    const { provider } = await setup({ provider: null });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/ENXIO.*sev-guest \/ tdx-guest driver/);
  });

  it('permission denied (EACCES) → EG_ATTESTATION_FAILED telling how to grant access', async () => {
    const { provider } = await setup({ mkdirErrno: 'EACCES' });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/EACCES.*run enclave-gate as root/);
  });

  it('unknown provider attribute → EG_ATTESTATION_UNAVAILABLE before any quote is made', async () => {
    const { fake, provider } = await setup({ provider: 'arm_cca_guest', outblob: () => snp.report });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(error.message).toMatch(/"arm_cca_guest".*sev_guest and tdx_guest/);
    expect(fake.inblobs).toHaveLength(0);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('busy once (EBUSY) → retried in a fresh directory and succeeds', async () => {
    const { fake, provider } = await setup({ outblob: () => snp.report, outblobErrnos: ['EBUSY'] });
    await expect(provider.getEvidence(snp.reportData)).resolves.toMatchObject({ tag: EVIDENCE_TAG.sevSnp });
    expect(fake.calls.filter((c) => c === 'mkdir')).toHaveLength(2);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('always busy → EG_ATTESTATION_FAILED after the bounded attempts', async () => {
    const { fake, provider } = await setup({ outblob: () => snp.report, outblobErrnoAlways: 'EBUSY' }, { maxAttempts: 3 });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/gave up after 3 attempts.*busy \(EBUSY\)/);
    expect(fake.calls.filter((c) => c === 'mkdir')).toHaveLength(3);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('oversized report (EFBIG) → EG_ATTESTATION_FAILED naming the kernel limit', async () => {
    const { fake, provider } = await setup({ provider: 'tdx_guest', outblob: () => new Uint8Array(40 * 1024) });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/EFBIG.*TSM_OUTBLOB_MAX/);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('generation race once → retried and succeeds', async () => {
    const { fake, provider } = await setup({ outblob: () => snp.report, races: 1 });
    await expect(provider.getEvidence(snp.reportData)).resolves.toMatchObject({ tag: EVIDENCE_TAG.sevSnp });
    expect(fake.inblobs).toHaveLength(2);
  });

  it('generation race every time → EG_ATTESTATION_FAILED naming the other writer', async () => {
    const { fake, provider } = await setup({ outblob: () => snp.report, races: Number.POSITIVE_INFINITY }, { maxAttempts: 2 });
    const error = await rejection(provider.getEvidence(snp.reportData));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/gave up after 2 attempts: generation went from 0 to 2.*another writer/);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('report data that is not 64 bytes is refused without touching the device', async () => {
    const { fake, provider } = await setup({});
    const error = await rejection(provider.getEvidence(new Uint8Array(32)));
    expect(error.message).toMatch(/exactly 64 bytes, got 32 bytes/);
    expect(fake.calls).toEqual([]);
  });

  it('uses a distinct report directory for concurrent calls', async () => {
    const { fake, provider } = await setup({ outblob: () => snp.report });
    await Promise.all([provider.getEvidence(snp.reportData), provider.getEvidence(snp.reportData)]);
    expect(fake.inblobs).toHaveLength(2);
    expect(await fake.liveDirs()).toEqual([]);
  });
});

describe('configfs-tsm probe', () => {
  it('learns the platform without making a report', async () => {
    const { fake, provider } = await setup({ provider: 'tdx_guest' });
    await provider.probe();
    expect(provider.platform).toBe('tdx');
    expect(fake.inblobs).toHaveLength(0);
    expect(await fake.liveDirs()).toEqual([]);
  });

  it('rejects, typed, when the group is missing', async () => {
    const { provider } = await setup({ missingRoot: true });
    expect((await rejection(provider.probe())).code).toBe('EG_ATTESTATION_UNAVAILABLE');
  });
});
