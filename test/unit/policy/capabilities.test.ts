import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { CUSTOM_BUILTINS } from '../../../src/policy/builtins/index.js';

interface Capabilities {
  builtins: Array<{ name: string }>;
  features: string[];
  wasm_abi_versions: Array<{ version: number; minor_version: number }>;
}

const read = <T>(path: string): T => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as T;
const capabilities = read<Capabilities>('../../../rego/capabilities.json');
const declared = read<Array<{ name: string }>>('../../../rego/toolchain/custom-builtins.json');
const names = new Set(capabilities.builtins.map((b) => b.name));

describe('rego/capabilities.json', () => {
  it('declares exactly the builtins TypeScript implements', () => {
    expect(declared.map((b) => b.name).sort()).toEqual(Object.keys(CUSTOM_BUILTINS).sort());
    for (const name of Object.keys(CUSTOM_BUILTINS)) expect(names, name).toContain(name);
  });

  it('leaves out builtins the wasm runtime lacks or that behave differently there', () => {
    for (const name of ['time.now_ns', 'http.send', 'crypto.sha256', 'io.jwt.decode', 'sprintf', 'regex.split']) {
      expect(names, name).not.toContain(name);
    }
    // print() would send policy values (request bodies) to stdout.
    expect(names).not.toContain('internal.print');
  });

  it('keeps what the policy needs: comparisons, strings, regex (RE2), walk', () => {
    for (const name of ['eq', 'equal', 'internal.member_2', 'concat', 'lower', 'split', 'regex.match', 'walk']) {
      expect(names, name).toContain(name);
    }
  });

  it('targets Rego v1 and the ABI opa-wasm 1.10 runs', () => {
    expect(capabilities.features).toEqual(['rego_v1']);
    expect(capabilities.wasm_abi_versions).toContainEqual({ version: 1, minor_version: 2 });
  });
});
