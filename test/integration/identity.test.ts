/**
 * Caller identity end to end (docs/identity.md): the real gateway on a real
 * TLS listener; curl presenting a client certificate issued by an
 * operator-pinned CA (made with the openssl CLI), the OpenAI SDK sending a
 * bearer JWT signed with a key from a JWKS file or HTTPS URL, and API keys.
 * A Rego policy hands what it saw in `input.peer` to the upstream as a
 * header, so the test reads the policy input the proxy really built.
 */
import { execFileSync, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadPolicy, type PolicyEngine } from '../../src/policy/engine.js';
import type { Gateway } from '../../src/proxy/gateway.js';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';
import { startTestGateway, closeTestResources } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const run = promisify(execFile);
const ISSUER = 'https://idp.bank-a.example';
const AUDIENCE = 'enclave-gate';

let upstream: TestUpstream;
let scratch: string;
let echoPolicy: PolicyEngine;
let signingKey: CryptoKey;
let rotatedKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksPath: string;
let publicJwk: JWK;
let rotatedJwk: JWK;
const gateways: Gateway[] = [];
const agents: Dispatcher[] = [];

/** The openssl CLI, quietly. */
function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a client certificate it issued, with SANs, as PEM files in `dir`. */
function makePki(dir: string, name: string, cn: string, org: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, `${name}-${f}`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', `/O=${org}/CN=${org} Root`]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('client.key'), '-out', p('client.csr'), '-subj', `/C=CH/O=${org}/CN=${cn}`]);
  writeFileSync(p('ext.cnf'), `subjectAltName=DNS:${cn}.internal,URI:spiffe://${org.toLowerCase().replace(/ /g, '-')}/fraud,IP:10.0.0.7\nextendedKeyUsage=clientAuth\n`);
  openssl(['x509', '-req', '-in', p('client.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('client.pem'), '-days', '1', '-extfile', p('ext.cnf')]);
  return { ca: p('ca.pem'), cert: p('client.pem'), key: p('client.key') };
}

async function token(key: CryptoKey, kid: string, claims: Record<string, unknown> = {}, edit: (jwt: SignJWT) => SignJWT = (j) => j): Promise<string> {
  const jwt = new SignJWT({ party: 'bank-a', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('analyst-7')
    .setIssuedAt()
    .setExpirationTime('5m');
  return edit(jwt).sign(key);
}

function agentFor(gw: Gateway): Dispatcher {
  const agent = new Agent({ connect: { ca: gw.certificate.certPem, servername: 'localhost' } });
  agents.push(agent);
  return agent;
}

async function gateway(overrides: Record<string, unknown>): Promise<Gateway> {
  const gw = await startTestGateway(upstream.url, overrides, { policy: echoPolicy });
  gateways.push(gw);
  return gw;
}

/** What the policy saw in input.peer, as the echo policy forwarded it. */
function lastPeer(): Record<string, unknown> {
  return JSON.parse(String(upstream.received.at(-1)!.headers['x-peer-identity'])) as Record<string, unknown>;
}

async function get(gw: Gateway, headers: Record<string, string> = {}) {
  const res = await request(`${gw.url}/v1/models`, { dispatcher: agentFor(gw), headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}'));
  upstream.route('/v1/chat/completions', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'fraud-1',
        choices: [{ index: 0, message: { role: 'assistant', content: 'score 0.02' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      }),
    );
  });
  scratch = mkdtempSync(join(tmpdir(), 'eg-identity-'));
  const dir = join(scratch, 'echo');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'request.rego'),
    [
      'package enclave_gate.request',
      '',
      'seen := json.marshal(object.filter(input.peer, ["certificate", "jwt", "api_key"]))',
      '',
      'decision := {"allow": true, "reasons": [], "headers": {"x-peer-identity": seen}}',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'response.rego'), 'package enclave_gate.response\n\ndecision := {"allow": true, "reasons": []}\n');
  echoPolicy = await loadPolicy(dir);
  [{ privateKey: signingKey }, { privateKey: rotatedKey }, { privateKey: strangerKey }] = await Promise.all([
    generateKeyPair('ES256', { extractable: true }),
    generateKeyPair('ES256', { extractable: true }),
    generateKeyPair('ES256', { extractable: true }),
  ]);
  publicJwk = { ...(await exportJWK(signingKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  delete publicJwk.d;
  rotatedJwk = { ...(await exportJWK(rotatedKey)), kid: 'k2', alg: 'ES256', use: 'sig' };
  delete rotatedJwk.d;
  jwksPath = join(scratch, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify({ keys: [publicJwk] }));
}, 120_000);

afterAll(() => closeTestResources({ gateways, agents, upstream, scratch }));

const jwtConfig = () => ({ jwks: jwksPath, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwksCooldownSeconds: 0 });

describe('bearer JWTs (OpenAI SDK against the real listener)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ identity: { require: ['jwt'], jwt: jwtConfig() } });
  });

  const client = (apiKey: string) => {
    const dispatcher = agentFor(gw);
    return new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey,
      maxRetries: 0,
      fetch: ((url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch,
    });
  };

  it('puts the verified claims in input.peer.jwt', async () => {
    const completion = await client(await token(signingKey, 'k1')).chat.completions.create({ model: 'fraud-1', messages: [{ role: 'user', content: 'score tx 42' }] });
    expect(completion.choices[0]!.message.content).toBe('score 0.02');
    const peer = lastPeer();
    expect(peer['jwt']).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: 'analyst-7', party: 'bank-a' });
    expect(peer).not.toHaveProperty('certificate');
  });

  it('refuses an expired token with 401 EG_UNAUTHENTICATED and never forwards it', async () => {
    const before = upstream.received.length;
    const expired = await token(signingKey, 'k1', {}, (j) => j.setIssuedAt(Math.floor(Date.now() / 1000) - 3600).setExpirationTime(Math.floor(Date.now() / 1000) - 600));
    const err = await client(expired)
      .chat.completions.create({ model: 'fraud-1', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const apiErr = err as InstanceType<typeof OpenAI.AuthenticationError>;
    expect(apiErr.status).toBe(401);
    // The SDK reads only an OpenAI-shaped `error` member; the problem+json body is checked with a plain client.
    expect(apiErr.headers.get('content-type')).toBe('application/problem+json');
    const raw = await get(gw, { authorization: `Bearer ${expired}` });
    expect(raw.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: ['jwt_expired'] });
    expect(apiErr.headers.get('www-authenticate')).toContain('invalid_token');
    expect(upstream.received.length).toBe(before);
  });

  it.each([
    ['a wrong audience', (k: CryptoKey) => token(k, 'k1', {}, (j) => j.setAudience('someone-else')), 'jwt_claim_invalid:aud'],
    ['a wrong issuer', (k: CryptoKey) => token(k, 'k1', {}, (j) => j.setIssuer('https://evil.example')), 'jwt_claim_invalid:iss'],
    ['a future nbf', (k: CryptoKey) => token(k, 'k1', {}, (j) => j.setNotBefore('10m')), 'jwt_claim_invalid:nbf'],
    ['an unknown key', (_k: CryptoKey) => token(strangerKey, 'k9'), 'jwt_key_unknown'],
    ['a forged signature (right kid, other key)', (_k: CryptoKey) => token(strangerKey, 'k1'), 'jwt_signature_invalid'],
    ['garbage', async () => 'not.a.jwt', 'jwt_malformed'],
  ])('refuses %s with a stable reason', async (_what, make, reason) => {
    const res = await get(gw, { authorization: `Bearer ${await make(signingKey)}` });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: [reason] });
  });

  it('refuses an HS256 token even if its secret were the public key (algorithm allow-list)', async () => {
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    const res = await get(gw, { authorization: `Bearer ${hs}` });
    expect(res.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: ['jwt_algorithm_not_allowed'] });
  });

  it('refuses a request without a token when jwt is required', async () => {
    const res = await get(gw);
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: ['credential_missing:jwt'] });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="enclave-gate"');
  });

  it('picks up a rotated key from the JWKS file when a token names it', async () => {
    const before = (await get(gw, { authorization: `Bearer ${await token(rotatedKey, 'k2')}` })).json();
    expect(before).toMatchObject({ reasons: ['jwt_key_unknown'] });
    writeFileSync(jwksPath, JSON.stringify({ keys: [publicJwk, rotatedJwk] }));
    const after = await get(gw, { authorization: `Bearer ${await token(rotatedKey, 'k2', { party: 'bank-b' })}` });
    expect(after.status).toBe(200);
    expect(lastPeer()['jwt']).toMatchObject({ party: 'bank-b' });
  });
});

describe('JWKS from an HTTPS URL', () => {
  let jwksServer: Server;
  let fetches = 0;
  afterAll(() => void jwksServer?.close());

  it('fetches the key set once, caches it, and verifies tokens with it', async () => {
    const tls = join(scratch, 'jwks-server');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${tls}.key`, '-out', `${tls}.pem`, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
    jwksServer = createServer({ key: readFileSync(`${tls}.key`), cert: readFileSync(`${tls}.pem`) }, (_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    jwksServer.listen(0, '127.0.0.1');
    await once(jwksServer, 'listening');
    const url = `https://localhost:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const gw = await gateway({ identity: { jwt: { ...jwtConfig(), jwks: url, jwksCa: `${tls}.pem` } } });
    for (let i = 0; i < 3; i += 1) {
      const res = await get(gw, { authorization: `Bearer ${await token(signingKey, 'k1', { n: i })}` });
      expect(res.status).toBe(200);
    }
    expect(lastPeer()['jwt']).toMatchObject({ n: 2 });
    expect(fetches).toBe(1);
    // Optional jwt: a request without a token reaches the policy with no jwt.
    expect((await get(gw)).status).toBe(200);
    expect(lastPeer()).toEqual({});
  });
});

describe('client certificates from a pinned CA (curl)', () => {
  let gw: Gateway;
  let bankA: ReturnType<typeof makePki>;
  let rogue: ReturnType<typeof makePki>;
  let gwPem: string;
  beforeAll(async () => {
    bankA = makePki(scratch, 'bank-a', 'fraud-client', 'Bank A');
    rogue = makePki(scratch, 'rogue', 'fraud-client', 'Bank A');
    gw = await gateway({ tls: { clientCAs: [bankA.ca] } });
    gwPem = join(scratch, 'gateway.pem');
    writeFileSync(gwPem, gw.certificate.certPem);
  });

  const curl = async (cert?: { cert: string; key: string }) => {
    const port = new URL(gw.url).port;
    const args = ['-sS', '--cacert', gwPem, '--resolve', `localhost:${port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_code}'];
    if (cert) args.push('--cert', cert.cert, '--key', cert.key);
    const { stdout } = await run('curl', [...args, `https://localhost:${port}/v1/models`]);
    return Number(stdout);
  };

  it('puts subject, SANs and fingerprint in input.peer.certificate', async () => {
    expect(await curl(bankA)).toBe(200);
    const der = Buffer.from(readFileSync(bankA.cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(lastPeer()['certificate']).toEqual({
      subject: 'C=CH,O=Bank A,CN=fraud-client',
      common_name: 'fraud-client',
      organization: 'Bank A',
      issuer: 'O=Bank A,CN=Bank A Root',
      sans: { dns: ['fraud-client.internal'], ip: ['10.0.0.7'], uri: ['spiffe://bank-a/fraud'], email: [] },
      fingerprint: createHash('sha256').update(der).digest('hex'),
      serial: expect.stringMatching(/^[0-9A-F]+$/),
      not_before: expect.any(String),
      not_after: expect.any(String),
    });
  });

  it('does not take a look-alike certificate from another CA as an identity', async () => {
    expect(await curl(rogue)).toBe(200);
    expect(lastPeer()).toEqual({});
    expect(await curl()).toBe(200);
    expect(lastPeer()).toEqual({});
  });

  it('refuses a missing or untrusted certificate when certificate is required', async () => {
    const strict = await gateway({ tls: { clientCAs: [readFileSync(bankA.ca, 'utf8')] }, identity: { require: ['certificate'] } });
    const res = await request(`${strict.url}/v1/models`, { dispatcher: agentFor(strict) });
    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: ['credential_missing:certificate'] });
    const rogueAgent = new Agent({ connect: { ca: strict.certificate.certPem, servername: 'localhost', cert: readFileSync(rogue.cert), key: readFileSync(rogue.key) } });
    agents.push(rogueAgent);
    const res2 = await request(`${strict.url}/v1/models`, { dispatcher: rogueAgent });
    expect(res2.statusCode).toBe(401);
    expect(await res2.body.json()).toMatchObject({ reasons: ['client_certificate_untrusted'] });
  });

  it('keeps pinned CAs across a certificate rotation', async () => {
    await gw.rotateCertificate();
    writeFileSync(gwPem, gw.certificate.certPem);
    expect(await curl(bankA)).toBe(200);
    expect(lastPeer()['certificate']).toMatchObject({ common_name: 'fraud-client' });
  });
});

describe('API keys', () => {
  const key = 'egk_live_7f3c9a1d2b';
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ identity: { apiKeys: { keys: [{ id: 'bank-b-batch', sha256: createHash('sha256').update(key).digest('hex') }, { id: 'other', sha256: 'ab'.repeat(32) }] } } });
  });

  it('names the matching key by id only', async () => {
    expect((await get(gw, { 'x-api-key': key })).status).toBe(200);
    expect(lastPeer()).toEqual({ api_key: { id: 'bank-b-batch' } });
  });

  it('refuses an unknown key with 401', async () => {
    const res = await get(gw, { 'x-api-key': `${key}x` });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'EG_UNAUTHENTICATED', reasons: ['api_key_unknown'] });
    expect(JSON.stringify(res.json())).not.toContain(key);
  });
});

describe('policy input contract', () => {
  it('the identities the proxy built validate against docs/schemas/request-input.schema.json', () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    const schema = ajv.compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'docs', 'schemas', 'request-input.schema.json'), 'utf8')) as object);
    const peerSchema = ajv.compile({ ...(schema.schema as { properties: { peer: object } }).properties.peer, required: [] });
    const seen = upstream.received.filter((r) => r.headers['x-peer-identity'] !== undefined).map((r) => JSON.parse(String(r.headers['x-peer-identity'])) as object);
    expect(seen.some((p) => 'certificate' in p) && seen.some((p) => 'jwt' in p) && seen.some((p) => 'api_key' in p)).toBe(true);
    for (const peer of seen) expect(peerSchema(peer), JSON.stringify(peerSchema.errors)).toBe(true);
  });
});
