/**
 * Two banks sharing one fraud model (rego/examples/multi_party, used as
 * shipped with its data.json, behind the default response policy): each is
 * identified by its own credential (bank A by a bearer JWT, bank B by an API
 * key), may use only its own routes and PII permissions, and has its own
 * rate-limit buckets, which the real proxy enforces from the decision.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy, type PolicyEngine } from '../../src/policy/engine.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { startTestGateway, closeTestResources } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const EXAMPLE = join(PACKAGE_ROOT, 'rego', 'examples', 'multi_party');
const DEFAULT = join(PACKAGE_ROOT, 'rego', 'policy', 'enclave_gate');
const BANK_B_KEY = 'egk_bank_b_0b5e';
const IBAN = 'GB82WEST12345698765432';

let upstream: TestUpstream;
let scratch: string;
let signingKey: CryptoKey;
let jwksPath: string;
const gateways: Gateway[] = [];
const agents: Dispatcher[] = [];

/** The example policy as a user would assemble it: default lib + response, the example's request policy and data. */
async function examplePolicy(name: string, editData: (data: { multi_party: { parties: Record<string, Record<string, unknown>> } }) => void = () => {}): Promise<PolicyEngine> {
  const dir = join(scratch, name);
  mkdirSync(dir);
  copyFileSync(join(DEFAULT, 'lib', 'lib.rego'), join(dir, 'lib.rego'));
  copyFileSync(join(DEFAULT, 'response', 'response.rego'), join(dir, 'response.rego'));
  copyFileSync(join(EXAMPLE, 'request.rego'), join(dir, 'request.rego'));
  const data = JSON.parse(readFileSync(join(EXAMPLE, 'data.json'), 'utf8')) as Parameters<typeof editData>[0];
  editData(data);
  writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
  return loadPolicy(dir);
}

async function gateway(policy: PolicyEngine): Promise<Gateway> {
  const gw = await startTestGateway(
    upstream.url,
    {
      identity: {
        jwt: { jwks: jwksPath, issuer: 'https://idp.example', audience: 'enclave-gate', algorithms: ['ES256'] },
        apiKeys: { keys: [{ id: 'bank-b-batch', sha256: createHash('sha256').update(BANK_B_KEY).digest('hex') }] },
      },
    },
    { policy },
  );
  gateways.push(gw);
  return gw;
}

async function bankAToken(): Promise<string> {
  return new SignJWT({ party: 'bank-a' }).setProtectedHeader({ alg: 'ES256', kid: 'idp-1' }).setIssuer('https://idp.example').setAudience('enclave-gate').setExpirationTime('5m').sign(signingKey);
}

type Caller = 'bank-a' | 'bank-b';

async function call(gw: Gateway, who: Caller, method: 'GET' | 'POST', path: string, body?: unknown) {
  const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
  agents.push(agent);
  const credential: Record<string, string> = who === 'bank-a' ? { authorization: `Bearer ${await bankAToken()}` } : { 'x-api-key': BANK_B_KEY };
  const res = await request(`${gw.url}${path}`, {
    dispatcher: agent,
    method,
    headers: { ...credential, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

const transaction = (iban?: string) => ({ model: 'fraud-1', tx: { amount: 120.5, ...(iban === undefined ? {} : { iban }) } });

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/inference', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"score":0.03,"usage":{"total_tokens":8}}'));
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
  scratch = mkdtempSync(join(tmpdir(), 'eg-parties-'));
  ({ privateKey: signingKey } = await generateKeyPair('ES256', { extractable: true }));
  const jwk = { ...(await exportJWK(signingKey)), kid: 'idp-1', alg: 'ES256' };
  delete jwk.d;
  jwksPath = join(scratch, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify({ keys: [jwk] }));
}, 120_000);

afterAll(() => closeTestResources({ gateways, agents, upstream, scratch }));

describe('two banks, one model, isolated from each other', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway(await examplePolicy('as-shipped'));
  }, 60_000);

  it('lets bank A send an IBAN to /inference and tells the model server which party called', async () => {
    const res = await call(gw, 'bank-a', 'POST', '/inference', transaction(IBAN));
    expect(res.status).toBe(200);
    expect(upstream.received.at(-1)!.headers['x-enclave-party']).toBe('bank-a');
  });

  it('denies bank B the same IBAN (its entry allows no PII), without echoing the value', async () => {
    const before = upstream.received.length;
    const res = await call(gw, 'bank-b', 'POST', '/inference', transaction(IBAN));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'EG_POLICY_DENIED', reasons: ['pii_detected:iban:/tx/iban'] });
    expect(JSON.stringify(res.json())).not.toContain(IBAN);
    expect(upstream.received.length).toBe(before);
  });

  it('keeps each party to its own routes', async () => {
    expect((await call(gw, 'bank-a', 'GET', '/v1/models')).status).toBe(200);
    const b = await call(gw, 'bank-b', 'GET', '/v1/models');
    expect(b.status).toBe(403);
    expect(b.json()).toMatchObject({ reasons: ['route_not_allowed'] });
  });

  it("rate-limits bank B at its burst of 3 with 429 and retry-after, while bank A's bucket is untouched", async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    // Bank B's earlier denials did not reach its bucket: only allowed requests take from it.
    for (let i = 0; i < 4; i += 1) {
      const res = await call(gw, 'bank-b', 'POST', '/inference', transaction());
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited!.headers['content-type']).toBe('application/problem+json');
    expect(limited!.json()).toMatchObject({ code: 'EG_QUOTA_EXCEEDED', reasons: ['rate_limited:requests'] });
    // 60 per minute: one request back per second.
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited!.headers['retry-after'])).toBeLessThanOrEqual(1);
    expect((await call(gw, 'bank-a', 'POST', '/inference', transaction())).status).toBe(200);
    const metrics = await gw.metrics.registry.getSingleMetricAsString('enclave_gate_party_requests_total');
    expect(metrics).toContain('enclave_gate_party_requests_total{party="bank-b",outcome="rate_limited"} 1');
    expect(metrics).toContain('enclave_gate_party_requests_total{party="bank-b",outcome="allowed"} 3');
    expect(metrics).toMatch(/enclave_gate_party_requests_total\{party="bank-a",outcome="allowed"\} [3-9]/);
  });
});

describe('token-rate limit', () => {
  it("refuses a party once the model's reported usage has emptied its token bucket", async () => {
    const gw = await gateway(
      await examplePolicy('tokens', (data) => {
        data.multi_party.parties['bank-a']!['limits'] = { requests_per_minute: 1000, tokens_per_minute: 20 };
      }),
    );
    const statuses: number[] = [];
    // 8 tokens per answer: 20 → 12 → 4 → -4, then refused until it refills above zero.
    for (let i = 0; i < 4; i += 1) statuses.push((await call(gw, 'bank-a', 'POST', '/inference', transaction())).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await call(gw, 'bank-a', 'POST', '/inference', transaction());
    expect(refused.json()).toMatchObject({ code: 'EG_QUOTA_EXCEEDED', reasons: ['rate_limited:tokens'] });
    // From -4 (plus a little refill) to above zero at 20 per minute: 12 to 15 s.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(10);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(15);
    expect(await gw.metrics.registry.getSingleMetricAsString('enclave_gate_party_tokens_total')).toContain('enclave_gate_party_tokens_total{party="bank-a"} 24');
    expect((await call(gw, 'bank-b', 'POST', '/inference', transaction())).status).toBe(200);
  });
});
