/**
 * Mutual RA-TLS end to end (docs/mutual-ratls.md): real TLS handshakes in
 * which the client presents a certificate, the real gateway verifying it with
 * the verifier library, and policies compiled from Rego that read
 * `input.peer.attestation`.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request, type Dispatcher } from 'undici';
import { createSimulatedProvider } from '../../src/evidence/index.js';
import { loadPolicy, type PolicyEngine } from '../../src/policy/engine.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { issueCertificate, type IssuedCertificate } from '../../src/ratls/issue.js';
import { DEFAULT_OPA_PATH } from '../../src/policy/compile.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { startTestGateway, closeTestResources } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CALLER = 'c0'.repeat(48);
const STRANGER = '5e'.repeat(48);
const EXAMPLE_DIR = join(PACKAGE_ROOT, 'rego', 'examples', 'mutual_ratls');

let upstream: TestUpstream;
let scratch: string;
let callerCert: IssuedCertificate;
let strangerCert: IssuedCertificate;
let plainCert: { certPem: string; keyPem: string };
let allowlistPolicy: PolicyEngine;
let echoPolicy: PolicyEngine;
const gateways: Gateway[] = [];
const agents: Dispatcher[] = [];

/** A client RA-TLS certificate with simulated evidence of `measurementHex`. */
async function clientCertificate(measurementHex: string): Promise<IssuedCertificate> {
  return issueCertificate({
    provider: createSimulatedProvider({ measurement: new Uint8Array(Buffer.from(measurementHex, 'hex')) }),
    policyHash: { alg: 'sha-384', digest: new Uint8Array(48).fill(7) },
    keyAlgorithm: 'P-256',
    validitySeconds: 3600,
    subjectAltNames: ['caller.internal'],
    commonName: 'caller',
  });
}

/** An ordinary self-signed client certificate: a key, no evidence. */
async function plainCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=plain-client',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}

/** Compiles a policy directory made of the given files. */
async function policyFrom(name: string, files: Record<string, string>): Promise<PolicyEngine> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return loadPolicy(dir);
}

/** An agent that trusts exactly this gateway and presents `client` when asked. */
function agentFor(gw: Gateway, client?: { certPem: string; keyPem: string } | IssuedCertificate): Dispatcher {
  const identity =
    client === undefined ? {} : 'secureContextOptions' in client ? client.secureContextOptions() : { cert: client.certPem, key: client.keyPem };
  const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost', ...identity } });
  agents.push(agent);
  return agent;
}

async function call(gw: Gateway, dispatcher: Dispatcher, path = '/v1/models') {
  const res = await request(`${gw.url}${path}`, { dispatcher, method: 'GET' });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function gateway(clientAttestation: Record<string, unknown>, policy?: PolicyEngine): Promise<Gateway> {
  const gw = await startTestGateway(upstream.url, { tls: { clientAttestation } }, policy === undefined ? {} : { policy });
  gateways.push(gw);
  return gw;
}

/** The attestation the echo policy forwarded upstream with the last request. */
function echoedAttestation(): unknown {
  const seen = upstream.received.at(-1)!;
  return JSON.parse(String(seen.headers['x-peer-attestation']));
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  scratch = mkdtempSync(join(tmpdir(), 'eg-mutual-'));
  [callerCert, strangerCert, plainCert] = await Promise.all([clientCertificate(CALLER), clientCertificate(STRANGER), plainCertificate()]);
  const allowAllResponses = 'package enclave_gate.response\n\ndecision := {"allow": true, "reasons": []}\n';
  // The opt-in example rule, used as shipped, behind a minimal request decision.
  allowlistPolicy = await policyFrom('allowlist', {
    'caller.rego': readFileSync(join(EXAMPLE_DIR, 'caller.rego'), 'utf8'),
    'request.rego': [
      'package enclave_gate.request',
      '',
      'import data.enclave_gate.examples.mutual_ratls as mutual',
      '',
      'decision := {"allow": true, "reasons": []} if {',
      '\tmutual.caller_allowed',
      '} else := {"allow": false, "reasons": sort([r | some r in mutual.caller_reasons])}',
      '',
    ].join('\n'),
    'response.rego': allowAllResponses,
    'data.json': JSON.stringify({ mutual_ratls: { allowed_callers: [CALLER] } }),
  });
  // Allows everything and hands the attestation it saw to the upstream as a header.
  echoPolicy = await policyFrom('echo', {
    'request.rego': [
      'package enclave_gate.request',
      '',
      'seen := json.marshal(input.peer.attestation) if input.peer.attestation',
      '',
      'else := "null"',
      '',
      'decision := {"allow": true, "reasons": [], "headers": {"x-peer-attestation": seen}}',
      '',
    ].join('\n'),
    'response.rego': allowAllResponses,
  });
}, 120_000);

afterAll(() => closeTestResources({ gateways, agents, upstream, scratch }));

describe('policy sees the verified client attestation (optional mode)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ mode: 'optional', allowSimulated: true }, allowlistPolicy);
  });

  it('allows a caller whose simulated RA-TLS certificate carries the allowed measurement', async () => {
    const before = upstream.received.length;
    const res = await call(gw, agentFor(gw, callerCert));
    expect(res.status).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
  });

  it('denies a verified caller with another measurement, with the policy reason', async () => {
    const before = upstream.received.length;
    const res = await call(gw, agentFor(gw, strangerCert));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'EG_POLICY_DENIED', reasons: ['caller_measurement_not_allowed'] });
    expect(upstream.received.length).toBe(before);
  });

  it('lets a request without a client certificate reach the policy, which denies it', async () => {
    const res = await call(gw, agentFor(gw));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'EG_POLICY_DENIED', reasons: ['caller_not_attested'] });
  });

  it('hands an evidence-less certificate to the policy as verified: false', async () => {
    const res = await call(gw, agentFor(gw, plainCert));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'EG_POLICY_DENIED', reasons: ['caller_attestation_failed:EG_VERIFY_PARSE'] });
  });
});

describe('input.peer.attestation shape', () => {
  it('is the JSON-safe verdict of a verified certificate', async () => {
    const gw = await gateway({ mode: 'optional', allowSimulated: true }, echoPolicy);
    const res = await call(gw, agentFor(gw, callerCert));
    expect(res.status).toBe(200);
    const seen = echoedAttestation() as Record<string, unknown>;
    expect(seen).toMatchObject({
      verified: true,
      platform: 'simulated',
      measurement: CALLER,
      debug: false,
      policy_hash: `sha-384:${'07'.repeat(48)}`,
      fingerprint: callerCert.fingerprint256,
    });
    expect(seen['report_data']).toMatch(/^[0-9a-f]+$/);
    expect(seen).not.toHaveProperty('code');
    expect(Object.keys(seen).sort()).toEqual(['debug', 'fingerprint', 'measurement', 'platform', 'policy_hash', 'report_data', 'tcb', 'verified']);
  });

  it('carries the failure code, and no evidence fields, when simulation is not allowed', async () => {
    const gw = await gateway({ mode: 'optional' }, echoPolicy);
    const res = await call(gw, agentFor(gw, callerCert));
    expect(res.status).toBe(200);
    expect(echoedAttestation()).toEqual({
      verified: false,
      platform: 'simulated',
      measurement: null,
      report_data: null,
      debug: null,
      tcb: null,
      code: 'EG_VERIFY_SIMULATED',
      fingerprint: callerCert.fingerprint256,
    });
  });

  it('is absent in optional mode when the client sends no certificate', async () => {
    const gw = await gateway({ mode: 'optional', allowSimulated: true }, echoPolicy);
    const res = await call(gw, agentFor(gw));
    expect(res.status).toBe(200);
    expect(echoedAttestation()).toBeNull();
  });

  it('is absent when mode is off, even from a client that has a certificate (none is requested)', async () => {
    const gw = await gateway({ mode: 'off' }, echoPolicy);
    const res = await call(gw, agentFor(gw, callerCert));
    expect(res.status).toBe(200);
    expect(echoedAttestation()).toBeNull();
  });
});

describe('required mode', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ mode: 'required', allowSimulated: true });
  });

  it('serves a client with a verified RA-TLS certificate (default policy)', async () => {
    const res = await call(gw, agentFor(gw, callerCert));
    expect(res.status).toBe(200);
  });

  it('refuses a connection without a client certificate with 403 EG_CLIENT_ATTESTATION_FAILED and closes it', async () => {
    const before = upstream.received.length;
    const res = await call(gw, agentFor(gw));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['connection']).toBe('close');
    expect(res.json()).toMatchObject({ code: 'EG_CLIENT_ATTESTATION_FAILED', status: 403, reasons: ['client_certificate_missing'] });
    expect(upstream.received.length).toBe(before);
  });

  it('refuses an ordinary self-signed client certificate (no evidence)', async () => {
    const res = await call(gw, agentFor(gw, plainCert));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'EG_CLIENT_ATTESTATION_FAILED', reasons: ['client_attestation_failed:EG_VERIFY_PARSE'] });
  });

  it('gates the freshness endpoint too', async () => {
    const res = await call(gw, agentFor(gw), `/.well-known/attestation?nonce=${'ab'.repeat(16)}`);
    expect(res.status).toBe(403);
    expect(res.json()['code']).toBe('EG_CLIENT_ATTESTATION_FAILED');
  });

  it('refuses a simulated client certificate unless allowSimulated, naming EG_VERIFY_SIMULATED', async () => {
    const strict = await gateway({ mode: 'required' });
    const res = await call(strict, agentFor(strict, callerCert));
    expect(res.status).toBe(403);
    const body = res.json();
    expect(body['code']).toBe('EG_CLIENT_ATTESTATION_FAILED');
    expect(body['reasons']).toEqual(['client_attestation_failed:EG_VERIFY_SIMULATED']);
    expect(String(body['detail'])).toContain('EG_VERIFY_SIMULATED');
  });

  it('applies the reference values (a measurement allowlist) before the policy', async () => {
    const pinned = await gateway({ mode: 'required', referenceValues: { allowSimulated: true, measurements: [CALLER] } });
    expect((await call(pinned, agentFor(pinned, callerCert))).status).toBe(200);
    const res = await call(pinned, agentFor(pinned, strangerCert));
    expect(res.status).toBe(403);
    expect(res.json()['reasons']).toEqual(['client_attestation_failed:EG_VERIFY_REFERENCE_VALUES']);
  });

  it('reads reference values from a file and refuses to start on invalid ones', async () => {
    const file = join(scratch, 'rv.json');
    writeFileSync(file, JSON.stringify({ allowSimulated: true, measurements: [STRANGER] }));
    const fromFile = await gateway({ mode: 'required', referenceValues: file });
    expect((await call(fromFile, agentFor(fromFile, strangerCert))).status).toBe(200);
    expect((await call(fromFile, agentFor(fromFile, callerCert))).status).toBe(403);
    await expect(gateway({ mode: 'required', referenceValues: { measurement: [CALLER] } })).rejects.toMatchObject({ code: 'EG_CONFIG_INVALID' });
  });
});

describe('the opt-in example rule', () => {
  it('passes its own opa tests', () => {
    const out = execFileSync(DEFAULT_OPA_PATH, ['test', '--capabilities', join(PACKAGE_ROOT, 'rego', 'capabilities.json'), EXAMPLE_DIR], { encoding: 'utf8' });
    expect(out).toMatch(/PASS: \d+\/\d+/);
  });
});
