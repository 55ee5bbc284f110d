import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { isErrorCode } from '../../../src/errors.js';
import { bundleDigest, readBundle } from '../../../src/policy/bundle.js';
import { POLICY_ENTRYPOINTS } from '../../../src/policy/entrypoints.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const WASM = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const manifest = (extra: Record<string, unknown> = {}): Uint8Array =>
  enc(
    JSON.stringify({
      revision: 'rev-1',
      wasm: POLICY_ENTRYPOINTS.map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
      ...extra,
    }),
  );

function loadErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isErrorCode(err, 'EG_POLICY_LOAD_FAILED')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected EG_POLICY_LOAD_FAILED');
}

describe('bundleDigest', () => {
  const files = new Map<string, Uint8Array>([
    ['/policy.wasm', WASM],
    ['/.manifest', manifest()],
    ['/data.json', enc('{}')],
  ]);

  it('is SHA-384 over the sorted "<sha256>  <path>" listing', () => {
    const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    const listing =
      `${sha256(manifest())}  /.manifest\n` + `${sha256(enc('{}'))}  /data.json\n` + `${sha256(WASM)}  /policy.wasm\n`;
    const expected = createHash('sha384').update(listing).digest('hex');
    const digest = bundleDigest(files);
    expect(digest.alg).toBe('sha-384');
    expect(digest.hex).toBe(expected);
    expect(Buffer.from(digest.bytes).toString('hex')).toBe(expected);
    expect(digest.bytes).toHaveLength(48);
  });

  it('ignores order, path spelling and .signatures.json, but not content or names', () => {
    const base = bundleDigest(files).hex;
    expect(bundleDigest([...files].reverse()).hex).toBe(base);
    expect(bundleDigest([...files].map(([p, c]) => [p.slice(1), c] as const)).hex).toBe(base);
    expect(bundleDigest([...files, ['/.signatures.json', enc('{"signatures":[]}')]]).hex).toBe(base);
    expect(bundleDigest([...files, ['/extra.rego', enc('package x')]]).hex).not.toBe(base);
    expect(bundleDigest(new Map(files).set('/data.json', enc('{"a":1}'))).hex).not.toBe(base);
    const renamed = new Map(files);
    renamed.delete('/data.json');
    renamed.set('/x/data.json', enc('{}'));
    expect(bundleDigest(renamed).hex).not.toBe(base);
  });

  it('sorts by UTF-8 bytes of the path', () => {
    // "/Z" < "/a" < "/é" in UTF-8 byte order.
    const digest = bundleDigest([
      ['/é', enc('1')],
      ['/a', enc('2')],
      ['/Z', enc('3')],
    ]);
    const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
    const listing = `${sha('3')}  /Z\n${sha('2')}  /a\n${sha('1')}  /é\n`;
    expect(digest.hex).toBe(createHash('sha384').update(listing, 'utf8').digest('hex'));
  });
});

describe('readBundle', () => {
  it('reads revision, module and merged data', () => {
    const contents = readBundle(
      new Map([
        ['/.manifest', manifest()],
        ['/policy.wasm', WASM],
        ['/data.json', enc('{"a":{"x":1}}')],
        ['/a/b/data.json', enc('{"y":2}')],
        ['/c/data.json', enc('{"__proto__":{"polluted":true}}')],
      ]),
      POLICY_ENTRYPOINTS,
    );
    expect(contents.revision).toBe('rev-1');
    expect(contents.wasm).toBe(WASM);
    expect(JSON.parse(JSON.stringify(contents.data))).toEqual({
      a: { x: 1, b: { y: 2 } },
      c: { ['__proto__']: { polluted: true } },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('defaults to /policy.wasm and revision "" without a manifest', () => {
    const contents = readBundle(new Map([['/policy.wasm', WASM]]), POLICY_ENTRYPOINTS);
    expect(contents).toEqual({ revision: '', wasm: WASM, data: {} });
  });

  it('uses the module the manifest names', () => {
    const files = new Map([
      ['/.manifest', manifest({ wasm: POLICY_ENTRYPOINTS.map((entrypoint) => ({ entrypoint, module: 'm/p.wasm' })) })],
      ['/m/p.wasm', WASM],
    ]);
    expect(readBundle(files, POLICY_ENTRYPOINTS).wasm).toBe(WASM);
  });

  it.each<[string, Map<string, Uint8Array>, RegExp]>([
    ['no wasm module', new Map([['/data.json', enc('{}')]]), /policy\.wasm is missing/],
    ['a manifest that is not JSON', new Map([['/.manifest', enc('{')]]), /not valid JSON/],
    ['a manifest that is not an object', new Map([['/.manifest', enc('[]')]]), /not a JSON object/],
    ['a non-string revision', new Map([['/.manifest', manifest({ revision: 1 })]]), /revision/],
    [
      'a manifest without our entrypoint',
      new Map([['/.manifest', manifest({ wasm: [{ entrypoint: 'other/x', module: '/policy.wasm' }] })]]),
      /no wasm module for entrypoint/,
    ],
    [
      'entrypoints in different modules',
      new Map([
        [
          '/.manifest',
          manifest({ wasm: POLICY_ENTRYPOINTS.map((entrypoint, i) => ({ entrypoint, module: `/p${i}.wasm` })) }),
        ],
      ]),
      /several wasm modules/,
    ],
    [
      'data that is not an object',
      new Map([
        ['/policy.wasm', WASM],
        ['/data.json', enc('[1]')],
      ]),
      /does not hold a JSON object/,
    ],
    [
      'conflicting data',
      new Map([
        ['/policy.wasm', WASM],
        ['/data.json', enc('{"a":1}')],
        ['/a/data.json', enc('{}')],
      ]),
      /conflicts/,
    ],
    [
      'YAML data',
      new Map([
        ['/policy.wasm', WASM],
        ['/data.yaml', enc('a: 1')],
      ]),
      /YAML/,
    ],
  ])('rejects %s', (_label, files, message) => {
    expect(loadErrorMessage(() => readBundle(files, POLICY_ENTRYPOINTS))).toMatch(message);
  });
});
