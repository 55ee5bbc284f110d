/**
 * A policy whose wasm traps. The real compiled default policy is patched so
 * its `opa_eval` export begins with the wasm `unreachable` instruction: the
 * module still validates and loads, and every evaluation raises a
 * WebAssembly.RuntimeError from inside the module. The engine must deny with
 * failure "error" (never throw, never allow), stay usable, and the proxy must
 * answer 500 EG_POLICY_FAILURE, count it, and keep serving.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyBundle, type PolicyEngine } from '../../../src/policy/engine.js';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { readTarGz } from '../../../src/policy/tar.js';
import { ensurePolicyBundle, startTestGateway } from '../../helpers/gateway.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { tarGz } from '../../unit/policy/tar-writer.js';

function readLeb(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let p = at;
  for (;;) {
    const b = bytes[p++]!;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: value >>> 0, next: p };
    shift += 7;
  }
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value >>>= 7;
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/** Returns `wasm` with `unreachable` inserted at the start of the body of the exported function `name`. */
function trapOnEntry(wasm: Uint8Array, name: string): Uint8Array {
  const sections: { id: number; body: Uint8Array }[] = [];
  for (let p = 8; p < wasm.length; ) {
    const id = wasm[p]!;
    const { value: size, next } = readLeb(wasm, p + 1);
    sections.push({ id, body: wasm.subarray(next, next + size) });
    p = next + size;
  }
  // Imported functions come first in the function index space.
  let importedFunctions = 0;
  const imports = sections.find((s) => s.id === 2);
  if (imports) {
    const b = imports.body;
    let { value: count, next: p } = readLeb(b, 0);
    while (count-- > 0) {
      for (let i = 0; i < 2; i++) {
        const { value: len, next } = readLeb(b, p);
        p = next + len;
      }
      const kind = b[p++]!;
      if (kind === 0) {
        importedFunctions++;
        p = readLeb(b, p).next;
      } else if (kind === 1) {
        p += 1;
        const flags = b[p++]!;
        p = readLeb(b, p).next;
        if (flags & 1) p = readLeb(b, p).next;
      } else if (kind === 2) {
        const flags = b[p++]!;
        p = readLeb(b, p).next;
        if (flags & 1) p = readLeb(b, p).next;
      } else p += 2; // global: valtype, mutability
    }
  }
  const exports = sections.find((s) => s.id === 7)!.body;
  let functionIndex = -1;
  {
    let { value: count, next: p } = readLeb(exports, 0);
    while (count-- > 0) {
      const { value: len, next } = readLeb(exports, p);
      const exported = Buffer.from(exports.subarray(next, next + len)).toString('utf8');
      const kind = exports[next + len]!;
      const index = readLeb(exports, next + len + 1);
      if (exported === name && kind === 0) functionIndex = index.value;
      p = index.next;
    }
  }
  if (functionIndex < importedFunctions) throw new Error(`export ${name} not found`);
  const code = sections.find((s) => s.id === 10)!;
  const bodies: Buffer[] = [];
  const { value: count, next: first } = readLeb(code.body, 0);
  let p = first;
  for (let i = 0; i < count; i++) {
    const { value: size, next } = readLeb(code.body, p);
    let body = Buffer.from(code.body.subarray(next, next + size));
    if (i === functionIndex - importedFunctions) {
      // Skip the local declarations (count, then count × (n, valtype)), then put `unreachable` (0x00) first.
      let { value: groups, next: q } = readLeb(body, 0);
      while (groups-- > 0) q = readLeb(body, q).next + 1;
      body = Buffer.concat([body.subarray(0, q), Buffer.of(0x00), body.subarray(q)]);
    }
    bodies.push(Buffer.from(leb(body.length)), body);
    p = next + size;
  }
  code.body = Buffer.concat([Buffer.from(leb(count)), ...bodies]);
  const out: Buffer[] = [Buffer.from(wasm.subarray(0, 8))];
  for (const s of sections) out.push(Buffer.from([s.id, ...leb(s.body.length)]), Buffer.from(s.body));
  return new Uint8Array(Buffer.concat(out));
}

let trapping: PolicyEngine;
let upstream: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  const files = new Map(readTarGz(new Uint8Array(readFileSync(ensurePolicyBundle()))));
  files.set('/policy.wasm', trapOnEntry(files.get('/policy.wasm')!, 'opa_eval'));
  trapping = await loadPolicyBundle(tarGz([...files].map(([name, data]) => ({ name, data }))));
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  gateway = await startTestGateway(upstream.url, {}, { policy: trapping });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const get = (path: string) => ({
  request_id: 'r',
  method: 'GET',
  path,
  parsed_path: path.split('/').filter(Boolean),
  query: '',
  parsed_query: {},
  headers: {},
  body_size: 0,
  peer: { address: '127.0.0.1', port: 1, tls: { protocol: 'TLSv1.3', cipher: null, alpn: null, servername: null } },
});

describe('a wasm trap inside the policy', () => {
  it('denies with failure "error" on every evaluation, and the engine stays usable', () => {
    for (let i = 0; i < 3; i++) {
      const decision = trapping.evaluateRequest(get('/v1/models'));
      expect(decision).toMatchObject({ allow: false, reasons: ['policy_error'], failure: 'error' });
      expect(decision.detail).toMatch(/unreachable/i);
    }
  });

  it('answers 500 EG_POLICY_FAILURE through the proxy, counts it, and keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      const result = await exchange(gateway, head('GET /v1/models HTTP/1.1', ['Connection: close']));
      expect(result.responses.map((r) => [r.status, r.code])).toEqual([[500, 'EG_POLICY_FAILURE']]);
    }
    const metrics = await gateway.metrics.registry.getMetricsAsJSON();
    const failures = metrics.find((m) => m.name === 'enclave_gate_policy_evaluations_total')?.values.find((v) => v.labels['outcome'] === 'failure');
    expect(Number(failures?.value ?? 0)).toBeGreaterThanOrEqual(3);
    expect(upstream.received).toEqual([]);
  });
});
