// The direct ABI call (src/policy/wasm-call.ts) against the SDK's own
// `evaluate`, on the real default bundle: same result sets for every input,
// memory growth included, and the same failure past the memory cap.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadPolicy as loadWasmPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { CUSTOM_BUILTINS } from '../../../src/policy/builtins/index.js';
import { readBundle, type BundleContents } from '../../../src/policy/bundle.js';
import { LOG_MASK_ENTRYPOINT, POLICY_ENTRYPOINTS, REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT } from '../../../src/policy/entrypoints.js';
import { readTarGz } from '../../../src/policy/tar.js';
import { wasmCall } from '../../../src/policy/wasm-call.js';
import { createRng } from '../../../src/demo/prng.js';

const BUNDLE = join(fileURLToPath(new URL('../../../', import.meta.url)), 'rego/build/bundle.tar.gz');

let contents: BundleContents;

async function instance(initial = 32, maximum = 2048): Promise<LoadedPolicy> {
  const policy = await loadWasmPolicy(contents.wasm, { initial, maximum }, CUSTOM_BUILTINS);
  policy.setData(contents.data);
  return policy;
}

/** What the SDK answers, as text in the same form. */
function viaSdk(policy: LoadedPolicy, json: string, entrypoint: number): string {
  return JSON.stringify(policy.evaluate(new TextEncoder().encode(json).buffer, entrypoint));
}

const PATHS = ['/v1/chat/completions', '/v1/models', '/v1/models/llama3', '/admin', '/v1/embeddings', '/api/chat', '/ünïcode/√', ''];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const TYPES = ['application/json', 'text/plain', 'application/json; charset=utf-8', undefined];
const FINDINGS = [[], [{ type: 'email', path: '/messages/0/content' }], [{ type: 'credit_card', path: '/x' }, { type: 'iban', path: '/y' }], undefined];

/** Random request and response inputs, in the shapes the proxy builds (and some it never would). */
function randomInput(random: () => number): Record<string, unknown> {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const text = 'x'.repeat(Math.floor(random() * 300)) + pick(['', 'é', '😀', '"quoted"\\', '\u0000']);
  const input: Record<string, unknown> = {
    method: pick(METHODS),
    path: pick(PATHS),
    headers: pick(TYPES) === undefined ? {} : { 'content-type': pick(TYPES) },
    body_size: pick([0, 1, 290, 16_384]),
    body_format: pick(['json', 'event-stream', 'opaque', 'none']),
    request: { path: pick(PATHS), method: pick(METHODS) },
    status: pick([200, 404, 500]),
  };
  if (random() < 0.7) input['body'] = { messages: [{ role: 'user', content: text }] };
  const findings = pick(FINDINGS);
  if (findings !== undefined) input['pii'] = findings;
  if (random() < 0.3) input['event'] = { findings: pick(FINDINGS) ?? [] };
  return input;
}

beforeAll(async () => {
  contents = readBundle(readTarGz(await readFile(BUNDLE)), [...POLICY_ENTRYPOINTS, LOG_MASK_ENTRYPOINT]);
});

describe('direct wasm call', () => {
  it('takes the direct path with the pinned SDK', async () => {
    expect(wasmCall(await instance()).direct).toBe(true);
  });

  it('answers exactly as the SDK on random inputs, both entrypoints, interleaved', async () => {
    const direct = await instance();
    const reference = await instance();
    const call = wasmCall(direct);
    const ids = direct.entrypoints as Record<string, number>;
    const rng = createRng(20261204);
    const random = (): number => rng.next();
    for (let i = 0; i < 400; i++) {
      const json = JSON.stringify(randomInput(random));
      for (const name of [REQUEST_ENTRYPOINT, RESPONSE_ENTRYPOINT]) {
        expect(call(json, ids[name]!)).toBe(viaSdk(reference, json, ids[name]!));
      }
    }
  });

  it('grows the memory for a large input and keeps answering as the SDK does', async () => {
    const direct = await instance(8, 512);
    const reference = await instance(8, 512);
    const call = wasmCall(direct);
    const id = (direct.entrypoints as Record<string, number>)[REQUEST_ENTRYPOINT]!;
    const big = JSON.stringify({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: { text: 'ü'.repeat(1_500_000) }, pii: [], body_size: 3_000_000 });
    const small = JSON.stringify({ method: 'GET', path: '/v1/models', headers: {}, body_size: 0 });
    expect(call(big, id)).toBe(viaSdk(reference, big, id));
    expect(call(small, id)).toBe(viaSdk(reference, small, id));
    expect(JSON.parse(call(small, id))).toEqual([{ result: { allow: true, reasons: [] } }]);
  });

  it('throws past the memory cap, as the SDK does, and answers again afterwards', async () => {
    const direct = await instance(8, 16);
    const call = wasmCall(direct);
    const id = (direct.entrypoints as Record<string, number>)[REQUEST_ENTRYPOINT]!;
    const huge = JSON.stringify({ body: 'x'.repeat(4 * 1024 * 1024) });
    expect(() => call(huge, id)).toThrow();
    const small = JSON.stringify({ method: 'GET', path: '/v1/models', headers: {}, body_size: 0 });
    expect(JSON.parse(call(small, id))).toEqual([{ result: { allow: true, reasons: [] } }]);
  });

  it('falls back to the SDK when the instance is not the one it knows', async () => {
    const policy = await instance();
    const stranger = { evaluate: policy.evaluate.bind(policy), entrypoints: policy.entrypoints } as unknown as LoadedPolicy;
    const call = wasmCall(stranger);
    expect(call.direct).toBe(false);
    const json = JSON.stringify({ method: 'POST', path: '/admin', headers: {}, body_size: 0 });
    const id = (policy.entrypoints as Record<string, number>)[REQUEST_ENTRYPOINT]!;
    expect(JSON.parse(call(json, id))).toEqual([{ result: { allow: false, reasons: ['path_not_allowed'] } }]);
  });
});
