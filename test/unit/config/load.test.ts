import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { EnclaveGateError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'eg-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EnclaveGateError);
    expect((err as EnclaveGateError).code).toBe('EG_CONFIG_INVALID');
    return (err as EnclaveGateError).details?.['problems'] as string[];
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('fills every default when given nothing', () => {
    const config = loadConfig();
    expect(config.listen).toBe('127.0.0.1:8443');
    expect(config.admin).toBe('127.0.0.1:9464');
    expect(config.upstream).toBe('http://127.0.0.1:8000');
    expect(config.attestation.provider).toBe('simulated');
    expect(config.tls.keyAlgorithm).toBe('P-384');
    expect(config.limits.requestBodyBytes).toBe(1024 * 1024);
  });

  it('layers file < env < flags', () => {
    const path = file('layers.yaml', 'listen: 127.0.0.1:1111\nupstream: http://127.0.0.1:2222\nadmin: 127.0.0.1:3333\n');
    const config = loadConfig({
      file: path,
      env: { ENCLAVE_GATE_UPSTREAM: 'unix:/run/model.sock', ENCLAVE_GATE_ADMIN: '127.0.0.1:4444' },
      flags: { admin: '127.0.0.1:5555' },
    });
    expect(config.listen).toBe('127.0.0.1:1111');
    expect(config.upstream).toBe('unix:/run/model.sock');
    expect(config.admin).toBe('127.0.0.1:5555');
  });

  it('reads JSON files and the file named by ENCLAVE_GATE_CONFIG', () => {
    const path = file('c.json', JSON.stringify({ tls: { validityHours: 2 } }));
    expect(loadConfig({ env: { ENCLAVE_GATE_CONFIG: path } }).tls.validityHours).toBe(2);
  });

  it('reports every problem at once, unknown keys included', () => {
    const path = file('bad.yaml', 'listen: nowhere\nupstrem: http://x:1\ntls:\n  keyAlgorithm: RSA\nlimits:\n  requestBodyBytes: -1\n');
    const problems = problemsOf(() => loadConfig({ file: path, flags: { attestation: 'tpm' } }));
    expect(problems.length).toBe(5);
    expect(problems.join('\n')).toMatch(/listen: must be HOST:PORT/);
    expect(problems.join('\n')).toMatch(/upstrem/);
    expect(problems.join('\n')).toMatch(/tls\.keyAlgorithm/);
    expect(problems.join('\n')).toMatch(/limits\.requestBodyBytes/);
    expect(problems.join('\n')).toMatch(/attestation\.provider/);
  });

  it('rejects upstreams that are not http:// or unix:', () => {
    expect(problemsOf(() => loadConfig({ flags: { upstream: 'https://example.com' } }))[0]).toMatch(/upstream/);
  });

  it('explains an unreadable or malformed file', () => {
    expect(() => loadConfig({ file: join(dir, 'missing.yaml') })).toThrow(/cannot be read/);
    expect(() => loadConfig({ file: file('broken.json', '{') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ file: file('list.yaml', '- a\n- b\n') })).toThrow(/mapping/);
  });

  it('returns a deeply frozen value', () => {
    const config = loadConfig();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.tls.subjectAltNames)).toBe(true);
  });
});

describe('limits.streamWindowChars', () => {
  it('defaults to no fixed window, accepts one up to streamMaxHoldChars, and rejects a larger one', () => {
    expect(loadConfig().limits.streamWindowChars).toBe(0);
    expect(loadConfig({ file: file('window.yaml', 'limits:\n  streamWindowChars: 128\n') }).limits.streamWindowChars).toBe(128);
    const problems = problemsOf(() => loadConfig({ file: file('window-big.yaml', 'limits:\n  streamWindowChars: 2048\n  streamMaxHoldChars: 1024\n') }));
    expect(problems.join('\n')).toMatch(/streamWindowChars/);
  });
});

describe('identity and decision log keys', () => {
  it('takes the decision log path from --decision-log over ENCLAVE_GATE_DECISION_LOG, and keeps it off by default', () => {
    expect(loadConfig().decisionLog.path).toBeUndefined();
    expect(loadConfig({ env: { ENCLAVE_GATE_DECISION_LOG: '/var/log/a.jsonl' } }).decisionLog.path).toBe('/var/log/a.jsonl');
    const both = loadConfig({ env: { ENCLAVE_GATE_DECISION_LOG: '/var/log/a.jsonl' }, flags: { 'decision-log': '/var/log/b.jsonl' } });
    expect(both.decisionLog).toMatchObject({ path: '/var/log/b.jsonl', overflow: 'drop-oldest', maxBufferedEvents: 10_000 });
  });

  it('refuses required credentials that are not configured, plain-http JWKS and unhashed API keys', () => {
    const path = file(
      'identity.json',
      JSON.stringify({
        identity: { require: ['jwt', 'api_key'], apiKeys: { keys: [{ id: 'a', sha256: 'not-a-hash' }] } },
        decisionLog: { overflow: 'sometimes', mask: ['/body'] },
      }),
    );
    const problems = problemsOf(() => loadConfig({ file: path })).join('\n');
    expect(problems).toMatch(/require lists "jwt" but identity.jwt is not configured/);
    expect(problems).toMatch(/sha256.*64 hex characters/);
    expect(problems).toMatch(/overflow/);
    expect(problems).toMatch(/must be a JSON pointer starting with \/input\//);
    const http = file('jwks.json', JSON.stringify({ identity: { jwt: { jwks: 'http://idp/jwks', issuer: 'i', audience: 'a' } } }));
    expect(problemsOf(() => loadConfig({ file: http })).join('\n')).toMatch(/file path or an https:\/\/ URL/);
  });
});

describe('workers and the decision log', () => {
  it('refuses a decision log file with more than one worker, and accepts it with one', () => {
    expect(problemsOf(() => loadConfig({ flags: { 'decision-log': '/tmp/d.jsonl', workers: '2' } })).join('\n')).toMatch(/decision log .* needs workers: 1/);
    expect(loadConfig({ flags: { 'decision-log': '/tmp/d.jsonl' } }).workers).toBe(1);
  });
});
