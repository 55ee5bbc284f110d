import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import { createProvider, detectNow, type ProviderOptions } from '../../../src/evidence/index.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { createFakeTsm, type FakeTsm, type FakeTsmOptions } from '../../fakes/configfs-tsm.js';
import { startFakeDstack, type FakeDstack } from '../../fakes/dstack.js';
import { createFakeGramine, type FakeGramine } from '../../fakes/gramine.js';
import { sgxFixture, snpFixture, tdxV4Fixture } from './fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

const nowhere = join(tmpdir(), 'eg-nowhere-does-not-exist');

async function tsm(options: FakeTsmOptions): Promise<FakeTsm> {
  const fake = await createFakeTsm(options);
  cleanups.push(fake.cleanup);
  return fake;
}
async function gramine(): Promise<FakeGramine> {
  const fake = await createFakeGramine({ quote: sgxFixture().quote });
  cleanups.push(fake.cleanup);
  return fake;
}
async function dstack(): Promise<FakeDstack> {
  const fake = await startFakeDstack({ quote: tdxV4Fixture().quote });
  cleanups.push(fake.close);
  return fake;
}

function options(parts: { tsm?: FakeTsm; gramine?: FakeGramine; dstack?: FakeDstack }): ProviderOptions {
  return {
    configfsRoot: parts.tsm?.root ?? nowhere,
    ...(parts.tsm === undefined ? {} : { configfsFileSystem: parts.tsm.fs }),
    gramineDevice: parts.gramine?.dir ?? nowhere,
    dstackSocket: parts.dstack?.socket ?? nowhere,
    nsmDevice: nowhere,
    tpmDevice: nowhere,
    cache: { minIntervalMs: 0 },
  };
}

describe('auto provider', () => {
  it('prefers configfs-tsm and reports its name and platform once detected', async () => {
    const snp = snpFixture();
    const provider = createProvider('auto', options({ tsm: await tsm({ outblob: () => snp.report }), gramine: await gramine(), dstack: await dstack() }));
    expect(provider.name).toBe('auto');
    expect(provider.platform).toBe('unknown');
    const steps = await detectNow(provider);
    expect(steps).toEqual([{ provider: 'configfs-tsm', chosen: true, reason: 'probe succeeded' }]);
    expect(provider.name).toBe('configfs-tsm');
    expect(provider.platform).toBe('sev-snp');
    expect((await provider.getEvidence(snp.reportData)).tag).toBe(EVIDENCE_TAG.sevSnp);
  });

  it('falls through to gramine, then dstack, recording why each earlier one was skipped', async () => {
    const withGramine = createProvider('auto', options({ gramine: await gramine(), dstack: await dstack() }));
    const steps = await detectNow(withGramine);
    expect(steps?.map((s) => [s.provider, s.chosen])).toEqual([
      ['configfs-tsm', false],
      ['gramine', true],
    ]);
    expect(steps?.[0]?.reason).toMatch(/ENOENT/);
    expect(withGramine.name).toBe('gramine');

    const tdx = tdxV4Fixture();
    const withDstack = createProvider('auto', options({ dstack: await dstack() }));
    expect((await withDstack.getEvidence(tdx.reportData)).tag).toBe(EVIDENCE_TAG.intelQuote);
    expect(withDstack).toMatchObject({ name: 'dstack', platform: 'tdx' });
  });

  it('skips a configfs tree whose kernel has no TSM provider (the provider must answer)', async () => {
    const provider = createProvider('auto', options({ tsm: await tsm({ provider: null }), dstack: await dstack() }));
    const steps = await detectNow(provider);
    expect(steps?.[0]).toMatchObject({ provider: 'configfs-tsm', chosen: false });
    expect(steps?.[0]?.reason).toMatch(/ENXIO/);
    expect(provider.name).toBe('dstack');
  });

  it('fails with EG_ATTESTATION_UNAVAILABLE naming everything tried, and never picks simulated', async () => {
    const provider = createProvider('auto', options({}));
    const error = await provider.getEvidence(new Uint8Array(64)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EnclaveGateError);
    const e = error as EnclaveGateError;
    expect(e.code).toBe('EG_ATTESTATION_UNAVAILABLE');
    expect(e.message).toMatch(/tried configfs-tsm: .*; gramine: .*; dstack: .*; azure-vtpm: .*; nitro: .*simulated provider is never chosen automatically/);
    expect((e.details?.['tried'] as unknown[]).length).toBe(5);
    expect(provider.name).toBe('auto');
  });
});

describe('createProvider', () => {
  it('still refuses a named hardware provider whose path is missing, synchronously', () => {
    expect(() => createProvider('configfs-tsm', { configfsRoot: nowhere })).toThrow(/does not exist \(needs an SEV-SNP or TDX guest/);
    expect(() => createProvider('gramine', { gramineDevice: nowhere })).toThrow(EnclaveGateError);
    expect(() => createProvider('dstack', { dstackSocket: nowhere })).toThrow(/dstack/);
  });

  it('wraps hardware providers in the rate limiter, and simulated only when asked', async () => {
    const fake = await tsm({ provider: 'tdx_guest', outblob: () => tdxV4Fixture().quote });
    const hardware = createProvider('configfs-tsm', { configfsRoot: fake.root, configfsFileSystem: fake.fs });
    expect('inner' in hardware).toBe(true);
    expect(hardware.name).toBe('configfs-tsm');
    expect((await hardware.getEvidence(tdxV4Fixture().reportData)).tag).toBe(EVIDENCE_TAG.intelQuote);
    expect('inner' in createProvider('simulated')).toBe(false);
    expect('inner' in createProvider('simulated', { cache: {} })).toBe(true);
    expect(await detectNow(createProvider('simulated'))).toBeUndefined();
  });
});
