import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnclaveGateError } from '../../../src/errors.js';
import { canonicalJson, createBundleVerifier, fileHash } from '../../../src/policy/signature.js';
import { loadPolicyBundle } from '../../../src/policy/engine.js';
import { readTarGz } from '../../../src/policy/tar.js';
import { buildBundle, makeKey, rewriteBundle, scratchDir, type TestKey } from '../../helpers/bundles.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(EnclaveGateError);
    const e = err as EnclaveGateError;
    expect(e.code).toBe('EG_POLICY_LOAD_FAILED');
    expect(e.details?.['stage']).toBe('signature');
    return String(e.details?.['reason']);
  }
  throw new Error('expected a failure');
}

describe('canonical JSON (as OPA hashes data.json and .manifest)', () => {
  it('sorts keys by UTF-8 bytes, drops whitespace and keeps number literals', () => {
    expect(canonicalJson(enc('{ "b": 1.0, "a": [ 1e3, -0, "x" ], "\u00e9": {}, "z": {"y": null, "x": true} }'))).toBe(
      '{"a":[1e3,-0,"x"],"b":1.0,"z":{"x":true,"y":null},"é":{}}',
    );
  });
  it('escapes like Go with HTML escaping off', () => {
    expect(canonicalJson(enc('["<&>", "a\\u0001b", "\\u2028", "\\"\\\\\\n\\t\\b\\f", "\\ud800"]'))).toBe('["<&>","a\\u0001b","\\u2028","\\"\\\\\\n\\t\\b\\f","\ufffd"]');
  });
  it('keeps the last of repeated keys and refuses invalid JSON', () => {
    expect(canonicalJson(enc('{"a":1,"a":2}'))).toBe('{"a":2}');
    expect(() => canonicalJson(enc('{"a":1,}'))).toThrow(EnclaveGateError);
    expect(() => canonicalJson(enc('[1] x'))).toThrow(EnclaveGateError);
  });
  it('hashes structured files canonically and others raw', () => {
    const raw = enc('{"b":1, "a":2}');
    expect(fileHash('/x/data.json', raw)).toBe(createHash('sha256').update('{"a":2,"b":1}').digest('hex'));
    expect(fileHash('/policy.rego', raw)).toBe(createHash('sha256').update(raw).digest('hex'));
  });
});

describe('bundle signatures made by the OPA CLI', () => {
  let dir: string;
  let es: TestKey;
  let other: TestKey;
  let signed: Uint8Array;
  beforeAll(() => {
    dir = scratchDir();
    es = makeKey(dir, 'ES256', 'es');
    other = makeKey(dir, 'ES256', 'other');
    signed = buildBundle({ paths: ['/ok'], signingKey: es.privatePath, claims: { keyid: 'k1', scope: 'prod' } });
  }, 60_000);

  const verifier = (scope?: string, key: TestKey = es, keyid = 'k1') =>
    createBundleVerifier({ keys: [{ keyid, algorithm: 'ES256', publicKey: key.publicPath }], ...(scope === undefined ? {} : { scope }) });

  it('accepts a correctly signed bundle (key from a file, scope checked) and it loads', async () => {
    const v = await verifier('prod');
    expect(await v.verify(readTarGz(signed))).toEqual({ keyid: 'k1', scope: 'prod' });
    const engine = await loadPolicyBundle(signed, { verifyArchive: async (f) => void (await v.verify(f)) });
    expect(engine.evaluateRequest({ method: 'GET', path: '/ok' } as never).allow).toBe(true);
  });

  it('accepts PEM text as well as a path', async () => {
    const v = await createBundleVerifier({ keys: [{ keyid: 'k1', algorithm: 'ES256', publicKey: es.publicPem }] });
    await expect(v.verify(readTarGz(signed))).resolves.toMatchObject({ keyid: 'k1' });
  });

  it('refuses a wrong key, an unknown keyid and a bad scope', async () => {
    expect(await reasonOf((await verifier(undefined, other)).verify(readTarGz(signed)))).toBe('bad-signature');
    expect(await reasonOf((await verifier(undefined, es, 'k2')).verify(readTarGz(signed)))).toBe('unknown-key');
    expect(await reasonOf((await verifier('staging')).verify(readTarGz(signed)))).toBe('scope');
  });

  it('refuses an algorithm other than the configured one', async () => {
    const v = await createBundleVerifier({ keys: [{ keyid: 'k1', algorithm: 'EdDSA', publicKey: makeKey(dir, 'EdDSA', 'ed').publicPath }] });
    expect(await reasonOf(v.verify(readTarGz(signed)))).toBe('bad-signature');
  });

  it('refuses tampered, missing and extra files', async () => {
    const v = await verifier('prod');
    const tampered = rewriteBundle(signed, (f) => f.set('/data.json', enc('{"settings":{"paths":["/ok","/admin"],"reason":"x"}}')));
    expect(await reasonOf(v.verify(readTarGz(tampered)))).toBe('hash');
    const missing = rewriteBundle(signed, (f) => (f.delete('/request.rego'), f));
    expect(await reasonOf(v.verify(readTarGz(missing)))).toBe('file-list');
    const extra = rewriteBundle(signed, (f) => f.set('/extra/data.json', enc('{"a":1}')));
    expect(await reasonOf(v.verify(readTarGz(extra)))).toBe('file-list');
  });

  it('accepts a re-formatted data.json (canonical hashing) but not changed content', async () => {
    const v = await verifier('prod');
    const reformatted = rewriteBundle(signed, (f) => f.set('/data.json', enc('{ "settings" : { "reason":"fixture", "paths": [ "/ok" ] } }\n')));
    await expect(v.verify(readTarGz(reformatted))).resolves.toBeDefined();
  });

  it('requires a signature once keys are configured, and refuses one nobody can check', async () => {
    const unsigned = buildBundle({ paths: ['/ok'] });
    expect(await reasonOf((await verifier()).verify(readTarGz(unsigned)))).toBe('unsigned');
    const none = await createBundleVerifier({ keys: [] });
    await expect(none.verify(readTarGz(unsigned))).resolves.toBeUndefined();
    expect(await reasonOf(none.verify(readTarGz(signed)))).toBe('unexpected-signature');
  }, 30_000);

  it('refuses malformed signature files', async () => {
    const v = await verifier();
    for (const body of ['nope', '{"signatures":[]}', '{"signatures":["a.b"]}', '{"signatures":["x","y"]}']) {
      const bad = rewriteBundle(signed, (f) => f.set('/.signatures.json', enc(body)));
      expect(await reasonOf(v.verify(readTarGz(bad)))).toBe('malformed');
    }
  });

  it('verifies RS256 and EdDSA signatures from opa build (without claims, OPA names the key "default")', async () => {
    for (const alg of ['RS256', 'EdDSA'] as const) {
      const key = makeKey(dir, alg, alg);
      const bundle = buildBundle({ paths: ['/ok'], signingKey: key.privatePath, signingAlg: alg });
      const v = await createBundleVerifier({ keys: [{ keyid: 'default', algorithm: alg, publicKey: key.publicPem }] });
      await expect(v.verify(readTarGz(bundle))).resolves.toMatchObject({ keyid: 'default' });
    }
  }, 60_000);

  it('refuses bad key configuration', async () => {
    await expect(createBundleVerifier({ keys: [{ keyid: 'a', algorithm: 'RS256', publicKey: es.publicPem }] })).rejects.toMatchObject({ code: 'EG_CONFIG_INVALID' });
    await expect(createBundleVerifier({ keys: [{ keyid: 'a', algorithm: 'ES256', publicKey: '/nonexistent.pem' }] })).rejects.toMatchObject({ code: 'EG_CONFIG_INVALID' });
  });
});
