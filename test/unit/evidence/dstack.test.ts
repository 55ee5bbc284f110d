import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DSTACK_GET_QUOTE, createDstackProvider } from '../../../src/evidence/dstack.js';
import { EVIDENCE_TAG } from '../../../src/wire/extension.js';
import { startFakeDstack, type FakeDstack, type FakeDstackOptions } from '../../fakes/dstack.js';
import { OTHER_REPORT_DATA, tdxV4Fixture } from './fixtures.js';
import { rejection } from '../../helpers/expect-code.js';

const agents: FakeDstack[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function agent(options: FakeDstackOptions): Promise<FakeDstack> {
  const a = await startFakeDstack(options);
  agents.push(a);
  return a;
}


describe('dstack provider (real TDX quote behind a fake guest agent)', () => {
  const tdx = tdxV4Fixture();

  it('POSTs /GetQuote with hex report data and returns the quote', async () => {
    const fake = await agent({ quote: tdx.quote });
    const provider = createDstackProvider({ socket: fake.socket });
    await provider.probe();
    const evidence = await provider.getEvidence(tdx.reportData);
    expect(provider).toMatchObject({ name: 'dstack', platform: 'tdx', insecure: false });
    expect(evidence.tag).toBe(EVIDENCE_TAG.intelQuote);
    expect(Buffer.from(evidence.evidence).equals(Buffer.from(tdx.quote))).toBe(true);
    expect(fake.requests).toEqual([{ method: 'POST', path: '/GetQuote', body: JSON.stringify({ report_data: Buffer.from(tdx.reportData).toString('hex') }) }]);
    expect(DSTACK_GET_QUOTE.path).toBe('/GetQuote');
  });

  it('missing socket → EG_ATTESTATION_UNAVAILABLE telling to mount it', async () => {
    const provider = createDstackProvider({ socket: join(tmpdir(), 'eg-no-such-dstack.sock') });
    for (const attempt of [provider.getEvidence(tdx.reportData), provider.probe()]) {
      const error = await rejection(attempt);
      expect(error.code).toBe('EG_ATTESTATION_UNAVAILABLE');
      expect(error.message).toMatch(/mount \/var\/run\/dstack\.sock/);
    }
  });

  it('a path that is not a socket fails the probe', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eg-dstack-'));
    try {
      await writeFile(join(dir, 'dstack.sock'), '');
      const error = await rejection(createDstackProvider({ socket: join(dir, 'dstack.sock') }).probe());
      expect(error.message).toMatch(/not a unix socket/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an agent error → EG_ATTESTATION_FAILED with the agent\'s message', async () => {
    const fake = await agent({ answer: { status: 500, body: JSON.stringify({ error: 'failed to get quote: device busy' }) } });
    const error = await rejection(createDstackProvider({ socket: fake.socket }).getEvidence(tdx.reportData));
    expect(error.code).toBe('EG_ATTESTATION_FAILED');
    expect(error.message).toMatch(/HTTP 500: failed to get quote: device busy/);
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['no quote', JSON.stringify({ event_log: '[]' }), /no "quote" string/],
    ['bad hex', JSON.stringify({ quote: 'zz' }), /not hex/],
  ])('a malformed answer (%s) → EG_ATTESTATION_FAILED', async (_name, body, message) => {
    const fake = await agent({ answer: { status: 200, body } });
    expect((await rejection(createDstackProvider({ socket: fake.socket }).getEvidence(tdx.reportData))).message).toMatch(message);
  });

  it('a silent agent → EG_ATTESTATION_FAILED after the timeout', async () => {
    const fake = await agent({ quote: tdx.quote, delayMs: 1000 });
    const error = await rejection(createDstackProvider({ socket: fake.socket, timeoutMs: 50 }).getEvidence(tdx.reportData));
    expect(error.message).toMatch(/did not answer within 50 ms/);
  });

  it('a quote over other report data is refused', async () => {
    const fake = await agent({ quote: tdx.quote });
    expect((await rejection(createDstackProvider({ socket: fake.socket }).getEvidence(OTHER_REPORT_DATA))).message).toMatch(/does not carry the report data/);
  });
});
