/**
 * The policy contract in docs/schemas/*.schema.json is the one the code keeps:
 * inputs built by the proxy from real HTTPS requests validate against the
 * input schemas, and the decision schema accepts exactly what the decision
 * normaliser accepts (a property test over random decision-like values).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createSimulatedProvider } from '../../../src/evidence/simulated.js';
import { normalizeDecision } from '../../../src/policy/decision.js';
import type { RequestInput } from '../../../src/policy/input.js';
import { buildRequestInput, buildResponseInput } from '../../../src/proxy/input.js';
import { parseRedactions } from '../../../src/proxy/redact.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { PACKAGE_ROOT } from '../../../src/util/package-root.js';
import { hashEntry } from '../../../src/wire/hash-entry.js';

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const schema = (name: string) => ajv.compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'docs', 'schemas', `${name}.schema.json`), 'utf8')) as object);
const requestSchema = schema('request-input');
const responseSchema = schema('response-input');
const decisionSchema = schema('decision');

/** What the policy sees: the input after its JSON round trip into wasm. */
const asPolicySees = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

let server: ReturnType<typeof createServer>;
let url: string;
let agent: Agent;
const built: RequestInput[] = [];

beforeAll(async () => {
  const cert = await issueCertificate({
    provider: createSimulatedProvider(),
    policyHash: hashEntry('sha-384', new Uint8Array([1])),
    keyAlgorithm: 'P-256',
    validitySeconds: 600,
    subjectAltNames: ['localhost'],
    commonName: 'contract-test',
  });
  server = createServer(cert.secureContextOptions(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      built.push(buildRequestInput(req, 'req-1', raw.length > 0 ? { value: JSON.parse(raw.toString()) } : undefined, raw.length));
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://localhost:${(server.address() as AddressInfo).port}`;
  agent = new Agent({ connect: { ca: cert.certPem, servername: 'localhost' } });
});

afterAll(() => {
  server?.close();
});

describe('input schemas', () => {
  it('accept the request inputs the proxy builds from real HTTPS requests', async () => {
    await (await request(`${url}/v1/models/meta-llama%2FLlama?x=1&x=2&empty=`, { dispatcher: agent, headers: { 'X-Mixed-Case': 'v', accept: 'a' } })).body.dump();
    await (
      await request(`${url}/v1/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi ☃' }], n: 1, stream: false, meta: null }),
      })
    ).body.dump();
    expect(built).toHaveLength(2);
    for (const input of built) {
      const ok = requestSchema(asPolicySees(input));
      expect(requestSchema.errors ?? [], JSON.stringify(requestSchema.errors)).toEqual([]);
      expect(ok).toBe(true);
    }
    expect(built[0]!.peer.tls.protocol).toBe('TLSv1.3');
    expect(built[0]!.parsed_query['x']).toEqual(['1', '2']);
  });

  it('accept response inputs for JSON, streams and stream events', () => {
    const base = buildResponseInput(built[1]!, 200, { 'content-type': ['application/json'], 'x-a': 'b' }, {});
    const samples = [
      { ...base, body_format: 'json', body: { choices: [] } },
      { ...base, body_format: 'event-stream' },
      { ...base, body_format: 'ndjson', event: { protocol: 'ollama', index: 3, findings: [{ type: 'email', path: 'stream:message.content', start: 4, end: 20 }] } },
      { ...base, body_format: 'none' },
    ];
    for (const sample of samples) {
      expect(responseSchema(asPolicySees(sample)), JSON.stringify(responseSchema.errors)).toBe(true);
    }
    expect(responseSchema(asPolicySees({ ...base, body_format: 'xml' }))).toBe(false);
  });

  it('reject inputs with unknown keys (the schemas are exact)', () => {
    expect(requestSchema({ ...asPolicySees(built[0]) as object, extra: 1 })).toBe(false);
  });
});

describe('decision schema', () => {
  const headerName = fc.constantFrom('allow', 'x-reason', 'retry-after', 'bad header', 'Ünï', '');
  const headerValue = fc.oneof(fc.string(), fc.constant('a\r\nb'), fc.constant('nul\u0000'), fc.integer());
  const decisionLike = fc.record(
    {
      allow: fc.oneof(fc.boolean(), fc.constant('true'), fc.constant(1)),
      reasons: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }), fc.string()),
      status: fc.oneof(fc.integer({ min: 0, max: 700 }), fc.double({ min: 100, max: 599, noNaN: true }), fc.constant('403')),
      headers: fc.oneof(fc.dictionary(headerName, headerValue, { maxKeys: 3 }), fc.constant(null), fc.array(fc.string())),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  );

  it('accepts exactly the decisions the normaliser accepts', () => {
    fc.assert(
      fc.property(decisionLike, (value) => {
        const bySchema = decisionSchema(value);
        const byCode = normalizeDecision([{ result: value }]).failure === undefined;
        expect(bySchema).toBe(byCode);
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts exactly the rate limits the normaliser accepts', () => {
    const num = fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double({ min: -1, max: 2e9, noNaN: true }), fc.constant('60'), fc.constant(2e9));
    const limit = fc.record(
      {
        key: fc.oneof(fc.constantFrom('bank-a', '', 'x'.repeat(257)), fc.integer()),
        party: fc.constantFrom('bank-a', 'Bank A', 'a.b_c-1', '', 'x'.repeat(65)),
        requests_per_minute: num,
        burst: num,
        tokens_per_minute: num,
        extra: fc.string(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(limit, fc.constant(null), fc.array(fc.integer())), (value) => {
        const decision = { allow: true, reasons: [], rate_limit: value };
        expect(decisionSchema(decision)).toBe(normalizeDecision([{ result: decision }]).failure === undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('describes the redact entries the proxy accepts (overlap is checked by the proxy only)', () => {
    const entry = fc.record(
      {
        path: fc.oneof(fc.constant('/choices/0/message/content'), fc.integer()),
        start: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double({ noNaN: true })),
        end: fc.integer({ min: -1, max: 9 }),
        type: fc.constantFrom('email', 'payment_card', 'Email', '1x', ''),
        extra: fc.string(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(entry, (item) => {
        const bySchema = decisionSchema({ allow: true, reasons: [], redact: [item] });
        let byCode = true;
        try {
          parseRedactions([item]);
        } catch {
          byCode = false;
        }
        // The schema cannot say end > start; where they differ, that is the only reason.
        if (bySchema !== byCode) expect(bySchema && typeof item.start === 'number' && typeof item.end === 'number' && item.end <= item.start).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
