/**
 * The decision-log mask rule (`enclave_gate/log/mask`, docs/audit.md): the
 * build compiles it only when the Rego has the package and keeps its reads out
 * of the request's compact input; the engine evaluates it on the whole event
 * and fails closed (erase all of /input) on an error or a malformed answer.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { compilePolicyDirectory, decisionSources, policyEntrypoints } from '../../../src/policy/compile.js';
import { loadPolicy, loadPolicyBundle, type PolicyEngine } from '../../../src/policy/engine.js';
import { analyseInputUsage, inputUsageToJson } from '../../../src/policy/input-usage.js';
import { readTarGz } from '../../../src/policy/tar.js';
import { tarGz } from './tar-writer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'rego/build/bundle.tar.gz');
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** An event as the decision log builds it (already without body, query and credentials). */
const event = (kase: string, input: Record<string, unknown>, allow = true): Record<string, unknown> => ({
  decision_id: 'd-1',
  labels: { id: 'i-1', app: 'enclave-gate', case: kase },
  path: 'enclave_gate/request/decision',
  input,
  result: { allow, reasons: [] },
  requested_by: '127.0.0.1:5000',
  timestamp: '2026-12-04T12:00:00.000000000Z',
});

const identified = {
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { accept: '*/*' },
  peer: {
    address: '192.0.2.10',
    port: 5000,
    jwt: { sub: 'u-1', party: 'bank-a', email: 'ann@bank-a.example', name: 'Ann Example' },
    certificate: { subject: 'O=Bank A,CN=Ann Example', fingerprint: 'ab'.repeat(32) },
  },
};

async function manifestOf(bundle: Uint8Array): Promise<{ metadata: { enclave_gate: Record<string, unknown> } }> {
  return JSON.parse(new TextDecoder().decode(readTarGz(bundle).get('/.manifest')!)) as { metadata: { enclave_gate: Record<string, unknown> } };
}

describe('the default policy mask rule', () => {
  let engine: PolicyEngine;
  beforeAll(async () => {
    engine = await loadPolicy(BUNDLE);
  });

  it('erases the JWT email and name and the certificate subject, nothing else', () => {
    expect(engine.hasLogMaskRule).toBe(true);
    const result = engine.evaluateLogMask(event('x', identified));
    expect(result.failure).toBeUndefined();
    expect([...result.pointers].sort()).toEqual(['/input/peer/certificate/subject', '/input/peer/jwt/email', '/input/peer/jwt/name']);
  });

  it('reads only the peer of the event, so the decision log may ask once per connection', async () => {
    expect(engine.logMaskByPeer).toBe(true);
    // Without the build's metadata (the whole event read), or with a rule that reads more, it may not.
    expect((await loadPolicy(BUNDLE, { compactInput: false })).logMaskByPeer).toBe(false);
    expect((await loadPolicy(join(FIXTURES, 'log-mask'))).logMaskByPeer).toBe(false);
  });

  it('asks for nothing when the caller has no such identity', () => {
    expect(engine.evaluateLogMask(event('x', { method: 'GET', path: '/v1/models', peer: { address: '127.0.0.1', port: 1 } }))).toEqual({ pointers: [] });
  });

  it('leaves the compact input of the request and response rules as the non-log sources give it', async () => {
    const dir = join(ROOT, 'rego/policy');
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile() && e.name.endsWith('.rego') && !e.name.endsWith('_test.rego')).map((e) => join(e.parentPath, e.name));
    const withoutLog = await Promise.all(files.filter((f) => !f.includes('/enclave_gate/log/')).map((f) => readFile(f, 'utf8')));
    const all = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    const { metadata } = await manifestOf(await readFile(BUNDLE));
    expect(metadata.enclave_gate['log_mask']).toBe(true);
    expect(metadata.enclave_gate['input_usage']).toEqual(inputUsageToJson(analyseInputUsage(withoutLog)));
    // Counting the mask rule would have widened it (it reads input.input…).
    expect(inputUsageToJson(analyseInputUsage(all))).not.toEqual(metadata.enclave_gate['input_usage']);
    expect(engine.reads('input')).toBe(false);
  });
});

describe('evaluateLogMask', () => {
  let engine: PolicyEngine;
  beforeAll(async () => {
    engine = await loadPolicy(join(FIXTURES, 'log-mask'));
  });

  it('takes pointer strings and OPA remove objects, and sees the whole event (the result too)', () => {
    expect([...engine.evaluateLogMask(event('good', identified)).pointers].sort()).toEqual(['/input/peer/address', '/input/peer/jwt/email']);
    expect([...engine.evaluateLogMask(event('good', identified, false)).pointers].sort()).toEqual(['/input/headers', '/input/peer/address', '/input/peer/jwt/email']);
  });

  it.each(['outside', 'upsert', 'number'])('erases the whole input when the rule answers something else than pointers under /input (%s)', (kase) => {
    const result = engine.evaluateLogMask(event(kase, identified));
    expect(result.pointers).toEqual(['/input']);
    expect(result.failure).toMatch(/other than a pointer under \/input/);
  });

  it('erases the whole input when a builtin throws, without quoting it, and stays usable', async () => {
    const throwing = await loadPolicy(join(FIXTURES, 'log-mask'), {
      builtins: {
        'enclave_gate.pii.scan': () => {
          throw new Error('cannot scan ann@bank-a.example');
        },
      },
    });
    const result = throwing.evaluateLogMask(event('builtin', identified));
    expect(result.pointers).toEqual(['/input']);
    expect(result.failure).toMatch(/enclave_gate\.pii\.scan failed/);
    expect(result.failure).not.toContain('ann@');
    expect(throwing.evaluateLogMask(event('good', identified)).failure).toBeUndefined();
  });

  it('erases the whole input when the event does not serialise', () => {
    const cyclic: Record<string, unknown> = { method: 'GET' };
    cyclic['self'] = cyclic;
    expect(engine.evaluateLogMask(event('good', cyclic))).toMatchObject({ pointers: ['/input'], failure: expect.stringMatching(/serialise/) });
  });

  it('keeps the mask rule out of the request compact input', () => {
    expect(engine.reads('method')).toBe(true);
    expect(engine.reads('input')).toBe(false);
    expect(engine.reads('peer')).toBe(false);
    expect(engine.evaluateRequest({ method: 'GET' } as never)).toEqual({ allow: true, reasons: [] });
  });
});

describe('building with and without the log package', () => {
  it('compiles no mask entrypoint for Rego without the package, and such a bundle masks nothing more', async () => {
    const bundle = await compilePolicyDirectory(join(FIXTURES, 'with-data'));
    const manifest = (await manifestOf(bundle)) as unknown as { wasm: { entrypoint: string }[]; metadata: { enclave_gate: Record<string, unknown> } };
    expect(manifest.wasm.map((w) => w.entrypoint)).not.toContain('enclave_gate/log/mask');
    expect(manifest.metadata.enclave_gate['log_mask']).toBe(false);
    const engine = await loadPolicyBundle(bundle);
    expect(engine.hasLogMaskRule).toBe(false);
    expect(engine.logMaskByPeer).toBe(true);
    expect(engine.evaluateLogMask(event('good', identified))).toEqual({ pointers: [] });
  });

  it('keeps a static data.enclave_gate.log.mask list working next to the rule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eg-log-mask-'));
    try {
      await cp(join(FIXTURES, 'log-mask'), dir, { recursive: true });
      await writeFile(join(dir, 'data.json'), JSON.stringify({ enclave_gate: { log: { mask: ['/input/peer/jwt/sub'] } } }));
      const engine = await loadPolicy(dir);
      expect(engine.logMask).toEqual(['/input/peer/jwt/sub']);
      expect([...engine.evaluateLogMask(event('good', identified)).pointers].sort()).toEqual(['/input/peer/address', '/input/peer/jwt/email']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bundle whose metadata promises a mask rule its module lacks', async () => {
    const files = readTarGz(await compilePolicyDirectory(join(FIXTURES, 'with-data')));
    const manifest = JSON.parse(new TextDecoder().decode(files.get('/.manifest')!)) as { metadata: { enclave_gate: Record<string, unknown> } };
    manifest.metadata.enclave_gate['log_mask'] = true;
    const entries = [...files].map(([name, data]) => ({ name, data: name === '/.manifest' ? JSON.stringify(manifest) : data }));
    await expect(loadPolicyBundle(tarGz(entries))).rejects.toThrow(/no entrypoint enclave_gate\/log\/mask/);
  });

  it('decides the entrypoints and the analysed sources from the package lines', () => {
    const request = 'package enclave_gate.request\n\ndecision := {"allow": input.method == "GET", "reasons": []}\n';
    const log = '# masks\npackage enclave_gate.log\n\nmask contains "/input/x" if input.input.x\n';
    expect(policyEntrypoints([request])).toEqual(['enclave_gate/request/decision', 'enclave_gate/response/decision']);
    expect(policyEntrypoints([request, log])).toEqual(['enclave_gate/request/decision', 'enclave_gate/response/decision', 'enclave_gate/log/mask']);
    // A sub-package is not the mask package.
    expect(policyEntrypoints([request, 'package enclave_gate.logging\n'])).toHaveLength(2);
    expect(decisionSources([request, log])).toEqual([request]);
    // A request rule that uses the log package counts its reads: leaving them out could hide input.
    const using = 'package enclave_gate.request\n\nimport data.enclave_gate.log\n\ndecision := {"allow": count(log.mask) == 0, "reasons": []}\n';
    expect(decisionSources([using, log])).toEqual([using, log]);
    const dynamic = 'package enclave_gate.request\n\ndecision := {"allow": count(data.enclave_gate[x].mask) == 0, "reasons": []}\n';
    expect(decisionSources([dynamic, log])).toEqual([dynamic, log]);
    const whole = 'package enclave_gate.request\n\nall := data.enclave_gate\n';
    expect(decisionSources([whole, log])).toEqual([whole, log]);
    // Other packages, the builtin and entrypoint names in comments are no reference.
    const other = '# Entrypoint: enclave_gate/request/decision\npackage enclave_gate.request\n\nimport data.enclave_gate.lib\n\nx := enclave_gate.pii.scan(input)\n';
    expect(decisionSources([other, log])).toEqual([other]);
  });
});
