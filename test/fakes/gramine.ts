/**
 * A stand-in for Gramine's /dev/attestation: a temporary directory holding
 * the pseudo-files the provider touches. Unlike Gramine, writing
 * user_report_data does not change `quote`; tests therefore request the
 * report data the vector quote already carries.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the fake device holds. */
export interface FakeGramineOptions {
  /** The quote `quote` returns. */
  readonly quote: Uint8Array;
  /** `attestation_type` contents; null leaves the file out (older Gramine). Default `dcap`. */
  readonly attestationType?: string | null;
}

/** A fake device directory. */
export interface FakeGramine {
  readonly dir: string;
  cleanup(): Promise<void>;
}

/** Creates the fake device directory. */
export async function createFakeGramine(options: FakeGramineOptions): Promise<FakeGramine> {
  const dir = await mkdtemp(join(tmpdir(), 'eg-fake-gramine-'));
  if (options.attestationType !== null) await writeFile(join(dir, 'attestation_type'), `${options.attestationType ?? 'dcap'}\n`);
  await writeFile(join(dir, 'user_report_data'), Buffer.alloc(64));
  await writeFile(join(dir, 'quote'), options.quote);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
