/**
 * The decision-log mask rule end to end (docs/audit.md "Masking"): a real
 * `enclave-gate serve` child runs a Rego directory (the default policy plus
 * one more `enclave_gate.log` mask rule, compiled at start by `--policy DIR`)
 * and writes the signed log. The events must lack what the rule names, list
 * it in `erased`, and the log must still verify, by the library and the CLI.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { verifyAuditLog } from '../../src/verify/audit-log.js';
import { CLI_MAIN, serveChild, stopChild, VITE_NODE } from '../helpers/cli-child.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const PATIENT = 'patient-7f3a-0042';

// Added to a copy of the default policy: a header that names a patient is
// erased, and so is the user agent of denied requests (the rule sees the result).
const EXTRA_MASK = `package enclave_gate.log

mask contains "/input/headers/x-patient-id" if _ = input.input.headers["x-patient-id"]

mask contains "/input/headers/user-agent" if {
	input.result.allow == false
	_ = input.input.headers["user-agent"]
}
`;

let upstream: TestUpstream;
let scratch: string;
let logPath: string;
let written: string;
let childExit: number | null;

async function call(url: string, path: string, headers: Record<string, string>): Promise<number> {
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${url}${path}`, { dispatcher: agent, headers });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  scratch = mkdtempSync(join(tmpdir(), 'eg-audit-mask-'));
  const policy = join(scratch, 'policy');
  cpSync(join(PACKAGE_ROOT, 'rego', 'policy'), policy, { recursive: true });
  writeFileSync(join(policy, 'enclave_gate', 'log', 'patient.rego'), EXTRA_MASK);
  logPath = join(scratch, 'decisions.jsonl');
  const config = join(scratch, 'config.json');
  writeFileSync(config, JSON.stringify({ decisionLog: { flushIntervalMs: 50, batchEvents: 2 } }));
  const { child, url } = await serveChild(['--config', config, '--policy', policy, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--upstream', upstream.url, '--decision-log', logPath]);
  try {
    const statuses = [
      await call(url, '/v1/models', { 'x-patient-id': PATIENT, 'user-agent': 'ward-7' }),
      await call(url, '/v1/models', { 'user-agent': 'ward-7' }),
      // No route in the default policy: denied, so the rule erases the user agent too.
      await call(url, '/admin/secret', { 'x-patient-id': PATIENT, 'user-agent': 'ward-7' }),
    ];
    expect(statuses).toEqual([200, 200, 403]);
  } finally {
    childExit = await stopChild(child);
  }
  written = readFileSync(logPath, 'utf8');
}, 180_000);

afterAll(async () => {
  await upstream?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('a bundle with a mask rule, in the running proxy', () => {
  const events = (): Record<string, unknown>[] =>
    written
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown> })
      .filter((r) => r.type === 'event')
      .map((r) => r.event!);

  it('writes events without what the rule names, listed in erased', () => {
    expect(childExit).toBe(0);
    expect(written).not.toContain(PATIENT);
    const [patient, plain, denied] = events() as { input: { headers: Record<string, string> }; erased?: string[]; result: { allow: boolean } }[];
    expect(patient!.erased).toEqual(['/input/headers/x-patient-id']);
    expect(patient!.input.headers['user-agent']).toBe('ward-7');
    expect(plain!.erased).toBeUndefined();
    expect(plain!.input.headers['user-agent']).toBe('ward-7');
    expect(denied!.result.allow).toBe(false);
    expect([...denied!.erased!].sort()).toEqual(['/input/headers/user-agent', '/input/headers/x-patient-id']);
    expect(denied!.input.headers).not.toHaveProperty('user-agent');
  });

  it('still verifies: chain, signatures, attested key (library and `enclave-gate audit verify`)', async () => {
    expect(verifyAuditLog([{ name: 'decisions.jsonl', text: written }], { allowSimulated: true })).toMatchObject({ ok: true, events: 3, closed: true });
    const code = await new Promise<number>((resolve) => {
      execFile(VITE_NODE, [CLI_MAIN, 'audit', 'verify', logPath, '--allow-simulated'], { cwd: PACKAGE_ROOT, timeout: 90_000 }, (error) => {
        resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : -1);
      });
    });
    expect(code).toBe(0);
  });
});
